package abi

import (
	"math"
	"unsafe"

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
	if out, ok := appendSimpleCall(b, target, op, cont, timeoutMS, flags); ok {
		return out, nil
	}
	return appendCallAny(b, target, op, cont, timeoutMS, flags)
}

// appendCallAny appends a call envelope of any shape.
func appendCallAny(b []byte, target callhost.Address, op callhost.Operation,
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
	return decodeCallView(b, c, nil)
}

// CallChecks are the results of checking the operation and the continuation
// arguments of a call envelope: what [Limits.CheckOperation] and
// [Limits.CheckContinuationArgs] return for them.
type CallChecks struct {
	Operation    OperationInfo
	OperationErr error
	Placeholder  bool  // the continuation arguments hold a result placeholder
	ContArgsErr  error // nil when the call has no continuation
}

// DecodeCheckedCall decodes a call envelope as [DecodeCallView] does and
// checks its operation and continuation arguments within l. The checks'
// results in chk are valid only when it returns nil: an envelope that does
// not decode fails with the decoding error whatever its checks find.
//
// A value that passes its check where it sits in the envelope is read only
// once. A value that fails it is read again on its own, so that chk holds
// the very error the Check method returns.
func (l Limits) DecodeCheckedCall(b []byte, c *CallView, chk *CallChecks) error {
	if l.decodeSimpleCall(b, c, chk) {
		return nil
	}
	*chk = CallChecks{}
	return decodeCallView(b, c, &callChecker{limits: l, chk: chk})
}

// callChecker checks the operation and continuation arguments of an envelope
// while decodeCallView reads them.
type callChecker struct {
	limits Limits
	chk    *CallChecks
}

// inPlace reports whether a value that passes its check where it sits in the
// envelope also passes msgp.Reader.Skip, which DecodeCallView reads it with,
// so that the check's pass can stand in for Skip. Skip rejects nesting more
// than msgp.MaxDepth levels below the operation or the continuation
// arguments. The checks reject arrays and maps more than MaxDepth levels
// below the operation's arguments, which are two levels below the
// operation, or below the continuation arguments, and accept a scalar one
// level further down. Elements after [handler, args] in a step are
// skipped without that limit, so readOperation does not use a pass that met
// them.
func (k *callChecker) inPlace() bool { return k.limits.MaxDepth+1 < msgp.MaxDepth }

// readOperation reads the operation at r's position in envelope and checks
// it.
func (k *callChecker) readOperation(envelope []byte, r *msgp.Reader) ([]byte, error) {
	if k == nil {
		return r.ReadRaw()
	}
	start := *r
	if k.inPlace() {
		var found stepsFound
		n, err := k.limits.checkSteps(r, 0, &found)
		if err == nil && !found.extra {
			k.chk.Operation = OperationInfo{Steps: n, Ext: found.ext}
			return envelope[start.Offset():r.Offset()], nil
		}
		*r = start
	}
	steps, err := r.ReadRaw()
	if err != nil {
		return nil, err
	}
	k.chk.Operation, k.chk.OperationErr = k.limits.CheckOperation(steps)
	return steps, nil
}

// readContArgs reads the continuation arguments at r's position in
// envelope and checks them.
func (k *callChecker) readContArgs(envelope []byte, r *msgp.Reader) ([]byte, error) {
	if k == nil {
		return r.ReadRaw()
	}
	start := *r
	if k.inPlace() {
		placeholder, err := k.limits.checkContinuationArgs(r)
		if err == nil {
			k.chk.Placeholder = placeholder
			return envelope[start.Offset():r.Offset()], nil
		}
		*r = start
	}
	args, err := r.ReadRaw()
	if err != nil {
		return nil, err
	}
	k.chk.Placeholder, k.chk.ContArgsErr = k.limits.CheckContinuationArgs(args)
	return args, nil
}

// decodeCallView decodes a call envelope into c and, when k is not nil,
// checks its operation and continuation arguments.
func decodeCallView(b []byte, c *CallView, k *callChecker) error {
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
	if c.Steps, err = k.readOperation(b, &r); err != nil {
		return err
	}
	if err := readContinuation(b, &r, c, k); err != nil {
		return err
	}
	if c.TimeoutMS, err = r.ReadUint(); err != nil {
		return err
	}
	c.Flags, err = r.ReadUint()
	return err
}

