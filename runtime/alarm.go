package runtime

import "github.com/callhost/callhost"

// errAlarmsNotImplemented is the error of every alarm import until the
// runtime schedules alarms.
var errAlarmsNotImplemented = callhost.Errorf(callhost.CodeInternal, "alarms are not implemented")

// setAlarm stages the alarm of an alarm envelope; see docs/abi.md.
func (t *turn) setAlarm([]byte) (uint64, error) { return 0, errAlarmsNotImplemented }

// cancelAlarm stages the cancellation of an alarm of the turn's object.
func (t *turn) cancelAlarm(uint64) (bool, error) { return false, errAlarmsNotImplemented }

// listAlarms appends the turn's view of the object's alarms to dst.
func (t *turn) listAlarms(dst []byte) ([]byte, error) { return dst, errAlarmsNotImplemented }
