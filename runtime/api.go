package runtime

import (
	"context"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// Submission is a call from outside the runtime.
type Submission struct {
	// From is the caller's address, which the target receives as its caller.
	// Default: class callhost.ClassEmbed, id "go".
	From callhost.Address
	// To is the target object or client.
	To callhost.Address
	// Steps is the encoded operation (see callhost.Operation.AppendSteps).
	Steps []byte
	// Timeout is the call's deadline; zero means Options.CallTimeout.
	Timeout time.Duration
	// Done receives the outcome: the encoded result, or an error. It runs
	// exactly once if Submit returns nil, on a runtime goroutine, and must not
	// block. Nil makes the call fire-and-forget.
	Done func(result []byte, err *callhost.Error)
	// Context, when not nil, lets the caller withdraw the call. A call whose
	// Context is done when its turn would start does not run, and fails
	// with callhost.CodeUnavailable. A turn that has started runs to
	// its end. A durable store does not keep the Context, so a call
	// recovered after a restart runs.
	Context context.Context
}

var embedCaller = callhost.Address{Class: callhost.ClassEmbed, ID: "go"}

// Submit sends a call and returns its id. Errors that are known at once (a
// malformed operation, an unknown or throttled class, a runtime shutting down,
// and with the memory store a reached limit) are returned and Done is not
// called. With a durable store the call is stored before it is delivered, so
// a reached limit reaches Done as the call's outcome.
func (rt *Runtime) Submit(s Submission) (uint64, error) {
	if rt.closing.Load() {
		return 0, callhost.Errorf(callhost.CodeUnavailable, "runtime is shutting down")
	}
	info, err := rt.limits.CheckOperation(s.Steps)
	if err != nil {
		return 0, err
	}
	if err := rt.checkID(s.To); err != nil {
		return 0, err
	}
	if s.From.IsZero() {
		s.From = embedCaller
	}
	if s.Timeout <= 0 {
		s.Timeout = rt.opts.CallTimeout
	}
	id := rt.nextID.Add(1)
	msg := &message{
		kind:   msgInvoke,
		callID: id,
		from:   s.From,
		hops:   []callhost.Address{s.From},
		steps:  append([]byte(nil), s.Steps...),
		ext:    info.Ext,
		ctx:    s.Context,
	}
	if s.Done != nil {
		msg.replyTo = id
		p := &pending{id: id, target: s.To, steps: msg.steps, timeout: s.Timeout,
			done: s.Done, deadline: time.Now().Add(s.Timeout)}
		rt.pending.put(id, p)
		rt.wheel.add(id, p.deadline)
	}
	if !rt.durable || s.To.Class == callhost.ClassClient {
		if err := rt.deliver(s.To, msg); err != nil {
			rt.pending.take(id)
			return 0, err
		}
		return id, nil
	}
	return id, rt.submitDurable(s.To, msg)
}

// checkID rejects a target whose id is longer than Options.MaxIDSize.
func (rt *Runtime) checkID(to callhost.Address) error {
	if max := rt.opts.MaxIDSize; len(to.ID) > max {
		return callhost.Errorf(callhost.CodeBadRequest,
			"object id of %d bytes for class %q is too long, max %d", len(to.ID), to.Class, max)
	}
	return nil
}

// submitDurable stores msg and delivers it once it is durable. An unknown or
// throttled class is reported at once; other failures become the call's
// outcome.
func (rt *Runtime) submitDurable(to callhost.Address, msg *message) error {
	c := rt.class(to.Class)
	if c == nil {
		rt.pending.take(msg.callID)
		return callhost.Errorf(callhost.CodeNotFound, "class %q not found", to.Class)
	}
	if err := c.health.admit(); err != nil {
		rt.pending.take(msg.callID)
		return err
	}
	msg.to = to
	msg.seq = rt.nextID.Add(1)
	rec := encodeMessage(msg, abi.AppendHops(nil, msg.hops))
	b := &store.Batch{Messages: []store.Message{{Seq: msg.seq, To: to, Data: rec}}}
	b.NextID = rt.nextID.Load()
	rt.active.Add(1)
	rt.store.Commit(b, func(err error) {
		defer rt.active.Add(-1)
		if err != nil {
			rt.log.Error("call not accepted: storage commit failed", "call_id", msg.callID,
				"error", err)
			if msg.replyTo != 0 {
				rt.complete(msg.replyTo, nil, callhost.Errorf(callhost.CodeInternal,
					"storage commit failed: %v", err))
			}
			return
		}
		if err := rt.deliver(to, msg); err != nil {
			rt.reject(msg, callhost.AsError(err))
		}
	})
	return nil
}

// CallOption changes one call.
type CallOption func(*Submission)

// WithTimeout sets the call's deadline.
func WithTimeout(d time.Duration) CallOption { return func(s *Submission) { s.Timeout = d } }

// WithCaller sets the address the target receives as its caller.
func WithCaller(a callhost.Address) CallOption { return func(s *Submission) { s.From = a } }

func (rt *Runtime) submission(to callhost.Address, op callhost.Operation,
	opts []CallOption) (Submission, error) {
	steps, err := op.AppendSteps(nil)
	if err != nil {
		return Submission{}, callhost.Errorf(callhost.CodeBadRequest, "encode operation: %v", err)
	}
	s := Submission{To: to, Steps: steps}
	for _, o := range opts {
		o(&s)
	}
	return s, nil
}

// Call runs op on the object at to and waits for the outcome. A failed outcome
// is returned as a *callhost.Error. If ctx ends first, Call returns ctx's error
// and the outcome, when it arrives, is dropped.
func (rt *Runtime) Call(ctx context.Context, to callhost.Address, op callhost.Operation,
	opts ...CallOption) (callhost.Result, error) {
	type outcome struct {
		value []byte
		err   *callhost.Error
	}
	s, err := rt.submission(to, op, opts)
	if err != nil {
		return nil, err
	}
	ch := make(chan outcome, 1)
	s.Done = func(v []byte, err *callhost.Error) { ch <- outcome{v, err} }
	id, err := rt.Submit(s)
	if err != nil {
		return nil, err
	}
	select {
	case o := <-ch:
		if o.err != nil {
			return nil, o.err
		}
		return callhost.Result(o.value), nil
	case <-ctx.Done():
		rt.pending.take(id)
		return nil, ctx.Err()
	}
}

// CallFunc runs op on the object at to and calls fn with the outcome, exactly
// once, on a runtime goroutine; fn must not block. It returns errors known at
// once without calling fn.
func (rt *Runtime) CallFunc(to callhost.Address, op callhost.Operation,
	fn func(callhost.Result, error), opts ...CallOption) error {
	s, err := rt.submission(to, op, opts)
	if err != nil {
		return err
	}
	s.Done = func(v []byte, err *callhost.Error) {
		if err != nil {
			fn(nil, err)
			return
		}
		fn(callhost.Result(v), nil)
	}
	_, err = rt.Submit(s)
	return err
}

// Send runs op on the object at to without waiting for an outcome. Failures
// after the call is accepted are logged with the call id.
func (rt *Runtime) Send(to callhost.Address, op callhost.Operation, opts ...CallOption) error {
	s, err := rt.submission(to, op, opts)
	if err != nil {
		return err
	}
	_, err = rt.Submit(s)
	return err
}

// Stats is a snapshot of the runtime's counters.
type Stats struct {
	Queued  int64 // calls accepted and not yet started
	Active  int64 // messages queued or running
	Pending int   // calls waiting for an outcome
	Late    int64 // outcomes dropped because their call had already completed
	// Throttled counts the calls rejected with callhost.CodeThrottled.
	Throttled int64
	// Objects counts the activated objects: those with queued messages or
	// on a worker.
	Objects int
	// Instances counts the guest instances of all classes, in use and
	// idle, and Discarded the broken instances closed since New.
	Instances int
	Discarded int
}

// Stats returns the runtime's counters.
func (rt *Runtime) Stats() Stats {
	st := Stats{Queued: rt.queued.Load(), Active: rt.active.Load(), Pending: rt.pending.len(),
		Late: rt.late.Load(), Objects: rt.objects.len()}
	rt.mu.RLock()
	for _, c := range rt.classes {
		st.Throttled += c.health.rejects.Load()
		ps := c.pool.Stats()
		st.Instances += ps.Live
		st.Discarded += ps.Discarded
	}
	rt.mu.RUnlock()
	return st
}
