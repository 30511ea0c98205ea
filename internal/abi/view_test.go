package abi

import (
	"fmt"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
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

// checkCallInTwoPasses decodes a call envelope and then checks its parts. The
// results of DecodeCheckedCall must equal these.
func checkCallInTwoPasses(l Limits, b []byte) (CallView, CallChecks, error) {
	var v CallView
	var chk CallChecks
	if err := DecodeCallView(b, &v); err != nil {
		return v, chk, err
	}
	chk.Operation, chk.OperationErr = l.CheckOperation(v.Steps)
	if v.HasCont {
		chk.Placeholder, chk.ContArgsErr = l.CheckContinuationArgs(v.ContArgs)
	}
	return v, chk, nil
}

// sameCheckedCall fails t when DecodeCheckedCall's results for b differ from
// those of decoding and checking in two passes.
// viewText prints every field of v, with nil and empty byte slices alike.
func viewText(v CallView) string {
	return fmt.Sprintf("target %q/%q steps %x cont %v %q %x object %q/%q timeout %d flags %d",
		v.TargetClass, v.TargetID, v.Steps, v.HasCont, v.ContHandler, v.ContArgs,
		v.ContObjectClass, v.ContObjectID, v.TimeoutMS, v.Flags)
}

func sameCheckedCall(t *testing.T, l Limits, b []byte) {
	t.Helper()
	wantView, want, wantErr := checkCallInTwoPasses(l, b)
	var v CallView
	var chk CallChecks
	err := l.DecodeCheckedCall(b, &v, &chk)
	if errText(err) != errText(wantErr) {
		t.Fatalf("error %q, want %q", errText(err), errText(wantErr))
	}
	if err != nil {
		return
	}
	if string(v.Steps) != string(wantView.Steps) ||
		string(v.ContArgs) != string(wantView.ContArgs) {
		t.Errorf("steps %x and continuation args %x, want %x and %x", v.Steps, v.ContArgs,
			wantView.Steps, wantView.ContArgs)
	}
	if viewText(v) != viewText(wantView) {
		t.Errorf("view %s, want %s", viewText(v), viewText(wantView))
	}
	if chk.Operation != want.Operation {
		t.Errorf("operation info %+v, want %+v", chk.Operation, want.Operation)
	}
	if errText(chk.OperationErr) != errText(want.OperationErr) {
		t.Errorf("operation error %q, want %q", errText(chk.OperationErr),
			errText(want.OperationErr))
	}
	if chk.Placeholder != want.Placeholder {
		t.Errorf("placeholder %v, want %v", chk.Placeholder, want.Placeholder)
	}
	if errText(chk.ContArgsErr) != errText(want.ContArgsErr) {
		t.Errorf("continuation args error %q, want %q", errText(chk.ContArgsErr),
			errText(want.ContArgsErr))
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// nestedArray returns levels arrays nested in one another around 1.
func nestedArray(levels int) []byte {
	var b []byte
	for range levels {
		b = msgp.AppendArrayHeader(b, 1)
	}
	return msgp.AppendInt(b, 1)
}

// rawCall returns a call envelope to calc/t with the given encoded operation
// and continuation arguments, which need not be valid.
func rawCall(steps, contArgs []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 5)
	b = AppendAddress(b, callhost.Object("calc", "t"))
	b = append(b, steps...)
	b = msgp.AppendArrayHeader(b, 3)
	b = msgp.AppendString(b, "got")
	b = append(b, contArgs...)
	b = msgp.AppendNil(b)
	return append(b, 0, 0)
}

// stepOf returns an operation of one step with the given encoded arguments
// and extra elements after them.
func stepOf(args []byte, extra ...[]byte) []byte {
	b := msgp.AppendArrayHeader(nil, 1)
	b = msgp.AppendArrayHeader(b, 2+len(extra))
	b = msgp.AppendString(b, "double")
	b = append(b, args...)
	for _, e := range extra {
		b = append(b, e...)
	}
	return b
}

// checkedCallCases are call envelopes whose checks pass or fail in the ways
// DecodeCheckedCall distinguishes.
func checkedCallCases(t testing.TB) map[string][]byte {
	valid, err := AppendCall(nil, callhost.Object("calc", "t"), callhost.Op("double", 2),
		&Continuation{Handler: "got", Args: []any{1, 1 << 40, callhost.Placeholder}}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	noCont, err := AppendCall(nil, callhost.Object("calc", "t"),
		callhost.Op("double", 2).Then("add", callhost.Prev, 1), nil, 250, FlagForward)
	if err != nil {
		t.Fatal(err)
	}
	placeholder := msgp.AppendExt(nil, callhost.ExtPlaceholder, nil)
	prev := msgp.AppendExt(nil, callhost.ExtPrev, nil)
	args := func(elems ...[]byte) []byte {
		b := msgp.AppendArrayHeader(nil, len(elems))
		for _, e := range elems {
			b = append(b, e...)
		}
		return b
	}
	intOne := msgp.AppendInt(nil, 1)
	return map[string][]byte{
		"valid":                       valid,
		"no continuation":             noCont,
		"extra step element":          rawCall(stepOf(args(intOne), intOne), args(intOne)),
		"deep extra step element":     rawCall(stepOf(args(intOne), nestedArray(63)), args(intOne)),
		"too deep extra step element": rawCall(stepOf(args(intOne), nestedArray(64)), args(intOne)),
		"deep operation args":         rawCall(stepOf(args(nestedArray(30))), args(intOne)),
		"too deep operation args":     rawCall(stepOf(args(nestedArray(70))), args(intOne)),
		// Under limits of msgp.MaxDepth-1 levels, the check and Skip both
		// accept 61 levels in the operation's arguments and both reject 62.
		// In continuation arguments the check accepts 61 and rejects 62,
		// which Skip accepts.
		"operation args at skip limit": rawCall(stepOf(args(nestedArray(61))), args(intOne)),
		"operation args past skip":     rawCall(stepOf(args(nestedArray(62))), args(intOne)),
		"cont args at check limit":     rawCall(stepOf(args(intOne)), args(nestedArray(61))),
		"cont args past check limit":   rawCall(stepOf(args(intOne)), args(nestedArray(62))),
		"placeholder in operation":     rawCall(stepOf(args(placeholder)), args(intOne)),
		"operation not an array":       rawCall(intOne, args(intOne)),
		"steps past the end":           rawCall(msgp.AppendArrayHeader(nil, 3), nil),
		"deep continuation args":       rawCall(stepOf(args(intOne)), args(nestedArray(30))),
		"too deep continuation args":   rawCall(stepOf(args(intOne)), args(nestedArray(70))),
		"continuation args scalar":     rawCall(stepOf(args(intOne)), intOne),
		"prev in continuation args":    rawCall(stepOf(args(intOne)), args(prev)),
	}
}

// TestDecodeCheckedCallMatchesTwoPasses compares DecodeCheckedCall with
// decoding and then checking, under limits where it checks in place and
// where it cannot.
func TestDecodeCheckedCallMatchesTwoPasses(t *testing.T) {
	limits := map[string]Limits{
		"default":  DefaultLimits,
		"shallow":  {MaxDepth: 2, MaxSteps: 1},
		"deep":     {MaxDepth: 100, MaxSteps: 64},
		"at skip":  {MaxDepth: msgp.MaxDepth, MaxSteps: 64},
		"below it": {MaxDepth: msgp.MaxDepth - 1, MaxSteps: 64},
	}
	for lname, l := range limits {
		for name, b := range checkedCallCases(t) {
			t.Run(lname+"/"+name, func(t *testing.T) { sameCheckedCall(t, l, b) })
		}
	}
}

func FuzzDecodeCheckedCall(f *testing.F) {
	var valid [][]byte
	for _, b := range checkedCallCases(f) {
		valid = append(valid, b)
	}
	seeds(f, valid...)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		sameCheckedCall(t, DefaultLimits, in)
		sameCheckedCall(t, Limits{MaxDepth: 3, MaxSteps: 2}, in)
	})
}
