package guest

import (
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// Result is the outcome of a call as a continuation receives it: the value
// the target returned, or the error it failed with. Declare a continuation
// parameter (or a field, slice element or map value inside one) of type
// Result[T] where the continuation's arguments hold [Placeholder].
//
// On the wire an outcome is the array [0, value] on success and
// [code, message] on failure.
type Result[T any] struct {
	// Value is the decoded result. It is the zero value when Err is set.
	Value T
	// Err is the failure, or nil on success.
	Err *callhost.Error
}

// Get returns the value, or the call's error as a *callhost.Error.
func (r Result[T]) Get() (T, error) {
	if r.Err != nil {
		return r.Value, r.Err
	}
	return r.Value, nil
}

// UnmarshalMsgpack decodes an outcome. The value of a successful outcome
// must decode into T.
//
// A Result decoded as a handler parameter rejects a nil outcome. Nested in a
// struct, slice or map decoded by msgpack.Unmarshal, a nil leaves the zero
// Result, because msgpack handles nil before it calls this method.
func (r *Result[T]) UnmarshalMsgpack(b []byte) error {
	rd := msgp.NewReader(b)
	return r.decodeArg(&rd)
}

// decodeArg decodes an outcome from a handler's arguments. A Result[int]
// handler parameter does not come here: argReader.decode reads it.
func (r *Result[T]) decodeArg(rd *msgp.Reader) error { return r.decodeAny(rd) }

// decodeAny decodes an outcome of any form, with the general reader.
func (r *Result[T]) decodeAny(rd *msgp.Reader) error {
	value, failed, err := abi.ReadOutcome(rd)
	if err != nil {
		return fmt.Errorf("decode outcome: %w", err)
	}
	var zero T
	r.Value, r.Err = zero, failed
	if failed != nil {
		return nil
	}
	if err := decodeValue(value, &r.Value); err != nil {
		return fmt.Errorf("decode outcome value into %T: %w", r.Value, err)
	}
	return nil
}

// AppendMsgpack appends r in its outcome form.
func (r Result[T]) AppendMsgpack(b []byte) ([]byte, error) {
	if r.Err != nil {
		code := r.Err.Code
		if code == callhost.CodeOK {
			code = callhost.CodeGuestError
		}
		return abi.AppendError(b, code, r.Err.Message), nil
	}
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 0)
	return msgp.Append(b, r.Value)
}

// EncodeMsgpack encodes r in its outcome form when it is nested inside a
// value that msgpack.Marshal encodes.
func (r Result[T]) EncodeMsgpack(enc *msgpack.Encoder) error {
	b, err := r.AppendMsgpack(nil)
	if err != nil {
		return err
	}
	_, err = enc.Writer().Write(b)
	return err
}
