package runtime

import (
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
)

// dispatch sends a call committed by a turn of the object from. Failures to
// deliver become the call's outcome at once.
func (rt *Runtime) dispatch(from callhost.Address, hops []callhost.Address, served *message,
	c *outgoing) {
	// One allocation holds the message and, for a call with a continuation,
	// its pending entry.
	mp := &struct {
		msg message
		p   pending
	}{}
	msg := &mp.msg
	*msg = message{
		kind:   msgInvoke,
		callID: c.id,
		from:   from,
		hops:   hops,
		steps:  c.steps,
		ext:    c.ext,
	}
	switch {
	case c.forward:
		msg.replyTo = served.replyTo
	case c.hasCont:
		msg.replyTo = c.id
		mp.p = pending{
			target:      c.target,
			steps:       c.steps,
			timeout:     c.timeout,
			caller:      from,
			handler:     c.contHandler,
			args:        c.contArgs,
			placeholder: c.placeholder,
			hops:        served.hops,
		}
		rt.pending.put(c.id, &mp.p)
		rt.wheel.add(c.id, time.Now().Add(c.timeout))
	}
	if err := rt.deliver(c.target, msg); err != nil {
		rt.answer(msg, nil, callhost.AsError(err))
	}
}

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

// answer delivers the outcome of the call msg served: to whoever waits for it,
// or to the log for fire-and-forget calls that failed.
func (rt *Runtime) answer(msg *message, value []byte, err *callhost.Error) {
	if msg.replyTo != 0 {
		rt.complete(msg.replyTo, value, err)
		return
	}
	if err != nil {
		rt.warns.warn("call without continuation failed", "call_id", msg.callID,
			"from", msg.from.String(), "operation", opName(msg.steps),
			"code", err.Code.String(), "error", err.Message)
	}
}

// complete gives call id its outcome if it is still pending, and reports
// whether it was. value is copied.
func (rt *Runtime) complete(id uint64, value []byte, err *callhost.Error) bool {
	p := rt.pending.take(id)
	if p == nil {
		rt.late.Add(1)
		return false
	}
	if p.done != nil {
		if err == nil {
			value = append([]byte{}, value...)
		}
		p.done(value, err)
		return true
	}
	rt.continueWith(id, p, value, err)
	return true
}

// continueWith queues the continuation of call id on the calling object.
func (rt *Runtime) continueWith(id uint64, p *pending, value []byte, err *callhost.Error) {
	args := p.args
	if p.placeholder {
		var outcome []byte
		if err == nil {
			outcome = abi.AppendOK(nil, value)
		} else {
			outcome = abi.AppendError(nil, err.Code, err.Message)
		}
		var ferr error
		if args, ferr = abi.FillPlaceholders(make([]byte, 0, len(args)+len(outcome)),
			p.args, outcome); ferr != nil {
			rt.log.Error("continuation dropped: arguments do not decode", "call_id", id,
				"object", p.caller.String(), "error", ferr)
			return
		}
	}
	msg := &message{
		kind:    msgContinuation,
		callID:  id,
		from:    p.target,
		hops:    p.hops,
		handler: p.handler,
		args:    args,
	}
	c := rt.class(p.caller.Class)
	if c == nil {
		rt.log.Warn("continuation dropped: class unloaded", "call_id", id,
			"object", p.caller.String())
		return
	}
	_ = rt.enqueue(p.caller, c, msg) // continuations are never rejected
}

// expire fails call id with a timeout if it is still pending.
func (rt *Runtime) expire(id uint64) {
	p := rt.pending.take(id)
	if p == nil {
		return
	}
	err := callhost.Errorf(callhost.CodeTimeout, "call %d to %s.%s timed out after %s",
		id, p.target, opName(p.steps), p.timeout)
	if p.done != nil {
		p.done(nil, err)
		return
	}
	rt.continueWith(id, p, nil, err)
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
