package runtime

import (
	"slices"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

// runEffects collects what the turns of one run of an object do, or, with no
// object, what one outcome delivered outside a run does. A run is up
// to Options.MaxBatch turns of one object on one instance. Its effects go to the
// store as one batch, and only once the store reports the batch durable does
// anything become visible to other objects and callers. Until then the object
// is not scheduled again, so every turn reads the effects of the turns before
// it: from the run's overlay within the run, from the store after it. The
// object's next run may start before this run's calls and outcomes are
// delivered, and the runs' deliveries keep their commit order.
type runEffects struct {
	rt    *Runtime
	obj   *object
	batch store.Batch
	ran   int // messages run, counted in Runtime.active until the effects apply

	writes    writeSet // latest write of each key in this run; becomes batch.Writes
	alarmsAdd map[uint64]store.Alarm
	alarmsDel map[uint64]bool

	// Calls of the run's turns, built into sends and pendings when the
	// effects apply, or at once with a durable store.
	staged []stagedCall
	arena  []byte       // the operations and continuation arguments of staged
	bufs   *callBuffers // the holder of staged and arena when taken from a turn

	pendings  []*pending // calls made with a continuation, keyed by their id
	sends     []*message // invokes to deliver
	conts     []*message // continuations to queue on their callers
	callbacks []callback // outcomes for callers outside the runtime

	// The state a failed commit restores: the messages the run consumed and
	// the pending calls whose outcomes it delivered.
	inputs  []*message
	settled []*pending

	outcome []byte // scratch for encoding the outcomes of continuations
	// Hops lists of the durable records of the run's messages and pending
	// calls. The two differ: a call's message carries its turn's hops plus
	// the caller, its pending call the turn's.
	msgHops, pendingHops hopsCache
}

// callback is an outcome for a caller outside the runtime.
type callback struct {
	p     *pending
	value []byte
	err   *callhost.Error
}

func newRun(rt *Runtime, o *object) *runEffects {
	return &runEffects{rt: rt, obj: o}
}

// empty reports whether the run has nothing to commit or apply.
func (r *runEffects) empty() bool {
	return r.batch.Empty() && len(r.sends) == 0 && len(r.staged) == 0 &&
		len(r.conts) == 0 && len(r.callbacks) == 0 && len(r.pendings) == 0
}

// consume records that the turn for msg ran, whatever its outcome.
func (r *runEffects) consume(msg *message) {
	r.ran++
	r.inputs = append(r.inputs, msg)
	if msg.seq != 0 {
		r.batch.Consumed = append(r.batch.Consumed, msg.seq)
	}
}

// addTurn adds the effects of a turn that succeeded.
func (r *runEffects) addTurn(t *turn) {
	for _, w := range t.writes.list {
		w.Object = r.obj.addr
		r.writes.set(w)
	}
	if len(t.calls) > 0 {
		now := time.Now()
		for i := range t.calls {
			t.calls[i].deadline = now.Add(t.calls[i].timeout)
		}
		if r.rt.durable {
			// The batch records the messages and pending entries, so they
			// are built now.
			r.sends = slices.Grow(r.sends, len(t.calls))
			for i := range t.calls {
				r.addCall(t.calls[i].build(r.rt, r.obj.addr, t.arena))
			}
		} else if len(r.staged) == 0 {
			r.takeCalls(t)
		} else {
			base := len(r.arena)
			r.arena = append(r.arena, t.arena...)
			r.staged = slices.Grow(r.staged, len(t.calls))
			for _, c := range t.calls {
				c.offset += base
				r.staged = append(r.staged, c)
			}
		}
	}
	r.addAlarms(t)
}

// callBuffers holds a staged call list and its arena while they wait in
// Runtime.callBufs for a turn to reuse them.
type callBuffers struct {
	calls []stagedCall
	arena []byte
}

// takeCalls moves the staged calls of t, the run's first turn with calls,
// into the run without copying them, and gives t empty buffers from
// Runtime.callBufs in their place. A turn that fans out stages many calls of
// 176 bytes each, which the run would otherwise copy into a growing list.
func (r *runEffects) takeCalls(t *turn) {
	b, _ := r.rt.callBufs.Get().(*callBuffers)
	if b == nil {
		b = new(callBuffers)
	}
	b.calls, t.calls = t.calls, b.calls
	b.arena, t.arena = t.arena, b.arena
	r.staged, r.arena, r.bufs = b.calls, b.arena, b
}

// releaseCalls drops the run's staged calls once build has copied what it
// needs. Buffers that takeCalls took go back to Runtime.callBufs, unless
// they are larger than a turn keeps.
func (r *runEffects) releaseCalls() {
	if b := r.bufs; b != nil {
		// Later turns of the run may have grown the lists past the taken ones.
		clear(r.staged)
		b.calls, b.arena = r.staged[:0], r.arena[:0]
		if cap(b.calls) <= maxKeptCalls && cap(b.arena) <= maxKeptArena {
			r.rt.callBufs.Put(b)
		}
	}
	r.staged, r.arena, r.bufs = nil, nil, nil
}

// addCall adds the message and, for a call with a continuation, the pending
// entry of a call made by one of the run's turns.
func (r *runEffects) addCall(msg *message, p *pending) {
	rt := r.rt
	if p != nil {
		r.pendings = append(r.pendings, p)
		if rt.durable {
			r.batch.PendingAdd = append(r.batch.PendingAdd,
				store.Pending{ID: p.id, Data: encodePending(p, r.pendingHops.encode(p.hops))})
		}
	}
	if rt.durable && msg.to.Class != callhost.ClassClient {
		r.store(msg)
	}
	r.sends = append(r.sends, msg)
}

// build builds the messages and pending entries of the staged calls.
func (r *runEffects) build() {
	if len(r.staged) == 0 {
		return
	}
	r.sends = slices.Grow(r.sends, len(r.staged))
	for i := range r.staged {
		r.addCall(r.staged[i].build(r.rt, r.obj.addr, r.arena))
	}
	r.releaseCalls()
}

// store gives msg a sequence number and adds it to the batch.
func (r *runEffects) store(msg *message) {
	msg.seq = r.rt.nextID.Add(1)
	r.batch.Messages = append(r.batch.Messages,
		store.Message{Seq: msg.seq, To: msg.to, Data: encodeMessage(msg, r.msgHops.encode(msg.hops))})
}

// answer delivers the outcome of the call msg served, as part of the run.
func (r *runEffects) answer(msg *message, value []byte, err *callhost.Error) {
	if msg.replyTo == 0 {
		if err != nil {
			r.rt.warnUnanswered(msg, err)
		}
		return
	}
	r.settle(msg.replyTo, value, err, true)
}

// settle takes call id out of the pending table and adds its outcome to the
// run: a callback for an outside caller, or a continuation message. It
// reports whether the call was still pending. countLate selects whether an
// outcome for a call that is no longer pending counts as a dropped late result.
func (r *runEffects) settle(id uint64, value []byte, err *callhost.Error, countLate bool) bool {
	rt := r.rt
	p := rt.pending.take(id)
	if p == nil {
		if countLate {
			rt.late.Add(1)
		}
		return false
	}
	r.settled = append(r.settled, p)
	if p.done != nil {
		if err == nil {
			value = append([]byte{}, value...)
		}
		r.callbacks = append(r.callbacks, callback{p: p, value: value, err: err})
		return true
	}
	var cont *message
	cont, r.outcome = rt.continuation(id, p, value, err, r.outcome)
	if p.durable {
		r.batch.PendingDel = append(r.batch.PendingDel, id)
	}
	if cont == nil {
		return true
	}
	if rt.durable {
		r.store(cont)
	}
	r.conts = append(r.conts, cont)
	return true
}

// commit sends the batch to the store and, once it is durable, calls done
// and applies the effects. A run of an object calls done first, so that the
// object can run again while the effects are applied (see applyInOrder). A
// failed commit is undone before done is called.
func (r *runEffects) commit(done func()) {
	r.batch.Writes = r.writes.list
	if r.empty() {
		r.rt.active.Add(-int64(r.ran))
		done()
		return
	}
	r.batch.NextID = r.rt.nextID.Load()
	r.rt.store.Commit(&r.batch, func(err error) {
		if err == nil && r.obj != nil {
			r.obj.commitFailures.Store(0)
			r.rt.applyInOrder(r.obj, r, done)
			return
		}
		r.apply(err)
		if err != nil && len(r.inputs) > 0 {
			// The object keeps its place until the retry delay ends, so a
			// store that keeps failing does not spin it.
			n := r.obj.commitFailures.Add(1)
			time.AfterFunc(commitRetryDelay<<min(n-1, maxCommitBackoff), done)
			return
		}
		done()
	})
}

// apply makes the effects of a committed run visible.
func (r *runEffects) apply(err error) {
	rt := r.rt
	defer rt.active.Add(-int64(r.ran))
	r.build()
	if err != nil {
		r.fail(err)
		return
	}
	for _, p := range r.pendings {
		rt.pending.put(p.id, p)
	}
	rt.wheel.addPending(r.pendings)
	rt.deliverAll(r.sends)
	rt.enqueueContinuations(r.conts)
	for _, cb := range r.callbacks {
		cb.p.done(cb.value, cb.err)
	}
	rt.fireAlarmsSoon(r)
}

// commitRetryDelay is how long an object waits to run again after its run
// failed to commit. The delay doubles with each failure in a row, up to
// commitRetryDelay<<maxCommitBackoff (6.4 s).
const (
	commitRetryDelay = 100 * time.Millisecond
	maxCommitBackoff = 6
)

// fail undoes a run whose batch the store could not commit. Nothing of the
// batch was applied, so the calls the run made and the continuations it
// queued do not exist. The calls it delivered outcomes for become pending
// again, and the messages it consumed go back to the front of its object's
// queue, to run again after commitRetryDelay or more.
//
// An outcome that arrived from outside a run is lost, and its caller gets a
// timeout once the call's deadline passes.
func (r *runEffects) fail(err error) {
	rt := r.rt
	object := ""
	if r.obj != nil {
		object = r.obj.addr.String()
	}
	rt.log.Error("commit failed, so the run is undone and its messages run again",
		"object", object, "turns", r.ran, "calls", len(r.sends),
		"outcomes", len(r.settled), "error", err)
	// A deadline may have passed, and its wheel entry fired, while the call
	// was out of the table. Such a call times out after commitRetryDelay, so
	// that a store that keeps failing is not retried at every wheel tick.
	retry := time.Now().Add(commitRetryDelay)
	for _, p := range r.settled {
		if p.deadline.Before(retry) {
			p.deadline = retry
		}
		rt.pending.put(p.id, p)
	}
	rt.wheel.addPending(r.settled)
	if r.obj != nil && len(r.inputs) > 0 {
		rt.requeue(r.obj, r.inputs)
	}
}
