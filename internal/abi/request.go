package abi

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// Request is the envelope the host writes before calling callhost_turn.
type Request struct {
	Kind    int
	Handler string
	Args    []byte // encoded array; nil encodes as an empty array
	Self    callhost.Address
	Caller  callhost.Address // zero when there is none
	Hops    []callhost.Address
	CallID  uint64

	// HopsEncoded, when not nil, is the encoded hops array, appended as is in
	// place of Hops. The host caches it for the many requests that share one
	// hops list. DecodeRequest leaves it nil.
	HopsEncoded []byte
}

var emptyArray = []byte{0x90}

// AppendRequest appends the encoding of q.
func AppendRequest(b []byte, q *Request) []byte {
	b = msgp.AppendArrayHeader(b, 7)
	b = msgp.AppendInt(b, int64(q.Kind))
	b = msgp.AppendString(b, q.Handler)
	if len(q.Args) == 0 {
		b = append(b, emptyArray...)
	} else {
		b = append(b, q.Args...)
	}
	b = AppendAddress(b, q.Self)
	if q.Caller.IsZero() {
		b = msgp.AppendNil(b)
	} else {
		b = AppendAddress(b, q.Caller)
	}
	if q.HopsEncoded != nil {
		b = append(b, q.HopsEncoded...)
	} else {
		b = AppendHops(b, q.Hops)
	}
	return msgp.AppendUint(b, q.CallID)
}

// AppendHops appends hops as the array of addresses of a request.
func AppendHops(b []byte, hops []callhost.Address) []byte {
	b = msgp.AppendArrayHeader(b, len(hops))
	for _, h := range hops {
		b = AppendAddress(b, h)
	}
	return b
}

// DecodeRequest decodes a request into q. q.Args aliases b.
func DecodeRequest(b []byte, q *Request) error {
	r := msgp.NewReader(b)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	if n < 7 {
		return errorf("request has %d elements, want 7", n)
	}
	kind, err := r.ReadInt()
	if err != nil {
		return err
	}
	q.Kind = int(kind)
	if q.Handler, err = r.ReadString(); err != nil {
		return err
	}
	if q.Args, err = r.ReadRaw(); err != nil {
		return err
	}
	if q.Self, err = ReadAddress(&r); err != nil {
		return err
	}
	q.Caller = callhost.Address{}
	if !r.IsNil() {
		if q.Caller, err = ReadAddress(&r); err != nil {
			return err
		}
	}
	if err := readHops(&r, q); err != nil {
		return err
	}
	q.CallID, err = r.ReadUint()
	return err
}

func readHops(r *msgp.Reader, q *Request) error {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	q.Hops = q.Hops[:0]
	for i := 0; i < n; i++ {
		a, err := ReadAddress(r)
		if err != nil {
			return err
		}
		q.Hops = append(q.Hops, a)
	}
	return nil
}

// AppendOK appends a success response or outcome whose value is the encoded
// value v (nil encodes as MessagePack nil).
func AppendOK(b []byte, v []byte) []byte {
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, 0)
	if len(v) == 0 {
		return msgp.AppendNil(b)
	}
	return append(b, v...)
}

// AppendError appends an error response or outcome.
func AppendError(b []byte, code callhost.Code, message string) []byte {
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendInt(b, int64(code))
	return msgp.AppendString(b, message)
}

// DecodeOutcome decodes a response or outcome. On success it returns the
// encoded value (aliasing b) and a nil error; on a failed outcome it returns a
// *callhost.Error. A malformed envelope is reported as a plain error.
func DecodeOutcome(b []byte) (value []byte, outcome *callhost.Error, err error) {
	r := msgp.NewReader(b)
	return ReadOutcome(&r)
}

// ReadOutcome is [DecodeOutcome] for an outcome read from r, which it leaves
// after the outcome, past any elements beyond the first two.
func ReadOutcome(r *msgp.Reader) (value []byte, outcome *callhost.Error, err error) {
	n, ok := r.TryArrayHeader()
	if !ok {
		if n, err = r.ReadArrayHeader(); err != nil {
			return nil, nil, err
		}
	}
	if n < 2 {
		return nil, nil, errorf("outcome has %d elements, want 2", n)
	}
	code, ok := r.TryInt()
	if !ok {
		if code, err = r.ReadInt(); err != nil {
			return nil, nil, err
		}
	}
	if code == 0 {
		value, err = r.ReadRaw()
	} else {
		var msg string
		if msg, err = r.ReadString(); err == nil {
			outcome = &callhost.Error{Code: callhost.Code(code), Message: msg}
		}
	}
	if err == nil && n > 2 {
		err = skipN(r, n-2)
	}
	if err != nil {
		return nil, nil, err
	}
	return value, outcome, nil
}
