package runtime

import (
	"sort"
	"sync"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/store"
)

// alarmTick is how often the scheduler looks for due alarms when nothing
// wakes it earlier.
const alarmTick = 20 * time.Millisecond

// alarmScheduler fires due alarms. An alarm fires by one commit that deletes
// it and stores a message that runs its handler, so it runs once per
// scheduling. A failed alarm turn schedules a retry under the same id.
type alarmScheduler struct {
	mu     sync.Mutex
	firing map[uint64]bool // alarms whose firing commit has not completed
	// fired maps the alarms whose firing committed recently to the value of
	// commits after that commit. A scan of due alarms that started before
	// the commit may still list the alarm, and must not fire it again.
	fired   map[uint64]uint64
	commits uint64 // firing commits completed
	wake    chan struct{}
}

func (a *alarmScheduler) init() {
	a.firing = make(map[uint64]bool)
	a.fired = make(map[uint64]uint64)
	a.wake = make(chan struct{}, 1)
}

func (a *alarmScheduler) run(rt *Runtime) {
	ticker := time.NewTicker(alarmTick)
	defer ticker.Stop()
	for {
		select {
		case <-rt.ctx.Done():
			return
		case <-ticker.C:
		case <-a.wake:
		}
		rt.fireDue()
	}
}

// fireAlarmsSoon wakes the scheduler when a run added alarms.
func (rt *Runtime) fireAlarmsSoon(r *runEffects) {
	if len(r.batch.AlarmsAdd) == 0 {
		return
	}
	select {
	case rt.alarms.wake <- struct{}{}:
	default:
	}
}

// fireDue fires the alarms that are due. Only the scheduler's goroutine calls
// it, so scans never overlap.
func (rt *Runtime) fireDue() {
	a := &rt.alarms
	a.mu.Lock()
	scan := a.commits
	a.mu.Unlock()
	due, err := rt.store.DueAlarms(rt.ctx, time.Now(), 1000)
	if err != nil {
		rt.warns.warn("read due alarms", "error", err)
		return
	}
	for _, al := range due {
		rt.fire(al, scan)
	}
	// Later scans start after the commits counted in scan.
	a.mu.Lock()
	for id, n := range a.fired {
		if n <= scan {
			delete(a.fired, id)
		}
	}
	a.mu.Unlock()
}

// fire commits the firing of one alarm and queues its turn. scan is the
// count of firing commits when the list that al came from was read.
func (rt *Runtime) fire(al store.Alarm, scan uint64) {
	a := &rt.alarms
	a.mu.Lock()
	if a.firing[al.ID] || a.fired[al.ID] > scan {
		a.mu.Unlock()
		return
	}
	c := rt.class(al.Object.Class)
	if c == nil {
		a.mu.Unlock()
		return // fires once its class loads
	}
	a.firing[al.ID] = true
	a.mu.Unlock()

	msg, err := alarmMessage(al)
	b := &store.Batch{AlarmsDel: []uint64{al.ID}}
	if err != nil {
		rt.log.Error("alarm dropped: record does not decode", "alarm_id", al.ID,
			"object", al.Object.String(), "error", err)
		msg = nil
	} else if rt.durable {
		msg.seq = rt.nextID.Add(1)
		b.Messages = append(b.Messages,
			store.Message{Seq: msg.seq, To: msg.to,
				Data: encodeMessage(msg, abi.AppendHops(nil, msg.hops))})
	}
	rt.commitAlone(b, func(err error) {
		a.mu.Lock()
		delete(a.firing, al.ID)
		if err == nil {
			a.commits++
			a.fired[al.ID] = a.commits
		}
		a.mu.Unlock()
		// After a failed commit the alarm is still stored and due, so a
		// later scan fires it again.
		if err == nil && msg != nil {
			rt.enqueueRecovered(msg.to, c, msg)
		}
	})
}

// retryAlarm schedules the next attempt of a failed alarm turn, or reports
// the alarm as failed after Options.AlarmAttempts attempts.
func (rt *Runtime) retryAlarm(r *runEffects, msg *message, err *callhost.Error) {
	attempt := msg.attempt + 1
	if attempt >= rt.opts.AlarmAttempts {
		rt.log.Error("alarm failed", "alarm_id", msg.callID, "object", r.obj.addr.String(),
			"handler", msg.handler, "attempts", attempt, "code", err.Code.String(),
			"error", err.Message)
		return
	}
	backoff := rt.opts.AlarmBackoff << (attempt - 1)
	r.batch.AlarmsAdd = append(r.batch.AlarmsAdd, store.Alarm{
		ID:     msg.callID,
		Object: r.obj.addr,
		At:     time.Now().Add(backoff),
		Data:   encodeAlarm(msg.handler, msg.args, attempt),
	})
	rt.warns.warn("alarm turn failed; retrying", "alarm_id", msg.callID,
		"object", r.obj.addr.String(), "attempt", attempt, "retry_in", backoff,
		"code", err.Code.String(), "error", err.Message)
}

// encodeAlarm returns the stored data of an alarm.
func encodeAlarm(handler string, args []byte, attempt int) []byte {
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendUint(b, recordFormat)
	b = msgp.AppendString(b, handler)
	b = msgp.AppendBytes(b, args)
	return msgp.AppendUint(b, uint64(attempt))
}

