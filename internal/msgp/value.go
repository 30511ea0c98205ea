package msgp

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Appender is implemented by types that encode themselves without reflection.
type Appender interface {
	AppendMsgpack(b []byte) ([]byte, error)
}

// Raw is an encoded MessagePack value that is copied as is.
type Raw = msgpack.RawMessage

// Append appends the encoding of v. Common scalar, slice and map types and
// [Appender] implementations are encoded directly; other values go through
// msgpack.Marshal, which honours the msgpack struct tags.
//
// The concrete cases come before the Appender case because testing an
// interface case costs an itab lookup, which a wasm guest pays for on
// every scalar argument. None of those concrete types implements Appender.
func Append(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return AppendNil(b), nil
	case Raw:
		if len(v) == 0 {
			return AppendNil(b), nil
		}
		return append(b, v...), nil
	case bool:
		return AppendBool(b, v), nil
	case int:
		return AppendInt(b, int64(v)), nil
	case int8:
		return AppendInt(b, int64(v)), nil
	case int16:
		return AppendInt(b, int64(v)), nil
	case int32:
		return AppendInt(b, int64(v)), nil
	case int64:
		return AppendInt(b, v), nil
	case uint:
		return AppendUint(b, uint64(v)), nil
	case uint8:
		return AppendUint(b, uint64(v)), nil
	case uint16:
		return AppendUint(b, uint64(v)), nil
	case uint32:
		return AppendUint(b, uint64(v)), nil
	case uint64:
		return AppendUint(b, v), nil
	case float32:
		return AppendFloat32(b, v), nil
	case float64:
		return AppendFloat64(b, v), nil
	case string:
		return AppendString(b, v), nil
	case []byte:
		if v == nil {
			return AppendNil(b), nil
		}
		return AppendBytes(b, v), nil
	case []any:
		return appendSlice(b, v)
	case []string:
		b = AppendArrayHeader(b, len(v))
		for _, s := range v {
			b = AppendString(b, s)
		}
		return b, nil
	case []int:
		b = AppendArrayHeader(b, len(v))
		for _, n := range v {
			b = AppendInt(b, int64(n))
		}
		return b, nil
	case map[string]any:
		return appendMap(b, v)
	case Appender:
		return v.AppendMsgpack(b)
	}
	enc, err := msgpack.Marshal(v)
	if err != nil {
		return b, err
	}
	return append(b, enc...), nil
}

func appendSlice(b []byte, v []any) ([]byte, error) {
	if v == nil {
		return AppendNil(b), nil
	}
	b = AppendArrayHeader(b, len(v))
	for _, e := range v {
		var err error
		if b, err = Append(b, e); err != nil {
			return b, err
		}
	}
	return b, nil
}

func appendMap(b []byte, v map[string]any) ([]byte, error) {
	if v == nil {
		return AppendNil(b), nil
	}
	b = AppendMapHeader(b, len(v))
	for k, e := range v {
		b = AppendString(b, k)
		var err error
		if b, err = Append(b, e); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Marshal returns the encoding of v.
func Marshal(v any) ([]byte, error) { return Append(nil, v) }

// Unmarshal decodes one value from b into the value v points to. Pointers to
// common scalar types and msgpack.Unmarshaler implementations are decoded
// directly; others go through msgpack.Unmarshal.
func Unmarshal(b []byte, v any) error {
	if ok, err := UnmarshalScalar(b, v); ok {
		return err
	}
	if u, ok := v.(msgpack.Unmarshaler); ok {
		return u.UnmarshalMsgpack(b)
	}
	return msgpack.Unmarshal(b, v)
}

// UnmarshalScalar is the part of [Unmarshal] for pointers to common scalar
// types, []byte and [Raw]. It reports false, and decodes nothing, for any
// other v. Unlike Unmarshal it does not let v escape, so a caller's value
// that v points to can stay on the stack.
func UnmarshalScalar(b []byte, v any) (ok bool, err error) {
	r := NewReader(b)
	switch p := v.(type) {
	case *int:
		n, fix := r.TryInt()
		if !fix {
			n, err = r.ReadInt()
		}
		*p = int(n)
	case *int64:
		*p, err = r.ReadInt()
	case *int32:
		var n int64
		n, err = r.ReadInt()
		if err == nil && int64(int32(n)) != n {
			err = fmt.Errorf("msgpack: integer %d overflows int32", n)
		}
		*p = int32(n)
	case *uint64:
		*p, err = r.ReadUint()
	case *uint:
		var n uint64
		n, err = r.ReadUint()
		*p = uint(n)
	case *bool:
		*p, err = r.ReadBool()
	case *float64:
		*p, err = r.ReadFloat64()
	case *string:
		*p, err = r.ReadString()
	case *[]byte:
		if r.IsNil() {
			*p = nil
			break
		}
		var s []byte
		s, err = r.ReadBytes()
		*p = append([]byte(nil), s...)
	case *Raw:
		*p = append(Raw(nil), b...)
		return true, nil
	default:
		return false, nil
	}
	if err == nil && r.Len() != 0 {
		err = fmt.Errorf("msgpack: %d bytes left after value", r.Len())
	}
	return true, err
}
