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
	b = msgp.AppendArrayHeader(b, 5)
	b = msgp.AppendArrayHeader(b, 2)
	b = appendStr(b, c.Class)
	b = appendStr(b, c.ID)

	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	b = appendStr(b, c.Handler)
	b = msgp.AppendArrayHeader(b, c.Args)
	ints := c.Ints
	for k := 0; k < c.Args; k++ {
		b = msgp.AppendInt(b, int64(binary.LittleEndian.Uint64(ints[8*k:])))
	}

	if len(c.ContHandler) == 0 {
		b = msgp.AppendNil(b)
	} else {
		b = msgp.AppendArrayHeader(b, 3)
		b = appendStr(b, c.ContHandler)
		b = msgp.AppendArrayHeader(b, c.ContArgs)
		ints = ints[8*c.Args:]
		for k := 0; k < c.ContArgs; k++ {
			if c.Placeholders&(1<<k) != 0 {
				b, _ = callhost.Placeholder.AppendMsgpack(b)
			} else {
				b = msgp.AppendInt(b, int64(binary.LittleEndian.Uint64(ints[8*k:])))
			}
		}
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