func decodeAlarm(data []byte) (handler string, args []byte, attempt int, err error) {
	r := msgp.NewReader(data)
	var a uint64
	err = readRecord(&r, "alarm",
		func() (err error) { handler, err = r.ReadString(); return },
		func() (err error) { args, err = readOwnedBytes(&r); return },
		func() (err error) { a, err = r.ReadUint(); return },
	)
	return handler, args, int(a), err
}

func alarmMessage(al store.Alarm) (*message, error) {
	handler, args, attempt, err := decodeAlarm(al.Data)
	if err != nil {
		return nil, err
	}
	return &message{
		kind:    msgAlarm,
		callID:  al.ID,
		handler: handler,
		args:    args,
		attempt: attempt,
		to:      al.Object,
	}, nil
}

// setAlarm stages the alarm of an alarm envelope; see docs/abi.md.
func (t *turn) setAlarm(envelope []byte) (uint64, error) {
	var a abi.Alarm
	if err := abi.DecodeAlarm(envelope, &a); err != nil {
		return 0, callhost.Errorf(callhost.CodeBadRequest, "alarm envelope: %v", err)
	}
	if err := t.rt.limits.CheckAlarmArgs(a.Args); err != nil {
		return 0, err
	}
	if _, ok := t.obj.class.module.Handler(a.Handler); !ok {
		return 0, callhost.Errorf(callhost.CodeNotFound,
			"alarm handler %q not found in class %q", a.Handler, t.obj.class.name)
	}
	id := t.rt.nextID.Add(1)
	t.alarmsAdd = append(t.alarmsAdd, store.Alarm{
		ID:     id,
		Object: t.obj.addr,
		At:     time.UnixMilli(a.At),
		Data:   encodeAlarm(a.Handler, append([]byte(nil), a.Args...), 0),
	})
	return id, nil
}

// cancelAlarm stages the cancellation of an alarm of the turn's object.
func (t *turn) cancelAlarm(id uint64) (bool, error) {
	for i, a := range t.alarmsAdd {
		if a.ID == id {
			t.alarmsAdd = append(t.alarmsAdd[:i], t.alarmsAdd[i+1:]...)
			return true, nil
		}
	}
	alarms, err := t.visibleAlarms()
	if err != nil {
		return false, err
	}
	for _, a := range alarms {
		if a.ID == id {
			t.alarmsDel = append(t.alarmsDel, id)
			return true, nil
		}
	}
	return false, nil
}

// listAlarms appends the turn's view of the object's alarms to dst.
func (t *turn) listAlarms(dst []byte) ([]byte, error) {
	alarms, err := t.visibleAlarms()
	if err != nil {
		return dst, err
	}
	alarms = append(alarms, t.alarmsAdd...)
	sort.Slice(alarms, func(i, j int) bool {
		if !alarms[i].At.Equal(alarms[j].At) {
			return alarms[i].At.Before(alarms[j].At)
		}
		return alarms[i].ID < alarms[j].ID
	})
	entries := make([]abi.AlarmEntry, 0, len(alarms))
	for _, a := range alarms {
		handler, _, _, err := decodeAlarm(a.Data)
		if err != nil {
			continue
		}
		entries = append(entries, abi.AlarmEntry{ID: a.ID, At: a.At.UnixMilli(), Handler: handler})
	}
	return abi.AppendAlarmList(dst, entries), nil
}

// visibleAlarms returns the object's alarms that a guest may list or cancel:
// stored ones and those of earlier turns of the run, minus cancelled ones and
// retries of failed alarm turns.
func (t *turn) visibleAlarms() ([]store.Alarm, error) {
	stored, err := t.rt.store.Alarms(t.rt.ctx, t.obj.addr)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeInternal, "storage alarms: %v", err)
	}
	cancelled := func(id uint64) bool {
		if t.effects.alarmsDel[id] {
			return true
		}
		for _, d := range t.alarmsDel {
			if d == id {
				return true
			}
		}
		return false
	}
	var out []store.Alarm
	add := func(a store.Alarm) {
		if _, _, attempt, err := decodeAlarm(a.Data); err != nil || attempt > 0 {
			return
		}
		if !cancelled(a.ID) {
			out = append(out, a)
		}
	}
	for _, a := range stored {
		if _, ok := t.effects.alarmsAdd[a.ID]; !ok {
			add(a)
		}
	}
	for _, a := range t.effects.alarmsAdd {
		add(a)
	}
	return out, nil
}

// addAlarms adds the alarms the turn set and cancelled to the run.
func (r *runEffects) addAlarms(t *turn) {
	for _, a := range t.alarmsAdd {
		r.batch.AlarmsAdd = append(r.batch.AlarmsAdd, a)
		if r.alarmsAdd == nil {
			r.alarmsAdd = make(map[uint64]store.Alarm)
		}
		r.alarmsAdd[a.ID] = a
	}
	for _, id := range t.alarmsDel {
		r.batch.AlarmsDel = append(r.batch.AlarmsDel, id)
		if r.alarmsDel == nil {
			r.alarmsDel = make(map[uint64]bool)
		}
		r.alarmsDel[id] = true
		delete(r.alarmsAdd, id)
	}
}
