package abi

import "github.com/callhost/callhost/internal/msgp"

// Alarm is a decoded alarm envelope, the input of the alarm_set import. Args
// aliases the decoded input.
type Alarm struct {
	At      int64 // Unix time in milliseconds
	Handler string
	Args    []byte // encoded array
}

// AlarmEntry is one element of the alarm_list output.
type AlarmEntry struct {
	ID      uint64
	At      int64 // Unix time in milliseconds
	Handler string
}

// AppendAlarm appends the alarm envelope [at, handler, args]. It does not
// check args for extension values: see [CheckAlarmArgs].
func AppendAlarm(b []byte, at int64, handler string, args []any) ([]byte, error) {
	b = msgp.AppendArrayHeader(b, 3)
	b = msgp.AppendInt(b, at)
	b = msgp.AppendString(b, handler)
	b = msgp.AppendArrayHeader(b, len(args))
	var err error
	for _, a := range args {
		if b, err = msgp.Append(b, a); err != nil {
			return b, err
		}
	}
	return b, nil
}

// DecodeAlarm decodes the structure of an alarm envelope into a. It does not
// check the arguments: see [CheckAlarmArgs].
func DecodeAlarm(b []byte, a *Alarm) error {
	r := msgp.NewReader(b)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	if n < 3 {
		return errorf("alarm envelope has %d elements, want 3", n)
	}
	if a.At, err = r.ReadInt(); err != nil {
		return err
	}
	if a.Handler, err = r.ReadString(); err != nil {
		return err
	}
	if a.Args, err = r.ReadRaw(); err != nil {
		return err
	}
	return skipN(&r, n-3)
}

// CheckAlarmArgs checks args within [DefaultLimits]; see
// [Limits.CheckAlarmArgs].
func CheckAlarmArgs(args []byte) error { return DefaultLimits.CheckAlarmArgs(args) }

// CheckAlarmArgs checks that args is one array within the nesting limit that
// holds no extension values: an alarm's arguments reach its handler as bound.
func (l Limits) CheckAlarmArgs(args []byte) error {
	r := msgp.NewReader(args)
	if r.NextType() != msgp.TypeArray {
		return errorf("alarm arguments are not an array")
	}
	err := l.scan(&r, 1, func(typ int8, _ []byte, _ int) error {
		return errorf("alarm arguments hold extension type %d; "+
			"placeholders and operations are not allowed in alarms", typ)
	})
	if err == nil && r.Len() != 0 {
		err = errorf("alarm arguments have %d trailing bytes", r.Len())
	}
	return err
}

// AppendAlarmList appends the alarm_list output: an array of [id, at, handler].
func AppendAlarmList(b []byte, alarms []AlarmEntry) []byte {
	b = msgp.AppendArrayHeader(b, len(alarms))
	for _, a := range alarms {
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendUint(b, a.ID)
		b = msgp.AppendInt(b, a.At)
		b = msgp.AppendString(b, a.Handler)
	}
	return b
}

// DecodeAlarmList decodes the alarm_list output.
func DecodeAlarmList(b []byte) ([]AlarmEntry, error) {
	r := msgp.NewReader(b)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return nil, err
	}
	alarms := make([]AlarmEntry, 0, n)
	for i := 0; i < n; i++ {
		a, err := readAlarmEntry(&r)
		if err != nil {
			return nil, err
		}
		alarms = append(alarms, a)
	}
	return alarms, nil
}

func readAlarmEntry(r *msgp.Reader) (AlarmEntry, error) {
	var a AlarmEntry
	m, err := r.ReadArrayHeader()
	if err == nil && m < 3 {
		err = errorf("alarm list entry has %d elements, want 3", m)
	}
	if err == nil {
		a.ID, err = r.ReadUint()
	}
	if err == nil {
		a.At, err = r.ReadInt()
	}
	if err == nil {
		a.Handler, err = r.ReadString()
	}
	if err == nil {
		err = skipN(r, m-3)
	}
	return a, err
}
