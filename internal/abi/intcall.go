package abi

import (
	"encoding/binary"
	"unsafe"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// MaxIntArgs is the largest number of arguments each of the operation and the
// continuation may have in a call made with the call_ints import: the
// continuation's placeholders are a 64-bit mask.
const MaxIntArgs = 64

// MaxIntCallStrings is the most bytes the four strings of a call_ints call
// may have together. It bounds the envelope the host encodes for the guest.
const MaxIntCallStrings = 64 << 10

// IntCall is a call in the form of the call_ints import: one step whose
// arguments are integers, and an optional continuation, on the caller, whose
// arguments are integers and result placeholders. Ints holds the step's
// arguments followed by the continuation's, each a little-endian int64.
type IntCall struct {
	Class, ID, Handler []byte
	ContHandler        []byte // empty for a call without continuation
	Ints               []byte
	Args, ContArgs     int    // number of arguments of the step and of the continuation
	Placeholders       uint64 // bit k set: continuation argument k is the placeholder
	TimeoutMS, Flags   uint64
}

// AppendIntCall appends the call envelope of c: the same bytes as
// [AppendCall] writes for the same call given as Go values. The caller checks
// that Ints holds 8*(Args+ContArgs) bytes, that both counts are at most
// MaxIntArgs, and that a call without continuation has no continuation
// arguments.
func AppendIntCall(b []byte, c *IntCall) []byte {
	var s intCallSpans
	return appendIntCall(b, c, &s)
}

// AppendIntCallView appends the envelope of c as [AppendIntCall] does. It
// also sets v and chk, without decoding the envelope, to what
// [Limits.DecodeCheckedCall] gives for it under any limits for which
// [Limits.AllowsSimpleCalls] holds. The slices of v alias the returned
// envelope.
//
// Under those limits the checks pass for every such call, because its
// operation is one step whose arguments are integers, and its continuation
// arguments are integers and result placeholders.
func AppendIntCallView(b []byte, c *IntCall, v *CallView, chk *CallChecks) []byte {
	var s intCallSpans
	b = appendIntCall(b, c, &s)
	*v = CallView{
		TargetClass: b[s.class[0]:s.class[1]],
		TargetID:    b[s.id[0]:s.id[1]],
		Steps:       b[s.steps[0]:s.steps[1]],
		TimeoutMS:   c.TimeoutMS,
		Flags:       c.Flags,
	}
	if len(c.ContHandler) > 0 {
		v.HasCont = true
		v.ContHandler = b[s.contHandler[0]:s.contHandler[1]]
		v.ContArgs = b[s.contArgs[0]:s.contArgs[1]]
	}
	// A shift by 64 gives 0, so the mask covers all 64 bits then.
	marked := c.Placeholders & (uint64(1)<<c.ContArgs - 1)
	*chk = CallChecks{Operation: OperationInfo{Steps: 1}, Placeholder: v.HasCont && marked != 0}
	return b
}

// intCallSpans is where appendIntCall wrote the parts of an envelope, as
// start and end offsets. It covers the bytes of the strings, the encoded
// operation and the encoded continuation arguments.
type intCallSpans struct {
	class, id, steps, contHandler, contArgs [2]int
}

func appendIntCall(b []byte, c *IntCall, s *intCallSpans) []byte {
	b = msgp.AppendArrayHeader(b, 5)
	b = msgp.AppendArrayHeader(b, 2)
	b = appendStr(b, c.Class)
	s.class = [2]int{len(b) - len(c.Class), len(b)}
	b = appendStr(b, c.ID)
	s.id = [2]int{len(b) - len(c.ID), len(b)}

	s.steps[0] = len(b)
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	b = appendStr(b, c.Handler)
	b = msgp.AppendArrayHeader(b, c.Args)
	ints := c.Ints
	for k := 0; k < c.Args; k++ {
		b = msgp.AppendInt(b, int64(binary.LittleEndian.Uint64(ints[8*k:])))
	}
	s.steps[1] = len(b)

	if len(c.ContHandler) == 0 {
		b = msgp.AppendNil(b)
	} else {
		b = msgp.AppendArrayHeader(b, 3)
		b = appendStr(b, c.ContHandler)
		s.contHandler = [2]int{len(b) - len(c.ContHandler), len(b)}
		s.contArgs[0] = len(b)
		b = msgp.AppendArrayHeader(b, c.ContArgs)
		ints = ints[8*c.Args:]
		for k := 0; k < c.ContArgs; k++ {
			if c.Placeholders&(1<<k) != 0 {
				b, _ = callhost.Placeholder.AppendMsgpack(b)
			} else {
				b = msgp.AppendInt(b, int64(binary.LittleEndian.Uint64(ints[8*k:])))
			}
		}
		s.contArgs[1] = len(b)
		b = msgp.AppendNil(b)
	}

	b = msgp.AppendUint(b, c.TimeoutMS)
	return msgp.AppendUint(b, c.Flags)
}

// appendStr appends s as a MessagePack string without copying it to a Go
// string first.
func appendStr(b, s []byte) []byte {
	return msgp.AppendString(b, unsafe.String(unsafe.SliceData(s), len(s)))
}
