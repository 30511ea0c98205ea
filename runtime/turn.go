package runtime

import (
	"errors"
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/host"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// maxHops is the longest hops list a turn sees: the origin and the most recent
// senders.
const maxHops = 64

// turn is the state of one running turn. Each worker owns one and reuses it.
type turn struct {
	rt   *Runtime
	inst *host.Instance
	obj  *object
	msg  *message

	effects *runEffects // the run the turn belongs to

	writes    writeSet
	calls     []stagedCall
	arena     []byte // the operations and continuation arguments of calls
	alarmsAdd []store.Alarm
	alarmsDel []uint64
	forwarded bool
	outHops   []callhost.Address // hops of the calls this turn makes; built on first use
	handler   string             // the handler of the running step
	log       guestLog

	lastTarget callhost.Address // target of the last call a turn on this worker made
	// The handler last looked up by a turn on this worker, and the module
	// of its class.
	lastHandler host.Handler
	lastModule  *host.Module

	req  []byte
	prev []byte

	hops hopsCache // the hops list last sent to a guest
}

func newTurn(rt *Runtime) *turn { return &turn{rt: rt} }

func (t *turn) reset(inst *host.Instance, o *object, msg *message, run *runEffects) {
	t.detach()
	t.inst, t.obj, t.msg, t.effects = inst, o, msg, run
	t.arena = t.arena[:0]
	t.forwarded = false
	t.handler = ""
	t.log = guestLog{}
}

// detach drops the turn's references to the run that ended, its object and
// its last message, so that an idle worker does not keep the messages that
// run consumed.
func (t *turn) detach() {
	t.inst, t.obj, t.msg, t.effects = nil, nil, nil, nil
	clear(t.calls)
	t.calls = t.calls[:0]
	t.outHops = nil
	t.writes.reset()
	t.alarmsAdd, t.alarmsDel = nil, nil
}

// The call buffers that a worker's turn keeps for its next turn are at most
// maxKeptArena bytes of operations and continuation arguments and
// maxKeptCalls staged calls. Larger ones go to the garbage collector when
// the turn ends, so that one turn with large or many calls does not hold
// that memory for the life of the worker.
const (
	maxKeptArena = 1 << 20
	maxKeptCalls = 4096
)

// dropLargeCallBuffers releases the turn's call buffers when they are
// larger than the bounds above. It runs once the run has copied or built
// what it needs from them.
func (t *turn) dropLargeCallBuffers() {
	if cap(t.arena) > maxKeptArena {
		t.arena = nil
	}
	if cap(t.calls) > maxKeptCalls {
		t.calls = nil
	}
}

// run runs msg on inst as one turn, adds its effects and outcome to run, and
// returns the turn's error.
func (t *turn) run(inst *host.Instance, o *object, msg *message,
	run *runEffects) *callhost.Error {
	t.reset(inst, o, msg, run)
	var value []byte
	var err *callhost.Error
	switch msg.kind {
	case msgInvoke:
		value, err = t.runOperation(msg.steps, msg.ext)
	case msgContinuation:
		value, err = t.runStep(abi.KindContinuation, msg.handler, msg.args)
	case msgAlarm:
		value, err = t.runStep(abi.KindAlarm, msg.handler, msg.args)
	}
	run.consume(msg)
	t.reportDroppedLog()
	if err == nil {
		run.addTurn(t)
	} else {
		t.logFailure(err)
	}
	t.dropLargeCallBuffers()
	switch {
	case msg.kind == msgAlarm && err != nil:
		t.rt.retryAlarm(run, msg, err)
	case msg.kind != msgInvoke:
	case err != nil || !t.forwarded:
		run.answer(msg, value, err)
	}
	return err
}

// logFailure logs a failed turn. Failures that only the guest's own code
// explains (guest errors, bad requests) are left to the caller's outcome,
// except in continuations, whose outcome has no one to go to.
func (t *turn) logFailure(err *callhost.Error) {
	switch err.Code {
	case callhost.CodeGuestTrap, callhost.CodeTurnDeadline, callhost.CodeInternal:
	default:
		if t.msg.kind != msgContinuation {
			return
		}
	}
	handler := t.msg.handler
	if t.msg.kind == msgInvoke {
		handler = opName(t.msg.steps)
	}
	t.rt.warns.warn("turn failed", "object", t.obj.addr.String(), "handler", handler,
		"call_id", t.msg.callID, "code", err.Code.String(), "error", err.Message)
}

// runOperation runs the steps of an operation and returns the last step's
// result, which stays valid until the next step runs on the instance.
func (t *turn) runOperation(steps []byte, ext bool) ([]byte, *callhost.Error) {
	var result []byte
	var failure *callhost.Error
	err := abi.ForEachStepBytes(steps, func(i int, name, args []byte) error {
		if i > 0 {
			t.prev = append(t.prev[:0], result...)
		}
		if ext {
			var err error
			if args, err = t.resolve(args, t.prev); err != nil {
				failure = callhost.AsError(err)
				return failure
			}
		}
		result, failure = t.runStep(abi.KindInvoke, t.handlerName(name), args)
		if failure != nil {
			return failure
		}
		return nil
	})
	if failure != nil {
		return nil, failure
	}
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeBadRequest, "operation: %v", err)
	}
	return result, nil
}

