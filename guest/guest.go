package guest

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// Address names an object: its class and its id within the class.
type Address = callhost.Address

// Operation is the work a call runs on its target: one step or a chain of
// steps.
type Operation = callhost.Operation

var (
	// Placeholder marks where a continuation's arguments receive the call's
	// outcome. It may stand at any depth: in a slice, as a map value or as a
	// struct field of type any or [callhost.Marker].
	Placeholder = callhost.Placeholder
	// Prev stands for the result of the previous step of a chain built with
	// [Operation.Then].
	Prev = callhost.Prev
)

// Object returns the address of object id of class.
func Object(class, id string) Address { return callhost.Object(class, id) }

// Op returns an operation that runs handler with args on the target.
func Op(handler string, args ...any) Operation { return callhost.Op(handler, args...) }

// Errorf returns a *callhost.Error with code and a formatted message. A
// handler that returns it, or an error wrapping it, fails its turn with that
// code and message. Guest code should use [callhost.CodeGuestError] or an
// application code from [callhost.CodeApplication] up.
func Errorf(code callhost.Code, format string, args ...any) error {
	return callhost.Errorf(code, format, args...)
}

// None is the result type of a handler that returns nothing. It encodes as
// MessagePack nil, and decodes from any value, which it discards, so
// Result[None] accepts the outcome of any call.
type None struct{}

// AppendMsgpack appends nil.
func (None) AppendMsgpack(b []byte) ([]byte, error) { return msgp.AppendNil(b), nil }

// EncodeMsgpack encodes None as nil when it is nested inside another value.
func (None) EncodeMsgpack(enc *msgpack.Encoder) error { return enc.EncodeNil() }

// UnmarshalMsgpack accepts any single value and discards it.
func (*None) UnmarshalMsgpack(b []byte) error {
	r := msgp.NewReader(b)
	return r.Skip()
}

// decodeArg skips the argument.
func (*None) decodeArg(r *msgp.Reader) error { return r.Skip() }
