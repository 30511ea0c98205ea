package abi

import (
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// benchRequest is the request of a continuation turn as the call-delay
// benchmark sends it: two scalar arguments and an outcome.
func benchRequest() *Request {
	args := msgp.AppendArrayHeader(nil, 3)
	args = msgp.AppendInt(msgp.AppendInt(args, 12345), 1<<40)
	args = AppendOK(args, msgp.AppendInt(nil, 24690))
	return &Request{Kind: KindContinuation, Handler: "got", Args: args,
		Self: callhost.Object("ctl", "c"), Caller: callhost.Object("calc", "t"),
		Hops: []callhost.Address{callhost.Object("@client", "runner")}, CallID: 99}
}

// BenchmarkRequestRoundTrip encodes a request as the host does before each
// turn and decodes it as a guest does.
func BenchmarkRequestRoundTrip(b *testing.B) {
	in := benchRequest()
	var out Request
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendRequest(buf[:0], in)
		if err := DecodeRequest(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallRoundTrip encodes a call envelope with a continuation as a
// guest does, and decodes and checks it as the host's call import does.
func BenchmarkCallRoundTrip(b *testing.B) {
	target := callhost.Object("calc", "t")
	op := callhost.Op("double", 12345)
	cont := &Continuation{Handler: "got", Args: []any{12345, 1 << 40, callhost.Placeholder}}
	buf := make([]byte, 0, 256)
	var c Call
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendCall(buf[:0], target, op, cont, 0, 0); err != nil {
			b.Fatal(err)
		}
		if err := DecodeCall(buf, &c); err != nil {
			b.Fatal(err)
		}
		if _, err := CheckOperation(c.Steps); err != nil {
			b.Fatal(err)
		}
		if ok, err := CheckContinuationArgs(c.ContArgs); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkOutcomeRoundTrip encodes a successful outcome and decodes it.
func BenchmarkOutcomeRoundTrip(b *testing.B) {
	value := msgp.AppendInt(nil, 24690)
	buf := make([]byte, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendOK(buf[:0], value)
		v, failure, err := DecodeOutcome(buf)
		if err != nil || failure != nil || len(v) != len(value) {
			b.Fatal(err, failure)
		}
	}
}

// BenchmarkFillPlaceholders fills the placeholder of continuation arguments
// [i, meta, placeholder] with an outcome, as the runtime does for every
// continuation.
func BenchmarkFillPlaceholders(b *testing.B) {
	args := msgp.AppendArrayHeader(nil, 3)
	args = msgp.AppendInt(msgp.AppendInt(args, 12345), 1<<40)
	args = msgp.AppendExtHeader(args, callhost.ExtPlaceholder, 0)
	outcome := AppendOK(nil, msgp.AppendInt(nil, 24690))
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = FillPlaceholders(buf[:0], args, outcome); err != nil {
			b.Fatal(err)
		}
	}
}
