package protocol

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

func steps(t *testing.T, op callhost.Operation) []byte {
	t.Helper()
	b, err := op.AppendSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWelcomeRoundTrip(t *testing.T) {
	in := Welcome{ClientID: "c-1", Version: Version, MaxFrameSize: 1 << 20}
	var out Welcome
	if err := DecodeWelcome(AppendWelcome(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("decoded %+v, want %+v", out, in)
	}
	short := msgp.AppendUint(msgp.AppendString(msgp.AppendUint(
		msgp.AppendArrayHeader(nil, 3), 0), "x"), 1)
	if err := DecodeWelcome(short, &out); err != nil || out.MaxFrameSize != 0 {
		t.Fatalf("three-element welcome: %+v, %v", out, err)
	}
}

func TestCallRoundTrip(t *testing.T) {
	in := Call{
		ReqID:     7,
		Target:    callhost.Object("counter", "a"),
		Steps:     steps(t, callhost.Op("add", 1).Then("get", callhost.Prev)),
		TimeoutMS: 1500,
		Flags:     FlagNoReply,
	}
	b := AppendCall(nil, &in)
	h, err := ReadHeader(b)
	if err != nil || h.Type != TypeCall || h.ID != 7 {
		t.Fatalf("header %+v, %v", h, err)
	}
	var out Call
	if err := DecodeCall(b, &out); err != nil {
		t.Fatal(err)
	}
	if out.ReqID != 7 || out.Target != in.Target || !bytes.Equal(out.Steps, in.Steps) {
		t.Fatalf("decoded %+v", out)
	}
	if !out.NoReply() || out.Timeout() != 1500*time.Millisecond {
		t.Fatalf("flags or timeout wrong: %+v", out)
	}
}

func TestCallTimeoutCapped(t *testing.T) {
	c := Call{TimeoutMS: 1 << 63}
	if c.Timeout() != MaxTimeout {
		t.Fatalf("timeout %s, want %s", c.Timeout(), MaxTimeout)
	}
}

func TestOutcomeRoundTrip(t *testing.T) {
	value, _ := msgp.Marshal([]any{"a", 1})
	var o Outcome
	if err := DecodeResult(AppendResult(nil, 3, value, nil), &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != 3 || o.Err != nil || !bytes.Equal(o.Value, value) {
		t.Fatalf("decoded %+v", o)
	}
	if err := DecodeResult(AppendResult(nil, 3, nil, nil), &o); err != nil ||
		!bytes.Equal(o.Value, []byte{0xc0}) {
		t.Fatalf("nil value decoded as %x, %v", o.Value, err)
	}
	failed := callhost.Errorf(callhost.CodeNotFound, "no such class")
	if err := DecodeReply(AppendReply(nil, 9, nil, failed), &o); err != nil {
		t.Fatal(err)
	}
	if o.ID != 9 || o.Err == nil || *o.Err != *failed {
		t.Fatalf("decoded %+v", o)
	}
}

func TestInvokeRoundTrip(t *testing.T) {
	args, _ := msgp.Marshal([]any{21})
	in := Invoke{
		ReplyTo: 4,
		From:    callhost.Object("svc", "x"),
		Handler: "double",
		Args:    args,
		CallID:  99,
		Hops: []callhost.Address{
			{Class: callhost.ClassClient, ID: "c"}, callhost.Object("svc", "x"),
		},
	}
	var out Invoke
	if err := DecodeInvoke(AppendInvoke(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if out.ReplyTo != 4 || out.From != in.From || out.Handler != "double" || out.CallID != 99 {
		t.Fatalf("decoded %+v", out)
	}
	if !bytes.Equal(out.Args, args) || len(out.Hops) != 2 || out.Hops[1] != in.From {
		t.Fatalf("decoded args %x hops %v", out.Args, out.Hops)
	}
}

func TestReadHeaderTruncated(t *testing.T) {
	big := make([]byte, 4000)
	b := AppendCall(nil, &Call{
		ReqID: 300, Target: callhost.Object("c", "i"), Steps: steps(t, callhost.Op("h", big)),
	})
	h, err := ReadHeader(b[:8])
	if err != nil || h.Type != TypeCall || h.ID != 300 {
		t.Fatalf("header of a truncated frame: %+v, %v", h, err)
	}
	long := msgp.AppendUint(msgp.AppendUint(msgp.AppendArrayHeader(nil, 20), 1), 5)
	if h, err := ReadHeader(long); err != nil || h.ID != 5 {
		t.Fatalf("header of an array 16 frame: %+v, %v", h, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	op := steps(t, callhost.Op("h"))
	call := func(reqID uint64, target callhost.Address, flags uint64) []byte {
		return AppendCall(nil, &Call{ReqID: reqID, Target: target, Steps: op, Flags: flags})
	}
	arr := func(vals ...any) []byte {
		b, err := msgp.Marshal(vals)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	obj := callhost.Object("c", "i")
	cases := []struct {
		name  string
		frame []byte
		want  string
	}{
		{"not an array", []byte{0xc3}, "not a MessagePack array"},
		{"empty", nil, "not a MessagePack array"},
		{"one element", arr(1), "want at least 2"},
		{"type not uint", arr("x", 1), "frame type"},
		{"zero req_id", call(0, obj, 0), "req_id is 0"},
		{"empty class", call(1, callhost.Object("", "i"), 0), "needs a class and an id"},
		{"unknown flag", call(1, obj, 6), "unknown flags 0x6"},
		{"short call", arr(1, 1, []any{"c", "i"}), "has 3 elements, want 6"},
		{"operation not array", arr(1, 1, []any{"c", "i"}, "op", 0, 0),
			"operation is not an array"},
		{"trailing bytes", append(call(1, obj, 0), 0xc0), "bytes after its array"},
		{"negative code", arr(3, 1, -1, "x"), "code -1 is negative"},
		{"message not string", arr(3, 1, 5, 5), "message"},
		{"zero reply_to", arr(3, 0, 0, nil), "reply_to is 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeAny(tc.frame)
			var ce *callhost.Error
			if !errors.As(err, &ce) || ce.Code != callhost.CodeBadRequest {
				t.Fatalf("error %v, want a bad_request *callhost.Error", err)
			}
			if !strings.Contains(ce.Message, tc.want) {
				t.Fatalf("message %q does not contain %q", ce.Message, tc.want)
			}
		})
	}
}

// decodeAny decodes a frame of any client-to-server type.
func decodeAny(b []byte) error {
	h, err := ReadHeader(b)
	if err != nil {
		return err
	}
	switch h.Type {
	case TypeCall:
		var c Call
		return DecodeCall(b, &c)
	case TypeReply:
		var o Outcome
		return DecodeReply(b, &o)
	}
	return errors.New("unexpected type")
}

func TestValidClientID(t *testing.T) {
	for _, id := range []string{"a", "A-b_c.9", strings.Repeat("x", 128)} {
		if !ValidClientID(id) {
			t.Errorf("ValidClientID(%q) = false", id)
		}
	}
	for _, id := range []string{"", strings.Repeat("x", 129), "a b", "a/b", "é", "@client"} {
		if ValidClientID(id) {
			t.Errorf("ValidClientID(%q) = true", id)
		}
	}
}
