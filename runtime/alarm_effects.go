package runtime

// SetAlarm, CancelAlarm and ListAlarms implement host.Effects; see alarm.go.
func (t *turn) SetAlarm(envelope []byte) (uint64, error) { return t.setAlarm(envelope) }
func (t *turn) CancelAlarm(id uint64) (bool, error)      { return t.cancelAlarm(id) }
func (t *turn) ListAlarms(dst []byte) ([]byte, error)    { return t.listAlarms(dst) }
