package abi

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// Call is a decoded call envelope. Byte slices alias the decoded input.
type Call struct {
	Target      callhost.Address
	Steps       []byte // encoded operation: an array of [handler, args]
	HasCont     bool
	ContHandler string
	ContArgs    []byte           // encoded array
	ContObject  callhost.Address // zero when the continuation names no object
	TimeoutMS   uint64
	Flags       uint64
}

// Continuation is the data a caller binds to a call: a handler of its own, and
// arguments that may hold [callhost.Placeholder].
type Continuation struct {
	Handler string
	Args    []any
	// Object, when set, names the object that runs the continuation. The host
	// rejects any object other than the caller itself.
	Object callhost.Address
}

// AppendCall appends a call envelope. cont may be nil for fire-and-forget.
func AppendCall(b []byte, target callhost.Address, op callhost.Operation,
	cont *Continuation, timeoutMS, flags uint64) ([]byte, error) {
	b = msgp.AppendArrayHeader(b, 5)
	b = AppendAddress(b, target)
	b, err := op.AppendSteps(b)
	if err != nil {
		return b, err
	}
	if cont == nil {
		b = msgp.AppendNil(b)
	} else {
		b = msgp.AppendArrayHeader(b, 3)
		b = msgp.AppendString(b, cont.Handler)
		b = msgp.AppendArrayHeader(b, len(cont.Args))
		for _, a := range cont.Args {
			// Markers and ints, the usual continuation arguments, are
			// tested here as concrete types: msgp.Append costs a wasm guest
			// one more function call, and finds a marker only through its
			// Appender case, an itab lookup per argument.
			switch v := a.(type) {
			case callhost.Marker:
				b, _ = v.AppendMsgpack(b)
			case int:
				b = msgp.AppendInt(b, int64(v))
			default:
				if b, err = msgp.Append(b, a); err != nil {
					return b, err
				}
			}
		}
		if cont.Object.IsZero() {
			b = msgp.AppendNil(b)
		} else {
			b = AppendAddress(b, cont.Object)
		}
	}
	if timeoutMS|flags < 128 { // the usual case, in two fixints
		return append(b, byte(timeoutMS), byte(flags)), nil
	}
	b = msgp.AppendUint(b, timeoutMS)
	return msgp.AppendUint(b, flags), nil
}

// CallView is a decoded call envelope whose strings stay bytes, so that
// decoding allocates nothing. Every slice aliases the decoded input.
type CallView struct {
	TargetClass []byte
	TargetID    []byte
	Steps       []byte // encoded operation: an array of [handler, args]
	HasCont     bool
	ContHandler []byte
	ContArgs    []byte // encoded array
	// ContObjectClass and ContObjectID are empty when the continuation names
	// no object.
	ContObjectClass []byte
	ContObjectID    []byte
	TimeoutMS       uint64
	Flags           uint64
}

// DecodeCall decodes the structure of a call envelope into c. It does not check
// the operation or the continuation arguments: see [CheckOperation] and
// [CheckContinuationArgs].
func DecodeCall(b []byte, c *Call) error {
	var v CallView
	if err := DecodeCallView(b, &v); err != nil {
		return err
	}
	c.Target = callhost.Address{Class: string(v.TargetClass), ID: string(v.TargetID)}
	c.Steps = v.Steps
	c.HasCont, c.ContHandler, c.ContArgs = v.HasCont, string(v.ContHandler), v.ContArgs
	c.ContObject = callhost.Address{Class: string(v.ContObjectClass), ID: string(v.ContObjectID)}
	c.TimeoutMS, c.Flags = v.TimeoutMS, v.Flags
	return nil
}

// DecodeCallView decodes a call envelope as [DecodeCall] does, without
// copying its strings.
func DecodeCallView(b []byte, c *CallView) error {
	r := msgp.NewReader(b)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	if n < 5 {
		return errorf("call envelope has %d elements, want 5", n)
	}
	if c.TargetClass, c.TargetID, err = readAddressBytes(&r); err != nil {
		return err
	}
	if c.Steps, err = r.ReadRaw(); err != nil {
		return err
	}
	if err := readContinuation(&r, c); err != nil {
		return err
	}
	if c.TimeoutMS, err = r.ReadUint(); err != nil {
		return err
	}
	c.Flags, err = r.ReadUint()
	return err
}

func readContinuation(r *msgp.Reader, c *CallView) error {
	c.HasCont, c.ContHandler, c.ContArgs = false, nil, nil
	c.ContObjectClass, c.ContObjectID = nil, nil
	if r.IsNil() {
		return nil
	}
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	if n < 2 {
		return errorf("continuation has %d elements, want 2 or 3", n)
	}
	c.HasCont = true
	if c.ContHandler, err = r.ReadStringBytes(); err != nil {
		return err
	}
	if c.ContArgs, err = r.ReadRaw(); err != nil {
		return err
	}
	if n >= 3 && !r.IsNil() {
		if c.ContObjectClass, c.ContObjectID, err = readAddressBytes(r); err != nil {
			return err
		}
		n--
	} else if n >= 3 {
		n--
	}
	return skipN(r, n-2)
}
