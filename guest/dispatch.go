package guest

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// defaultListPage is the number of pairs List requests from kv_list per
// page, the host's documented default.
const defaultListPage = 1000

// dispatcher runs turns: it decodes a request, runs the handler it names and
// encodes the response. It owns every buffer a turn needs and reuses them, so
// a turn of a handler with scalar arguments and result allocates nothing.
type dispatcher struct {
	reg      *registry
	host     hostAPI
	ctx      Ctx
	args     argReader
	last     *handler // handler of the last turn
	lastCont *handler // last continuation handler found by registered
	out      []byte   // response; valid until the next turn

	// Scratch buffers for host imports.
	kvBuf    []byte                    // kv_get output
	valBuf   []byte                    // values encoded by Store
	listBuf  []byte                    // kv_list and alarm_list output
	startBuf []byte                    // kv_list start key
	errBuf   []byte                    // last_error output
	callBuf  []byte                    // call and alarm envelopes
	sum      int64                     // kv_add output, in the heap so that passing it allocates nothing
	ints     intBoxes                  // the values of Ctx.Int
	intArgs  [2 * abi.MaxIntArgs]int64 // the arguments of a call_ints call

	self, caller addressCache
	logger       *slog.Logger
	listLimit    int32 // pairs per kv_list page
}

func newDispatcher(reg *registry, host hostAPI) *dispatcher {
	d := &dispatcher{reg: reg, host: host, listLimit: defaultListPage}
	d.ctx.d = d
	d.logger = newLogger(d)
	return d
}

// turn runs the request req and returns the encoded response, which stays
// valid until the next turn. req must stay unchanged during the turn.
func (d *dispatcher) turn(req []byte) []byte {
	d.reg.frozen = true
	c := &d.ctx
	out := d.out[:0]
	if err := c.begin(req); err != nil {
		out = appendFailure(out, err)
	} else {
		out = d.dispatch(c, out)
	}
	c.end()
	d.out = out
	return out
}

func (d *dispatcher) dispatch(c *Ctx, out []byte) []byte {
	switch c.kind {
	case abi.KindDescribe:
		return abi.AppendDescribe(appendOKHeader(out), d.reg.table)
	case abi.KindInvoke, abi.KindContinuation, abi.KindAlarm:
		return d.run(c, out)
	}
	return appendFailure(out, badRequest("unknown request kind %d", c.kind))
}

// run runs the handler named by an invoke, continuation or alarm request.
func (d *dispatcher) run(c *Ctx, out []byte) []byte {
	h := d.lookup(c.handler)
	if err := d.prepare(c, h); err != nil {
		return appendFailure(out, err)
	}
	start := len(out)
	out, err := h.run(c, &d.args, appendOKHeader(out))
	if err != nil {
		return appendFailure(out[:start], err)
	}
	return out
}

// lookup returns the handler named name, or nil. It remembers the last
// handler found, because an instance often serves one handler many times and
// a map lookup costs more inside a wasm guest than a string comparison.
func (d *dispatcher) lookup(name []byte) *handler {
	if d.last != nil && sameName(d.last.name, name) {
		return d.last
	}
	h := d.reg.byName[string(name)]
	if h != nil {
		d.last = h
	}
	return h
}

// prepare checks that the request may run h and positions d.args at the
// first argument.
func (d *dispatcher) prepare(c *Ctx, h *handler) error {
	if h == nil {
		return notFound(c)
	}
	if c.kind == abi.KindInvoke && !h.exposed {
		return notExposed(c, h)
	}
	d.args.reset(c.req[c.argsOff:], h.name)
	n, ok := d.args.r.TryArrayHeader()
	var err error
	if !ok {
		n, err = d.args.r.ReadArrayHeader()
	}
	if err != nil {
		return badRequest("handler %q: arguments are not an array: %v", h.name, err)
	}
	if n != h.arity {
		return badRequest("handler %q takes %d arguments, got %d", h.name, h.arity, n)
	}
	return nil
}

// sameName reports whether name spells s. It compares byte by byte, because
// a string comparison costs a wasm guest two runtime function calls, and
// handler names are short.
func sameName(s string, name []byte) bool {
	if len(s) != len(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		if s[i] != name[i] {
			return false
		}
	}
	return true
}