func readContinuation(b []byte, r *msgp.Reader, c *CallView, k *callChecker) error {
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
	if c.ContArgs, err = k.readContArgs(b, r); err != nil {
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

// Limits of the calls that appendSimpleCall encodes.
const (
	simpleMaxString = 31 // maximum length of a fixstr
	simpleMaxArgs   = 15 // maximum elements of a fixarray
)

// appendSimpleCall appends the envelope of the most common kind of call. Such
// a call has one step, strings under 32 bytes, at most 15 arguments per step
// or continuation, each an int or a marker, no continuation object, and a
// timeout and flags under 128. For any other call it reports false and leaves
// the contents of b unchanged. It reserves the envelope's largest size once
// and writes by index, which saves a wasm guest a capacity check and a
// slice-header store per value.
func appendSimpleCall(b []byte, target callhost.Address, op callhost.Operation,
	cont *Continuation, timeoutMS, flags uint64) ([]byte, bool) {
	steps := op.Steps()
	if len(steps) != 1 || timeoutMS|flags >= 128 ||
		len(target.Class) > simpleMaxString || len(target.ID) > simpleMaxString ||
		len(steps[0].Handler) > simpleMaxString || len(steps[0].Args) > simpleMaxArgs {
		return b, false
	}
	const maxInt = 9 // bytes of the longest int encoding
	need := 4 + len(target.Class) + len(target.ID) + 4 + len(steps[0].Handler) +
		maxInt*len(steps[0].Args) + 2
	if cont != nil {
		if len(cont.Handler) > simpleMaxString || len(cont.Args) > simpleMaxArgs ||
			!cont.Object.IsZero() {
			return b, false
		}
		need += 4 + len(cont.Handler) + maxInt*len(cont.Args)
	} else {
		need++
	}
	n := len(b)
	if cap(b)-n < need {
		b = append(b[:n:n], make([]byte, need)...)
	}
	w := envelopeWriter{p: unsafe.Pointer(unsafe.SliceData(b)), n: n}
	w.put2(0x95, 0x92) // envelope, target address
	w.shortString(target.Class)
	w.shortString(target.ID)
	w.put2(0x91, 0x92) // one step of [handler, args]
	w.shortString(steps[0].Handler)
	if !w.simpleArgs(steps[0].Args) {
		return b[:n], false
	}
	if cont == nil {
		w.put(0xc0)
	} else {
		w.put(0x93) // [handler, args, object]
		w.shortString(cont.Handler)
		if !w.simpleArgs(cont.Args) {
			return b[:n], false
		}
		w.put(0xc0)
	}
	w.put2(byte(timeoutMS), byte(flags))
	return b[:w.n], true
}

// envelopeWriter writes an envelope into memory whose size appendSimpleCall
// has reserved. It writes through a pointer without bounds checks, which in
// a wasm guest cost as much as the stores themselves. Every write stays
// within the reserved size, because that size counts the widest encoding of
// each value. The tests in call_test.go encode the widest values of each
// shape.
type envelopeWriter struct {
	p unsafe.Pointer // first byte of the buffer
	n int            // offset of the next byte
}

func (w *envelopeWriter) put(c byte) {
	*(*byte)(unsafe.Add(w.p, w.n)) = c
	w.n++
}

func (w *envelopeWriter) put2(c, d byte) {
	*(*byte)(unsafe.Add(w.p, w.n)) = c
	*(*byte)(unsafe.Add(w.p, w.n+1)) = d
	w.n += 2
}

// shortString writes s, at most 31 bytes, as a fixstr. Its bytes are copied
// in a loop, which a wasm guest runs faster than a call of memmove.
func (w *envelopeWriter) shortString(s string) {
	w.put(0xa0 | byte(len(s)))
	q := unsafe.Add(w.p, w.n)
	for i := 0; i < len(s); i++ {
		*(*byte)(unsafe.Add(q, i)) = s[i]
	}
	w.n += len(s)
}

// simpleArgs writes args, at most 15 ints and markers, as a fixarray. It
// reports false when an argument has another type.
func (w *envelopeWriter) simpleArgs(args []any) bool {
	w.put(0x90 | byte(len(args)))
	for _, a := range args {
		switch v := a.(type) {
		case int:
			w.integer(int64(v))
		case callhost.Marker:
			// A marker is an ext 8 value of length 0.
			switch v {
			case callhost.Placeholder:
				w.put2(0xc7, 0)
				w.put(byte(callhost.ExtPlaceholder))
			case callhost.Prev:
				w.put2(0xc7, 0)
				w.put(byte(callhost.ExtPrev))
			default:
				return false
			}
		default:
			return false
		}
	}
	return true
}

// integer writes v in its shortest form, at most 9 bytes.
func (w *envelopeWriter) integer(v int64) {
	var size int
	switch {
	case v >= -32 && v < 128:
		w.put(byte(v))
		return
	case v >= 0 && v <= math.MaxUint8:
		w.put2(0xcc, byte(v))
		return
	case v >= 0 && v <= math.MaxUint16:
		w.put(0xcd)
		size = 2
	case v >= 0 && v <= math.MaxUint32:
		w.put(0xce)
		size = 4
	case v >= 0:
		w.put(0xcf)
		size = 8
	case v >= math.MinInt8:
		w.put2(0xd0, byte(v))
		return
	case v >= math.MinInt16:
		w.put(0xd1)
		size = 2
	case v >= math.MinInt32:
		w.put(0xd2)
		size = 4
	default:
		w.put(0xd3)
		size = 8
	}
	q := unsafe.Add(w.p, w.n)
	for i := size - 1; i >= 0; i-- {
		*(*byte)(unsafe.Add(q, i)) = byte(v)
		v >>= 8
	}
	w.n += size
}
