package protocol

import (
	"bytes"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/fuzzcheck"
)

// FuzzDecodeClientFrame decodes input the way the server treats a frame
// from a client: the header first, then a call or a reply by its type. A
// call that decodes must encode back to the same bytes when the input was
// in canonical form, and its operation goes through the runtime's check.
func FuzzDecodeClientFrame(f *testing.F) {
	steps, _ := callhost.Op("add", callhost.Op("double", 3), 4).AppendSteps(nil)
	call := AppendCall(nil, &Call{ReqID: 1, Target: callhost.Object("counter", "a"),
		Steps: steps, TimeoutMS: 250, Flags: FlagNoReply})
	fuzzcheck.Seed(f,
		call,
		append(call[:len(call):len(call)], 0x00), // a byte after the array
		AppendReply(nil, 17, []byte{0xc0}, nil),
		AppendReply(nil, 3, nil, callhost.Errorf(callhost.CodeNotFound, "no handler")),
		AppendResult(nil, 2, []byte{0x01}, nil),                      // a type the server does not accept
		[]byte{0x96, 0x01, 0x00, 0x92, 0xa0, 0xa0, 0x90, 0x00, 0x00}, // req_id 0
		[]byte{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01},             // forged count
		[]byte{0x96, 0x01, 0x01, 0x92, 0xdb, 0xff, 0xff, 0xff, 0xff}, // forged length
		[]byte{0x91, 0x01},
		[]byte("not msgpack"),
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > fuzzcheck.MaxInput {
			t.Skip()
		}
		h, err := ReadHeader(in)
		if err != nil {
			return
		}
		switch h.Type {
		case TypeCall:
			checkCall(t, in, h)
		case TypeReply:
			var o Outcome
			if DecodeReply(in, &o) == nil && o.ID != h.ID {
				t.Fatalf("reply_to %d, header id %d", o.ID, h.ID)
			}
		}
	})
}

func checkCall(t *testing.T, in []byte, h Header) {
	var c Call
	if err := DecodeCall(in, &c); err != nil {
		return
	}
	if c.ReqID != h.ID || c.ReqID == 0 {
		t.Fatalf("req_id %d, header id %d", c.ReqID, h.ID)
	}
	if len(c.Steps) > len(in) || len(c.Target.Class)+len(c.Target.ID) > len(in) {
		t.Fatalf("decoded parts are longer than the %d-byte input", len(in))
	}
	if _, err := abi.CheckOperation(c.Steps); err != nil {
		return
	}
	again := AppendCall(nil, &c)
	var c2 Call
	if err := DecodeCall(again, &c2); err != nil {
		t.Fatalf("re-encoded call does not decode: %v", err)
	}
	if c2.ReqID != c.ReqID || c2.Target != c.Target || !bytes.Equal(c2.Steps, c.Steps) ||
		c2.TimeoutMS != c.TimeoutMS || c2.Flags != c.Flags {
		t.Fatalf("round trip changed the call: %+v, then %+v", c, c2)
	}
}