// resolve returns args with nested operations run and previous results filled in.
func (t *turn) resolve(args, prev []byte) ([]byte, error) {
	prevCopy := append([]byte(nil), prev...)
	return abi.Replace(nil, args, func(typ int8, payload []byte) ([]byte, error) {
		switch typ {
		case callhost.ExtPrev:
			return prevCopy, nil
		case callhost.ExtNested:
			v, err := t.runOperation(payload, true)
			if err != nil {
				return nil, err
			}
			return append([]byte(nil), v...), nil
		}
		return nil, callhost.Errorf(callhost.CodeBadRequest, "unexpected extension type %d", typ)
	})
}

// runStep runs one handler on the instance.
func (t *turn) runStep(kind int, handler string, args []byte) ([]byte, *callhost.Error) {
	if err := t.checkHandler(kind, handler); err != nil {
		return nil, err
	}
	t.handler = handler
	if t.inst.Broken() {
		return nil, callhost.Errorf(callhost.CodeGuestTrap,
			"class %q: instance failed earlier in this turn", t.obj.class.name)
	}
	t.req = abi.AppendRequest(t.req[:0], &abi.Request{
		Kind:        kind,
		Handler:     handler,
		Args:        args,
		Self:        t.obj.addr,
		Caller:      t.msg.from,
		CallID:      t.msg.callID,
		HopsEncoded: t.hops.encode(t.msg.hops),
	})
	resp, err := t.inst.Turn(t.rt.ctx, t.req, t)
	if err != nil {
		return nil, t.turnError(handler, err)
	}
	value, failure, err := abi.DecodeOutcome(resp)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeGuestError,
			"%s.%s returned a malformed response: %v", t.obj.class.name, handler, err)
	}
	if max := t.rt.opts.MaxResultSize; kind == abi.KindInvoke && len(value) > max {
		return nil, callhost.Errorf(callhost.CodeTooLarge,
			"result of %s.%s on %s is %d bytes, max %d", t.obj.class.name, handler,
			t.obj.addr, len(value), max)
	}
	return value, failure
}

// handlerName returns name as the class's handler table spells it, so that
// looking up a known handler allocates nothing.
func (t *turn) handlerName(name []byte) string {
	if h, ok := lookupHandler(t, name); ok {
		return h.Name
	}
	return string(name)
}

// lookupHandler looks name up in the handler table of the turn's class. It
// remembers the last handler found, because a worker often runs one
// handler many times, and comparing a short name costs less than a map lookup.
func lookupHandler[S string | []byte](t *turn, name S) (host.Handler, bool) {
	m := t.obj.class.module
	if t.lastModule == m && string(name) == t.lastHandler.Name {
		return t.lastHandler, true
	}
	h, ok := m.Handler(string(name))
	if ok {
		t.lastHandler, t.lastModule = h, m
	}
	return h, ok
}

func (t *turn) checkHandler(kind int, handler string) *callhost.Error {
	c := t.obj.class
	h, ok := lookupHandler(t, handler)
	if !ok {
		return callhost.Errorf(callhost.CodeNotFound, "class %q has no handler %q", c.name, handler)
	}
	if kind == abi.KindInvoke && !h.Exposed {
		return callhost.Errorf(callhost.CodeNotExposed,
			"handler %q of class %q is local: only its own object's continuations may run it",
			handler, c.name)
	}
	return nil
}

func (t *turn) turnError(handler string, err error) *callhost.Error {
	name := t.obj.class.name + "." + handler
	var trap *host.TrapError
	switch {
	case errors.Is(err, host.ErrTurnDeadline):
		return callhost.Errorf(callhost.CodeTurnDeadline,
			"%s on %s ran longer than the turn deadline %s", name, t.obj.addr, t.rt.opts.TurnTimeout)
	case errors.As(err, &trap):
		return callhost.Errorf(callhost.CodeGuestTrap, "%s on %s trapped: %s",
			name, t.obj.addr, trap.Message)
	case t.rt.ctx.Err() != nil:
		return callhost.Errorf(callhost.CodeUnavailable,
			"%s on %s stopped: the runtime shut down during the turn", name, t.obj.addr)
	}
	return callhost.Errorf(callhost.CodeInternal, "%s on %s: %v", name, t.obj.addr, err)
}

// callHops returns the hops of calls made by this turn: the hops that led to
// the turn plus the object itself, capped at maxHops by dropping the oldest
// entries after the origin.
func (t *turn) callHops() []callhost.Address {
	if t.outHops != nil {
		return t.outHops
	}
	in := t.msg.hops
	if len(in) >= maxHops {
		in = append(in[:1:1], in[len(in)-maxHops+2:]...)
	}
	hops := make([]callhost.Address, len(in), len(in)+1)
	copy(hops, in)
	t.outHops = append(hops, t.obj.addr)
	return t.outHops
}

func (t *turn) String() string {
	return fmt.Sprintf("turn of %s for call %d", t.obj.addr, t.msg.callID)
}
