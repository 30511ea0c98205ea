package abi

import (
	"testing"

	"github.com/callhost/callhost"
)

// TestDecodeCallViewMatchesDecodeCall decodes envelopes with and without a
// continuation both ways and compares every field.
func TestDecodeCallViewMatchesDecodeCall(t *testing.T) {
	op := callhost.Op("double", 2)
	conts := map[string]*Continuation{
		"none":      nil,
		"no object": {Handler: "got", Args: []any{1, callhost.Placeholder}},
		"object":    {Handler: "got", Args: []any{"x"}, Object: callhost.Object("me", "1")},
	}
	for name, cont := range conts {
		b, err := AppendCall(nil, callhost.Object("calc", "7"), op, cont, 250, FlagForward)
		if err != nil {
			t.Fatal(err)
		}
		var c Call
		if err := DecodeCall(b, &c); err != nil {
			t.Fatal(err)
		}
		var v CallView
		if err := DecodeCallView(b, &v); err != nil {
			t.Fatal(err)
		}
		target := callhost.Object(string(v.TargetClass), string(v.TargetID))
		if target != c.Target {
			t.Errorf("%s: view target %v, want %v", name, target, c.Target)
		}
		if string(v.Steps) != string(c.Steps) || string(v.ContArgs) != string(c.ContArgs) {
			t.Errorf("%s: view steps or continuation args differ from DecodeCall's", name)
		}
		if v.HasCont != c.HasCont || string(v.ContHandler) != c.ContHandler {
			t.Errorf("%s: view continuation %v %q, want %v %q", name, v.HasCont,
				v.ContHandler, c.HasCont, c.ContHandler)
		}
		object := callhost.Object(string(v.ContObjectClass), string(v.ContObjectID))
		if object != c.ContObject {
			t.Errorf("%s: view continuation object %v, want %v", name, object, c.ContObject)
		}
		if v.TimeoutMS != c.TimeoutMS || v.Flags != c.Flags {
			t.Errorf("%s: view timeout %d flags %d, want %d and %d", name, v.TimeoutMS,
				v.Flags, c.TimeoutMS, c.Flags)
		}
	}
}

func TestDecodeCallViewRejectsShortEnvelope(t *testing.T) {
	b, err := AppendCall(nil, callhost.Object("calc", "7"), callhost.Op("double", 2), nil, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	b[0] = 0x94 // an array of 4 elements in place of 5
	var v CallView
	if err := DecodeCallView(b, &v); err == nil {
		t.Fatal("DecodeCallView accepted a call envelope of 4 elements")
	}
}

// TestHotPathDecodersDoNotAllocate covers the decoders the host runs for
// every call and every invoke.
func TestHotPathDecodersDoNotAllocate(t *testing.T) {
	cont := &Continuation{Handler: "got", Args: []any{1, callhost.Placeholder}}
	b, err := AppendCall(nil, callhost.Object("calc", "t"), callhost.Op("double", 2),
		cont, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var v CallView
	if n := testing.AllocsPerRun(100, func() { _ = DecodeCallView(b, &v) }); n != 0 {
		t.Errorf("DecodeCallView allocates %v times per call, want 0", n)
	}
	ops := steps(t, callhost.Op("double", 2).Then("add", callhost.Prev, 1))
	var handlers []string
	err = ForEachStepBytes(ops, func(_ int, handler, _ []byte) error {
		handlers = append(handlers, string(handler))
		return nil
	})
	if err != nil || len(handlers) != 2 || handlers[0] != "double" || handlers[1] != "add" {
		t.Fatalf("ForEachStepBytes saw handlers %q (%v), want double and add", handlers, err)
	}
	n := testing.AllocsPerRun(100, func() {
		_ = ForEachStepBytes(ops, func(int, []byte, []byte) error { return nil })
	})
	if n != 0 {
		t.Errorf("ForEachStepBytes allocates %v times per operation, want 0", n)
	}
}
