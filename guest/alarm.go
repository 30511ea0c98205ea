package guest

import (
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
)

// Alarm is one of the object's alarms, as [Ctx.Alarms] returns it.
type Alarm struct {
	ID      uint64
	At      time.Time // when the alarm is due, to the millisecond
	Handler string    // the handler the alarm runs
}

// SetAlarm schedules an alarm: at time at, the handler that then names runs
// on this object as a new turn, with then's arguments as bound. It returns
// the alarm's id, which the alarm's turn reports as [Ctx.CallID]. at is
// rounded up to a whole millisecond; an alarm whose time has passed is due at
// once. An object may hold any number of alarms.
//
// The alarm is staged like a call: it is set only if this turn succeeds. If
// the alarm's own turn fails, the host runs it again a bounded number of
// times (docs/abi.md, "Alarms").
//
// SetAlarm fails with bad_request when then is nil or its arguments contain
// a [Placeholder], [Prev] or an [Operation], because an alarm has no outcome
// to fill in. It fails with forbidden when then was made by [ThenOn] for
// another object, and with not_found when then names a handler that is not
// registered.
func (c *Ctx) SetAlarm(at time.Time, then *Continuation) (uint64, error) {
	if !c.active {
		return 0, errTurnEnded
	}
	if at.IsZero() {
		return 0, badRequest("guest: alarm time is the zero time.Time")
	}
	if err := c.checkAlarm(then); err != nil {
		return 0, err
	}
	d := c.d
	env, err := abi.AppendAlarm(d.callBuf[:0], ceilUnixMilli(at), then.handler, then.args)
	d.callBuf = env
	if err != nil {
		return 0, badRequest("guest: encode alarm for handler %q: %v", then.handler, err)
	}
	var alarm abi.Alarm
	if err := abi.DecodeAlarm(env, &alarm); err != nil {
		return 0, internalError("decode own alarm envelope: %v", err)
	}
	if err := abi.CheckAlarmArgs(alarm.Args); err != nil {
		return 0, badRequest("guest: alarm for handler %q: %s", then.handler,
			callhost.AsError(err).Message)
	}
	return d.setAlarm(env)
}

// SetAlarmAfter is [Ctx.SetAlarm] for the time d from now by the guest's
// clock. It fails with bad_request when d is negative.
func (c *Ctx) SetAlarmAfter(d time.Duration, then *Continuation) (uint64, error) {
	if d < 0 {
		return 0, badRequest("guest: invalid alarm delay %v: must not be negative", d)
	}
	return c.SetAlarm(time.Now().Add(d), then)
}

// CancelAlarm cancels alarm id of this object and reports whether it
// existed. Like a write, the cancellation takes effect only if this turn
// succeeds. An alarm that has started running, was cancelled before or
// belongs to another object does not exist for CancelAlarm.
func (c *Ctx) CancelAlarm(id uint64) (bool, error) {
	if !c.active {
		return false, errTurnEnded
	}
	switch rc := c.d.host.alarmCancel(id); rc {
	case 1:
		return true, nil
	case 0:
		return false, nil
	case abi.ResultFailed:
		return false, c.d.importError("alarm_cancel")
	default:
		return false, internalError("alarm_cancel returned %d", rc)
	}
}

// Alarms returns this object's alarms, earliest first. The list includes the
// alarms set and cancelled earlier in this turn, and leaves out an alarm from
// the moment it starts running.
func (c *Ctx) Alarms() ([]Alarm, error) {
	if !c.active {
		return nil, errTurnEnded
	}
	d := c.d
	out, n, err := copyOut("alarm_list", &d.listBuf, d.host.alarmList)
	switch {
	case err != nil:
		return nil, err
	case n == abi.ResultFailed:
		return nil, d.importError("alarm_list")
	case n < 0:
		return nil, internalError("alarm_list returned %d", n)
	}
	entries, err := abi.DecodeAlarmList(out)
	if err != nil {
		return nil, internalError("alarm_list returned a malformed list: %v", err)
	}
	alarms := make([]Alarm, len(entries))
	for i, e := range entries {
		alarms[i] = Alarm{ID: e.ID, At: time.UnixMilli(e.At), Handler: e.Handler}
	}
	return alarms, nil
}

// Alarm reports whether this turn runs an alarm set with [Ctx.SetAlarm]. An
// alarm turn has no caller and no hops, and [Ctx.CallID] is the alarm's id.
func (c *Ctx) Alarm() bool { return c.kind == abi.KindAlarm }

// checkAlarm checks the continuation of an alarm before it is encoded.
func (c *Ctx) checkAlarm(then *Continuation) error {
	if then == nil {
		return badRequest("guest: an alarm needs a continuation to run")
	}
	if !then.object.IsZero() && then.object != c.Self() {
		return callhost.Errorf(callhost.CodeForbidden, "guest: alarm continuation names "+
			"object %s, but an alarm runs only on the object that sets it, %s",
			then.object, c.Self())
	}
	if c.d.reg.byName[then.handler] == nil {
		return callhost.Errorf(callhost.CodeNotFound,
			"guest: alarm handler %q is not registered", then.handler)
	}
	return nil
}

// setAlarm passes an alarm envelope to the alarm_set import.
func (d *dispatcher) setAlarm(env []byte) (uint64, error) {
	id := d.host.alarmSet(env)
	switch {
	case id == abi.ResultFailed:
		return 0, d.importError("alarm_set")
	case id < 1:
		return 0, internalError("alarm_set returned %d", id)
	}
	return uint64(id), nil
}

// ceilUnixMilli returns t as Unix milliseconds, rounded up, so that an alarm
// is never due before t.
func ceilUnixMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}
