package runtime

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// deliver queues an invoke for its target object, or hands it to a peer.
func (rt *Runtime) deliver(to callhost.Address, msg *message) error {
	if to.Class == callhost.ClassClient {
		return rt.deliverToPeer(to, msg)
	}
	c := rt.class(to.Class)
	if c == nil {
		return callhost.Errorf(callhost.CodeNotFound, "class %q not found", to.Class)
	}
	return rt.enqueue(to, c, msg)
}

// answerNow gives the call msg served its outcome outside a run, for
// messages that never reach a turn. seq, when not 0, is the stored message
// that the outcome consumes.
func (rt *Runtime) answerNow(msg *message, value []byte, err *callhost.Error) {
	if msg.replyTo != 0 {
		rt.resolve(msg.replyTo, value, err, msg.seq, true)
		return
	}
	if err != nil {
		rt.warnUnanswered(msg, err)
	}
	if msg.seq != 0 {
		rt.commitAlone(&store.Batch{Consumed: []uint64{msg.seq}}, nil)
	}
}

// warnUnanswered logs the failure of a call that no one waits for.
func (rt *Runtime) warnUnanswered(msg *message, err *callhost.Error) {
	rt.warns.warn("call without continuation failed", "call_id", msg.callID,
		"from", msg.from.String(), "operation", opName(msg.steps),
		"code", err.Code.String(), "error", err.Message)
}

// reject fails a committed invoke that its target did not accept.
func (rt *Runtime) reject(msg *message, err *callhost.Error) {
	rt.answerNow(msg, nil, err)
}

// complete gives call id its outcome if it is still pending, and reports
// whether it was. value is copied.
func (rt *Runtime) complete(id uint64, value []byte, err *callhost.Error) bool {
	return rt.resolve(id, value, err, 0, true)
}

// resolve delivers the outcome of call id if it is still pending: to the
// callback of an outside caller, or as a continuation committed to the store
// and then queued on the calling object. consumed, when not 0, is a stored
// message removed in the same commit. countLate selects whether an outcome for a
// call that is no longer pending counts as a dropped late result.
func (rt *Runtime) resolve(id uint64, value []byte, err *callhost.Error, consumed uint64,
	countLate bool) bool {
	r := newRun(rt, nil)
	if consumed != 0 {
		r.batch.Consumed = append(r.batch.Consumed, consumed)
	}
	pending := r.settle(id, value, err, countLate)
	// Count the outcome in Runtime.active until it applies, so Shutdown
	// waits for it; apply subtracts ran.
	r.ran = 1
	rt.active.Add(1)
	r.commit(func() {})
	return pending
}

// commitAlone commits a batch outside a run and calls then, if not nil, with
// the commit's error once the batch is durable or has failed.
// Runtime.active counts it meanwhile so Shutdown waits for it.
func (rt *Runtime) commitAlone(b *store.Batch, then func(error)) {
	if b.Empty() {
		if then != nil {
			then(nil)
		}
		return
	}
	b.NextID = rt.nextID.Load()
	rt.active.Add(1)
	rt.store.Commit(b, func(err error) {
		defer rt.active.Add(-1)
		if err != nil {
			rt.log.Error("commit failed", "error", err)
		}
		if then != nil {
			then(err)
		}
	})
}

// continuation returns the continuation message of call id for outcome
// value or err, or nil if its arguments cannot take the outcome. scratch is
// a buffer for the encoded outcome, returned for reuse.
func (rt *Runtime) continuation(id uint64, p *pending, value []byte,
	err *callhost.Error, scratch []byte) (*message, []byte) {
	args := p.args
	if p.placeholder {
		var outcome []byte
		if err == nil {
			outcome = abi.AppendOK(scratch[:0], value)
		} else {
			outcome = abi.AppendError(scratch[:0], err.Code, err.Message)
		}
		scratch = outcome
		var ferr error
		if args, ferr = abi.FillPlaceholders(make([]byte, 0, len(args)+len(outcome)),
			p.args, outcome); ferr != nil {
			rt.log.Error("continuation dropped: arguments do not decode", "call_id", id,
				"object", p.caller.String(), "error", ferr)
			return nil, scratch
		}
	}
	msg := &message{
		kind:    msgContinuation,
		callID:  id,
		from:    p.target,
		hops:    p.hops,
		handler: p.handler,
		args:    args,
		to:      p.caller,
	}
	return msg, scratch
}

// deliverAll delivers invokes and queues consecutive ones for one object
// under one lock, because a turn often makes many calls to one object. An
// invoke that its object does not admit gets its outcome after the rest of
// its group is queued.
func (rt *Runtime) deliverAll(msgs []*message) {
	for len(msgs) > 0 {
		group := msgs[:sameTarget(msgs)]
		msgs = msgs[len(group):]
		to := group[0].to
		var c *class
		if to.Class != callhost.ClassClient {
			c = rt.class(to.Class)
		}
		if c == nil {
			for _, msg := range group {
				if err := rt.deliver(msg.to, msg); err != nil {
					rt.reject(msg, callhost.AsError(err))
				}
			}
			continue
		}
		for _, r := range rt.enqueueMessages(to, c, group, false) {
			rt.reject(r.msg, callhost.AsError(r.err))
		}
	}
}

// enqueueContinuations queues continuations on their objects, consecutive
// ones for one object under one lock. Continuations are never rejected, and
// those for a class that is not loaded wait until it is.
func (rt *Runtime) enqueueContinuations(msgs []*message) {
	for len(msgs) > 0 {
		group := msgs[:sameTarget(msgs)]
		msgs = msgs[len(group):]
		to := group[0].to
		rt.mu.Lock()
		c := rt.classes[to.Class]
		if c == nil {
			rt.parked[to.Class] = append(rt.parked[to.Class], group...)
			rt.mu.Unlock()
			for _, msg := range group {
				rt.log.Warn("continuation waits for its class to load", "call_id", msg.callID,
					"object", msg.to.String())
			}
			continue
		}
		rt.mu.Unlock()
		rt.enqueueMessages(to, c, group, false)
	}
}

// sameTarget returns how many messages at the start of msgs, at least one,
// go to the object of the first.
func sameTarget(msgs []*message) int {
	n := 1
	for n < len(msgs) && msgs[n].to == msgs[0].to {
		n++
	}
	return n
}

// expire fails call id with a timeout if it is still pending.
func (rt *Runtime) expire(id uint64) {
	p := rt.pending.peek(id)
	if p == nil {
		return
	}
	err := callhost.Errorf(callhost.CodeTimeout, "call %d to %s.%s timed out after %s",
		id, p.target, opName(p.steps), p.timeout)
	rt.resolve(id, nil, err, 0, false)
}

// opName returns the first handler of an encoded operation.
func opName(steps []byte) string {
	name := ""
	_ = abi.ForEachStep(steps, func(i int, handler string, _ []byte) error {
		name = handler
		return errStop
	})
	return name
}

var errStop = callhost.Errorf(callhost.CodeOK, "stop")
