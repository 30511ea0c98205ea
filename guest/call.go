package guest

import (
	"math"
	"strings"
	"time"
	"unsafe"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
)

// Continuation names the handler of the calling object that receives a
// call's outcome, and the arguments bound to it. The arguments may hold
// [Placeholder] at any depth; the host replaces each placeholder with the
// outcome before the handler runs. Build one with [Then]. [Ctx.SetAlarm]
// takes one too, without placeholders, to name the handler an alarm runs.
type Continuation struct {
	handler string
	args    []any
	object  Address
}

// Then returns a continuation that runs handler of the calling object with
// args. The handler may be exposed or local.
func Then(handler string, args ...any) *Continuation {
	return &Continuation{handler: handler, args: args}
}

// ThenOn is [Then] with the object that runs the continuation named
// explicitly. The host accepts only the calling object itself and rejects any
// other with forbidden: a continuation always runs on its caller.
func ThenOn(object Address, handler string, args ...any) *Continuation {
	return &Continuation{handler: handler, args: args, object: object}
}

// Handler returns the name of the handler the continuation runs.
func (k *Continuation) Handler() string { return k.handler }

// CallOption changes how [Ctx.Call], [Ctx.Send] or [Ctx.Forward] makes a
// call.
type CallOption struct {
	timeout    time.Duration
	hasTimeout bool
}

// Timeout sets the call's deadline, counted from the moment the host sends
// the call. It is rounded up to whole milliseconds. When the deadline passes
// first, the continuation receives a timeout outcome. Zero, the default,
// means the host's default of 30 s.
func Timeout(d time.Duration) CallOption { return CallOption{timeout: d, hasTimeout: true} }

// Call makes a call: target runs op, and when the outcome is known, the
// handler that then names runs on this object as a new turn. Call returns at
// once with the call's id, which the continuation's turn reports as
// [Ctx.CallID]. A nil then makes the call fire-and-forget.
//
// The call is recorded, not sent: it leaves the object only if this turn
// succeeds. Call fails with not_found when then names a handler that is not
// registered, and with bad_request when op is empty or an argument does not
// encode.
func (c *Ctx) Call(target Address, op Operation, then *Continuation,
	opts ...CallOption) (uint64, error) {
	return c.call(target, op, then, 0, opts)
}

// Send makes a fire-and-forget call: Call with no continuation.
func (c *Ctx) Send(target Address, op Operation, opts ...CallOption) (uint64, error) {
	return c.call(target, op, nil, 0, opts)
}

// Forward makes a call whose outcome becomes the outcome of the call being
// served, and the current turn's own result is ignored. This lets a pipeline
// return the original caller's result from its last hop.
func (c *Ctx) Forward(target Address, op Operation, opts ...CallOption) error {
	_, err := c.call(target, op, nil, abi.FlagForward, opts)
	return err
}

