package guest

import (
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// handlerFunc decodes a handler's arguments from args, runs the handler and
// appends its encoded result to out.
type handlerFunc func(c *Ctx, args *argReader, out []byte) ([]byte, error)

// handler is one registered handler.
type handler struct {
	name    string
	exposed bool
	arity   int
	run     handlerFunc
}

// registry is the handler table of a guest module.
type registry struct {
	byName map[string]*handler
	table  []abi.Handler // in registration order, for describe
	frozen bool          // set by the first turn
}

// defaultRegistry holds the handlers registered by Expose and Local.
var defaultRegistry registry

// add registers h. It panics on an empty or duplicate name, and after the
// first turn, because the host reads the table only once, when it loads the
// module.
func (r *registry) add(h *handler) {
	switch {
	case h.name == "":
		panic("guest: handler name is empty")
	case r.frozen:
		panic(fmt.Sprintf("guest: handler %q registered after the first turn; "+
			"register handlers in init", h.name))
	case r.byName[h.name] != nil:
		panic(fmt.Sprintf("guest: handler %q registered twice", h.name))
	}
	if r.byName == nil {
		r.byName = make(map[string]*handler)
	}
	r.byName[h.name] = h
	r.table = append(r.table, abi.Handler{Name: h.name, Exposed: h.exposed})
}

func mustFunc(name string, isNil bool) {
	if isNil {
		panic(fmt.Sprintf("guest: handler %q has a nil function", name))
	}
}

// Expose0 registers an exposed handler without arguments: any object or
// client may invoke it, and the object's own continuations may name it. Call
// it from an init function. It panics if name is empty or already registered.
//
// The handler returns its result, or an error that fails the turn: a
// *callhost.Error (see [Errorf]), or an error wrapping one, keeps its code
// and message, and any other error becomes guest_error with the error's
// text. Return [None] for no result.
func Expose0[R any](name string, fn func(*Ctx) (R, error)) {
	defaultRegistry.add(bind0(name, true, fn))
}

// Expose1 registers an exposed handler with one argument; see [Expose0].
// Arguments are decoded from MessagePack into the parameter types, and a
// request whose arguments do not fit fails with bad_request.
func Expose1[A, R any](name string, fn func(*Ctx, A) (R, error)) {
	defaultRegistry.add(bind1(name, true, fn))
}

// Expose2 registers an exposed handler with two arguments; see [Expose1].
func Expose2[A, B, R any](name string, fn func(*Ctx, A, B) (R, error)) {
	defaultRegistry.add(bind2(name, true, fn))
}

// Expose3 registers an exposed handler with three arguments; see [Expose1].
func Expose3[A, B, C, R any](name string, fn func(*Ctx, A, B, C) (R, error)) {
	defaultRegistry.add(bind3(name, true, fn))
}

// Expose4 registers an exposed handler with four arguments; see [Expose1].
func Expose4[A, B, C, D, R any](name string, fn func(*Ctx, A, B, C, D) (R, error)) {
	defaultRegistry.add(bind4(name, true, fn))
}

// Local0 registers a local handler without arguments: the host runs it only
// as a continuation of the same object, and rejects calls from outside with
// not_exposed. Otherwise it behaves as [Expose0].
func Local0[R any](name string, fn func(*Ctx) (R, error)) {
	defaultRegistry.add(bind0(name, false, fn))
}

// Local1 registers a local handler with one argument; see [Local0].
func Local1[A, R any](name string, fn func(*Ctx, A) (R, error)) {
	defaultRegistry.add(bind1(name, false, fn))
}

// Local2 registers a local handler with two arguments; see [Local0].
func Local2[A, B, R any](name string, fn func(*Ctx, A, B) (R, error)) {
	defaultRegistry.add(bind2(name, false, fn))
}

// Local3 registers a local handler with three arguments; see [Local0].
func Local3[A, B, C, R any](name string, fn func(*Ctx, A, B, C) (R, error)) {
	defaultRegistry.add(bind3(name, false, fn))
}

// Local4 registers a local handler with four arguments; see [Local0].
func Local4[A, B, C, D, R any](name string, fn func(*Ctx, A, B, C, D) (R, error)) {
	defaultRegistry.add(bind4(name, false, fn))
}

// The bind functions adapt a typed handler to a handlerFunc. Each keeps one
// heap slot per parameter and one for the result, reused by every turn, so a
// turn that decodes and encodes scalars allocates nothing. take empties each
// slot right after decoding, whether decoding failed or not, so a value from
// one turn never shows through in the next. The SDK runs one turn at a time,
// so the slots need no locking.

func bind0[R any](name string, exposed bool, fn func(*Ctx) (R, error)) *handler {
	mustFunc(name, fn == nil)
	res := newResultSlot[R](name)
	run := func(c *Ctx, _ *argReader, out []byte) ([]byte, error) {
		v, err := fn(c)
		if err != nil {
			return out, err
		}
		if res.none {
			return msgp.AppendNil(out), nil // see resultSlot.append
		}
		return res.append(out, v)
	}
	return &handler{name: name, exposed: exposed, arity: 0, run: run}
}

func bind1[A, R any](name string, exposed bool, fn func(*Ctx, A) (R, error)) *handler {
	mustFunc(name, fn == nil)
	a, res := new(A), newResultSlot[R](name)
	ua := decoderOf(a)
	run := func(c *Ctx, args *argReader, out []byte) ([]byte, error) {
		err := args.decode(0, a, ua)
		va := take(a)
		if err != nil {
			return out, err
		}
		v, err := fn(c, va)
		if err != nil {
			return out, err
		}
		if res.none {
			return msgp.AppendNil(out), nil // see resultSlot.append
		}
		return res.append(out, v)
	}
	return &handler{name: name, exposed: exposed, arity: 1, run: run}
}

func bind2[A, B, R any](name string, exposed bool, fn func(*Ctx, A, B) (R, error)) *handler {
	mustFunc(name, fn == nil)
	a, b, res := new(A), new(B), newResultSlot[R](name)
	ua, ub := decoderOf(a), decoderOf(b)
	run := func(c *Ctx, args *argReader, out []byte) ([]byte, error) {
		err := args.decode(0, a, ua)
		if err == nil {
			err = args.decode(1, b, ub)
		}
		va, vb := take(a), take(b)
		if err != nil {
			return out, err
		}
		v, err := fn(c, va, vb)
		if err != nil {
			return out, err
		}
		if res.none {
			return msgp.AppendNil(out), nil // see resultSlot.append
		}
		return res.append(out, v)
	}
	return &handler{name: name, exposed: exposed, arity: 2, run: run}
}

func bind3[A, B, C, R any](name string, exposed bool,
	fn func(*Ctx, A, B, C) (R, error)) *handler {
	mustFunc(name, fn == nil)
	a, b, c3, res := new(A), new(B), new(C), newResultSlot[R](name)
	ua, ub, uc := decoderOf(a), decoderOf(b), decoderOf(c3)
	run := func(c *Ctx, args *argReader, out []byte) ([]byte, error) {
		err := args.decode(0, a, ua)
		if err == nil {
			err = args.decode(1, b, ub)
		}
		if err == nil {
			err = args.decode(2, c3, uc)
		}
		va, vb, vc := take(a), take(b), take(c3)
		if err != nil {
			return out, err
		}
		v, err := fn(c, va, vb, vc)
		if err != nil {
			return out, err
		}
		if res.none {
			return msgp.AppendNil(out), nil // see resultSlot.append
		}
		return res.append(out, v)
	}
	return &handler{name: name, exposed: exposed, arity: 3, run: run}
}

func bind4[A, B, C, D, R any](name string, exposed bool,
	fn func(*Ctx, A, B, C, D) (R, error)) *handler {
	mustFunc(name, fn == nil)
	a, b, c3, d, res := new(A), new(B), new(C), new(D),
		newResultSlot[R](name)
	ua, ub, uc, ud := decoderOf(a), decoderOf(b), decoderOf(c3), decoderOf(d)
	run := func(c *Ctx, args *argReader, out []byte) ([]byte, error) {
		err := args.decode(0, a, ua)
		if err == nil {
			err = args.decode(1, b, ub)
		}
		if err == nil {
			err = args.decode(2, c3, uc)
		}
		if err == nil {
			err = args.decode(3, d, ud)
		}
		va, vb, vc, vd := take(a), take(b), take(c3), take(d)
		if err != nil {
			return out, err
		}
		v, err := fn(c, va, vb, vc, vd)
		if err != nil {
			return out, err
		}
		if res.none {
			return msgp.AppendNil(out), nil // see resultSlot.append
		}
		return res.append(out, v)
	}
	return &handler{name: name, exposed: exposed, arity: 4, run: run}
}

// decoderOf returns the argDecoder of the parameter slot p, or nil when its
// type decodes through msgp.Unmarshal. The bind functions find it once, at
// registration, because a type switch on an interface type costs an itab
// lookup, several wasm function calls, on every turn.
func decoderOf(p any) argDecoder {
	switch u := p.(type) {
	case argDecoder:
		return u
	case msgpack.Unmarshaler:
		return unmarshalerArg{u}
	}
	return nil
}

// take returns the value in slot and resets the slot to the zero value.
func take[T any](slot *T) T {
	v := *slot
	var zero T
	*slot = zero
	return v
}

// resultSlot holds a handler's result while it is encoded, so that common
// result types are encoded without being boxed into an interface.
type resultSlot[R any] struct {
	v       R
	handler string
	none    bool // R is None, which encodes as nil
}

func newResultSlot[R any](handler string) *resultSlot[R] {
	s := &resultSlot[R]{handler: handler}
	_, s.none = any(&s.v).(*None)
	return s
}

// append appends the encoding of v. The bind closures write the nil of a
// None result themselves, as continuations usually return, because append
// is too large to be inlined and a call costs a wasm guest about 70 ns.
func (s *resultSlot[R]) append(out []byte, v R) ([]byte, error) {
	s.v = v
	out, err := appendValue(out, &s.v)
	take(&s.v)
	if err != nil {
		return out, callhost.Errorf(callhost.CodeGuestError,
			"handler %q: encode result of type %T: %v", s.handler, v, err)
	}
	return out, nil
}

// appendValue appends the encoding of *p. Scalar types are encoded from the
// pointer; other types go through msgp.Append.
func appendValue[T any](out []byte, p *T) ([]byte, error) {
	switch v := any(p).(type) {
	case *None:
		return msgp.AppendNil(out), nil
	case *int:
		return msgp.AppendInt(out, int64(*v)), nil
	case *int64:
		return msgp.AppendInt(out, *v), nil
	case *int32:
		return msgp.AppendInt(out, int64(*v)), nil
	case *uint:
		return msgp.AppendUint(out, uint64(*v)), nil
	case *uint64:
		return msgp.AppendUint(out, *v), nil
	case *uint32:
		return msgp.AppendUint(out, uint64(*v)), nil
	case *bool:
		return msgp.AppendBool(out, *v), nil
	case *float64:
		return msgp.AppendFloat64(out, *v), nil
	case *string:
		return msgp.AppendString(out, *v), nil
	case *[]byte:
		if *v == nil {
			return msgp.AppendNil(out), nil
		}
		return msgp.AppendBytes(out, *v), nil
	}
	return msgp.Append(out, *p)
}