func notFound(c *Ctx) error {
	return callhost.Errorf(callhost.CodeNotFound, "handler %q not found in class %q",
		c.handler, c.Self().Class)
}

func notExposed(c *Ctx, h *handler) error {
	return callhost.Errorf(callhost.CodeNotExposed,
		"handler %q of class %q is local: only continuations of its own object run it",
		h.name, c.Self().Class)
}

// appendOKHeader appends the start of a success response, [0, value]
// without the value: a fixarray header of 2 elements and the fixint 0.
func appendOKHeader(out []byte) []byte { return append(out, 0x92, 0x00) }

// appendFailure appends the error response for err. A *callhost.Error keeps
// its code and message; any other error becomes guest_error.
func appendFailure(out []byte, err error) []byte {
	var e *callhost.Error
	if errors.As(err, &e) && e != nil && e.Code != callhost.CodeOK {
		return abi.AppendError(out, e.Code, e.Message)
	}
	return abi.AppendError(out, callhost.CodeGuestError, err.Error())
}

// argDecoder is a parameter slot that decodes its argument itself, reading
// from the request in place.
type argDecoder interface {
	decodeArg(r *msgp.Reader) error
}

// unmarshalerArg is the argDecoder of a parameter type with an
// UnmarshalMsgpack method, which takes the argument's bytes.
type unmarshalerArg struct{ u msgpack.Unmarshaler }

func (a unmarshalerArg) decodeArg(r *msgp.Reader) error {
	raw, err := r.ReadRaw()
	if err != nil {
		return err
	}
	return a.u.UnmarshalMsgpack(raw)
}

func badRequest(format string, args ...any) *callhost.Error {
	return callhost.Errorf(callhost.CodeBadRequest, format, args...)
}

// argReader reads a handler's arguments from the request, one by one.
type argReader struct {
	r       msgp.Reader
	handler string
}

func (a *argReader) reset(args []byte, handler string) {
	a.r.Reset(args)
	a.handler = handler
}

// decode decodes the next argument, number i, into the value p points to.
// The most common parameter types are read in place. Others are decoded by
// u, which is p's argDecoder or nil, or else from the argument's bytes by
// msgp.Unmarshal.
func (a *argReader) decode(i int, p any, u argDecoder) error {
	var err error
	switch v := p.(type) {
	case *int:
		n, ok := a.r.TryInt()
		if !ok {
			n, ok = a.r.TryUint32()
		}
		if !ok {
			n, err = a.r.ReadInt()
		}
		*v = int(n)
	case *int64:
		n, ok := a.r.TryInt()
		if !ok {
			n, ok = a.r.TryUint32()
		}
		if !ok {
			n, err = a.r.ReadInt()
		}
		*v = n
	case *uint64:
		*v, err = a.r.ReadUint()
	case *string:
		s, ok := a.r.TryStringBytes()
		if !ok {
			s, err = a.r.ReadStringBytes()
		}
		*v = string(s)
	case *bool:
		*v, err = a.r.ReadBool()
	case *float64:
		*v, err = a.r.ReadFloat64()
	case *Result[int]:
		// The usual continuation outcome: a success whose value is an
		// integer that fits in an int. Read in place, it saves a wasm guest
		// the skip, copy and second decode of the general decoder (230 ns
		// against 100 ns). The code is here rather than in a function of its
		// own, whose call would cost a wasm guest about 70 ns. decodeAny
		// reads any other outcome again from its start.
		start := a.r
		if n, ok := a.r.TryArrayHeader(); ok && n == 2 {
			if code, ok := a.r.TryInt(); ok && code == 0 {
				x, ok := a.r.TryInt()
				if !ok {
					x, ok = a.r.TryUint32()
				}
				if !ok {
					x, err = a.r.ReadInt()
				}
				if err == nil && int64(int(x)) == x {
					v.Value, v.Err = int(x), nil
					break
				}
			}
		}
		a.r = start
		err = v.decodeAny(&a.r)
	default:
		if u != nil {
			err = u.decodeArg(&a.r)
			break
		}
		var raw []byte
		if raw, err = a.r.ReadRaw(); err == nil {
			err = msgp.Unmarshal(raw, p)
		}
	}
	if err != nil {
		typ := strings.TrimPrefix(fmt.Sprintf("%T", p), "*")
		return badRequest("handler %q: argument %d: decode into %s: %v", a.handler, i, typ, err)
	}
	return nil
}