// call checks a call and makes it. Most calls take the path of the
// call_ints import, which is written here rather than in a function of its
// own: a function call costs a wasm guest about 70 ns, as much as the rest
// of the call's work in the guest.
//
// call_ints leaves encoding the envelope to the host, which saves the guest
// about half of a call's cost. It serves an operation of one step whose
// arguments are ints, with a continuation, if any, whose arguments are ints
// and placeholders and which names no object. envelopeCall makes any other
// call.
func (c *Ctx) call(target Address, op Operation, then *Continuation, flags uint64,
	opts []CallOption) (uint64, error) {
	if !c.active {
		return 0, errTurnEnded
	}
	d := c.d
	steps := op.Steps()
	if len(steps) == 0 {
		return 0, badRequest("guest: call to %s has an empty operation", target)
	}
	if then != nil && !d.registered(then.handler) {
		// The clone keeps then's strings, and with them then.args, from
		// escaping, so the variadic slice of Then stays on the stack.
		return 0, callhost.Errorf(callhost.CodeNotFound,
			"guest: continuation handler %q is not registered", strings.Clone(then.handler))
	}
	var timeout uint64
	if len(opts) > 0 {
		var err error
		if timeout, err = timeoutMS(opts); err != nil {
			return 0, err
		}
	}

	if len(steps) != 1 || len(steps[0].Args) > abi.MaxIntArgs || flags > math.MaxUint32 ||
		len(target.Class)+len(target.ID)+len(steps[0].Handler) > abi.MaxIntCallStrings/2 {
		return d.envelopeCall(target, op, then, timeout, flags)
	}
	// The arguments are stored by index: an append costs a wasm guest a
	// capacity check and a store of the slice's length per value.
	n := 0
	for _, a := range steps[0].Args {
		v, ok := a.(int)
		if !ok {
			return d.envelopeCall(target, op, then, timeout, flags)
		}
		d.intArgs[n] = int64(v)
		n++
	}
	args := n
	var cont string
	var placeholders uint64
	if then != nil {
		if len(then.args) > abi.MaxIntArgs || !then.object.IsZero() ||
			len(then.handler) > abi.MaxIntCallStrings/2 {
			return d.envelopeCall(target, op, then, timeout, flags)
		}
		cont = then.handler
		for k, a := range then.args {
			switch v := a.(type) {
			case int:
				d.intArgs[n] = int64(v)
			case callhost.Marker:
				if v != callhost.Placeholder {
					return d.envelopeCall(target, op, then, timeout, flags)
				}
				placeholders |= 1 << k // the host ignores this slot's value
			default:
				return d.envelopeCall(target, op, then, timeout, flags)
			}
			n++
		}
	}
	id := d.host.callInts(target.Class, target.ID, steps[0].Handler, cont, d.intArgs[:n],
		int32(args), int32(n-args), placeholders, timeout, int32(flags))
	if id > 0 {
		// A successful call returns here, because a call of callResult,
		// with its error paths, costs a wasm guest tens of nanoseconds.
		return uint64(id), nil
	}
	return d.callResult(id)
}

// envelopeCall encodes a call and passes it to the call import.
func (d *dispatcher) envelopeCall(target Address, op Operation, then *Continuation,
	timeout, flags uint64) (uint64, error) {
	var cont *abi.Continuation
	if then != nil {
		cont = &abi.Continuation{Handler: then.handler, Args: then.args, Object: then.object}
	}
	env, err := abi.AppendCall(d.callBuf[:0], target, op, cont, timeout, flags)
	d.callBuf = env
	if err != nil {
		return 0, badRequest("guest: encode call to %s: %v", target, err)
	}
	return d.sendCall(env)
}

// registered reports whether a handler named name is registered. It
// remembers the last handler found, because a turn usually names the same
// continuation handler in every call, and a map lookup costs several wasm
// function calls. The linker stores equal string constants once, so the
// name is usually the registered name itself and compares by pointer. It
// keeps the handler rather than name so that name does not escape.
func (d *dispatcher) registered(name string) bool {
	if h := d.lastCont; h != nil && len(h.name) == len(name) &&
		(unsafe.StringData(h.name) == unsafe.StringData(name) || h.name == name) {
		return true
	}
	h := d.reg.byName[name]
	if h != nil {
		d.lastCont = h
	}
	return h != nil
}

// sendCall passes a call envelope to the call import.
func (d *dispatcher) sendCall(env []byte) (uint64, error) {
	return d.callResult(d.host.call(env))
}

// callResult returns the call id of the result of the call or call_ints
// import.
func (d *dispatcher) callResult(id int64) (uint64, error) {
	switch {
	case id == abi.ResultFailed:
		return 0, d.importError("call")
	case id < 1:
		return 0, internalError("call returned %d", id)
	}
	return uint64(id), nil
}

// timeoutMS returns the timeout of the call envelope: the last Timeout option
// in whole milliseconds, or 0 for the host's default.
func timeoutMS(opts []CallOption) (uint64, error) {
	var d time.Duration
	for _, o := range opts {
		if o.hasTimeout {
			d = o.timeout
		}
	}
	if d < 0 {
		return 0, badRequest("guest: invalid call timeout %v: must not be negative", d)
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond), nil
}
