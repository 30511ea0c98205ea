package abi

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

func TestRequestRoundTrip(t *testing.T) {
	args, _ := msgp.Marshal([]any{1, "two"})
	in := Request{
		Kind:    KindContinuation,
		Handler: "got",
		Args:    args,
		Self:    callhost.Object("a", "1"),
		Caller:  callhost.Object("b", "2"),
		Hops:    []callhost.Address{callhost.Object("@client", "c"), callhost.Object("a", "1")},
		CallID:  99,
	}
	var out Request
	if err := DecodeRequest(AppendRequest(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestRequestWithoutCaller(t *testing.T) {
	in := Request{Kind: KindInvoke, Handler: "h", Self: callhost.Object("a", "1")}
	var out Request
	if err := DecodeRequest(AppendRequest(nil, &in), &out); err != nil {
		t.Fatal(err)
	}
	if !out.Caller.IsZero() || !bytes.Equal(out.Args, emptyArray) {
		t.Fatalf("caller %v args % x, want zero caller and empty args", out.Caller, out.Args)
	}
}

func TestCallRoundTrip(t *testing.T) {
	op := callhost.Op("double", 2).Then("add", callhost.Prev, 1)
	cont := &Continuation{Handler: "got", Args: []any{"x", callhost.Placeholder},
		Object: callhost.Object("me", "1")}
	b, err := AppendCall(nil, callhost.Object("calc", "7"), op, cont, 1500, FlagForward)
	if err != nil {
		t.Fatal(err)
	}
	var c Call
	if err := DecodeCall(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Target != callhost.Object("calc", "7") || c.ContHandler != "got" || !c.HasCont ||
		c.ContObject != callhost.Object("me", "1") || c.TimeoutMS != 1500 || c.Flags != FlagForward {
		t.Fatalf("decoded %+v", c)
	}
	info, err := CheckOperation(c.Steps)
	if err != nil || info.Steps != 2 || !info.Ext {
		t.Fatalf("CheckOperation = %+v, %v; want 2 steps with extensions", info, err)
	}
	ph, err := CheckContinuationArgs(c.ContArgs)
	if err != nil || !ph {
		t.Fatalf("CheckContinuationArgs = %v, %v; want a placeholder", ph, err)
	}
}

func steps(t *testing.T, op callhost.Operation) []byte {
	t.Helper()
	b, err := op.AppendSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCheckOperationRejects(t *testing.T) {
	long := callhost.Op("a")
	for i := 0; i < callhost.MaxSteps; i++ {
		long = long.Then("a")
	}
	deep := callhost.Op("a", 1)
	for i := 0; i < callhost.MaxDepth; i++ {
		deep = callhost.Op("a", deep)
	}
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", []byte{0x90}, "no steps"},
		{"not an array", []byte{0x01}, "operation"},
		{"too many steps", steps(t, long), "max 64"},
		{"prev in first step", steps(t, callhost.Op("a", callhost.Prev)), "first step"},
		{"placeholder", steps(t, callhost.Op("a", callhost.Placeholder)), "placeholder"},
		{"unknown extension", []byte{0x91, 0x92, 0xa1, 'a', 0x91, 0xc7, 0x00, 0x09},
			"unknown extension"},
		{"too deep", steps(t, deep), "deeper"},
		{"trailing bytes", append(steps(t, callhost.Op("a")), 0x01), "trailing"},
		{"args not array", []byte{0x91, 0x92, 0xa1, 'a', 0x01}, "not an array"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckOperation(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckContinuationArgsRejectsOtherExtensions(t *testing.T) {
	args, _ := msgp.Marshal([]any{callhost.Prev})
	if _, err := CheckContinuationArgs(args); err == nil {
		t.Fatal("continuation arguments with a previous-result marker were accepted")
	}
}

func TestFillPlaceholdersAtAnyDepth(t *testing.T) {
	args, _ := msgp.Marshal([]any{
		"a",
		map[string]any{"r": callhost.Placeholder},
		[]any{1, []any{callhost.Placeholder}},
	})
	outcome := AppendOK(nil, msgp.AppendInt(nil, 42))
	filled, err := FillPlaceholders(nil, args, outcome)
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := msgp.Unmarshal(filled, &got); err != nil {
		t.Fatal(err)
	}
	want := []any{int8(0), int8(42)}
	m := got[1].(map[string]any)
	if !reflect.DeepEqual(m["r"], want) {
		t.Errorf("map value = %v, want %v", m["r"], want)
	}
	inner := got[2].([]any)[1].([]any)
	if !reflect.DeepEqual(inner[0], want) {
		t.Errorf("nested list value = %v, want %v", inner[0], want)
	}
}

func TestReplaceNestedOperation(t *testing.T) {
	op := callhost.Op("add", callhost.Op("double", 3), 4)
	var args []byte
	err := ForEachStep(steps(t, op), func(_ int, _ string, a []byte) error {
		args = a
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := Replace(nil, args, func(typ int8, payload []byte) ([]byte, error) {
		if typ != callhost.ExtNested {
			t.Fatalf("extension type %d, want nested", typ)
		}
		return msgp.AppendInt(nil, 6), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := msgp.Unmarshal(out, &got); err != nil || !reflect.DeepEqual(got, []int{6, 4}) {
		t.Fatalf("replaced args = %v, %v; want [6 4]", got, err)
	}
}

func TestDecodeOutcome(t *testing.T) {
	v, e, err := DecodeOutcome(AppendOK(nil, msgp.AppendString(nil, "x")))
	if err != nil || e != nil || !bytes.Equal(v, msgp.AppendString(nil, "x")) {
		t.Fatalf("ok outcome: %q %v %v", v, e, err)
	}
	_, e, err = DecodeOutcome(AppendError(nil, callhost.CodeTimeout, "late"))
	if err != nil || e == nil || e.Code != callhost.CodeTimeout || e.Message != "late" {
		t.Fatalf("error outcome: %v %v", e, err)
	}
	if _, _, err := DecodeOutcome([]byte{0x91, 0x00}); err == nil {
		t.Fatal("one-element outcome accepted")
	}
}

func TestReadOutcomeSkipsExtraElements(t *testing.T) {
	// [0, "x", 7, [1]] then 9: a reader of a later value must see the 9.
	b := msgp.AppendArrayHeader(nil, 4)
	b = msgp.AppendString(msgp.AppendInt(b, 0), "x")
	b = msgp.AppendInt(msgp.AppendInt(msgp.AppendArrayHeader(msgp.AppendInt(b, 7), 1), 1), 9)
	r := msgp.NewReader(b)
	v, e, err := ReadOutcome(&r)
	if err != nil || e != nil || !bytes.Equal(v, msgp.AppendString(nil, "x")) {
		t.Fatalf("ReadOutcome = %q, %v, %v", v, e, err)
	}
	if n, err := r.ReadInt(); err != nil || n != 9 {
		t.Fatalf("value after the outcome = %d, %v; want 9", n, err)
	}
	// A failed outcome with an extra element, then a truncated one.
	b = msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendString(msgp.AppendInt(b, int64(callhost.CodeTimeout)), "late")
	r = msgp.NewReader(msgp.AppendInt(msgp.AppendNil(b), 9))
	if _, e, err := ReadOutcome(&r); err != nil || e == nil || e.Code != callhost.CodeTimeout {
		t.Fatalf("failed outcome: %v, %v", e, err)
	}
	if n, err := r.ReadInt(); err != nil || n != 9 {
		t.Fatalf("value after the failed outcome = %d, %v; want 9", n, err)
	}
	r = msgp.NewReader(b)
	if _, _, err := ReadOutcome(&r); err == nil {
		t.Fatal("outcome missing its third element accepted")
	}
}

func TestDescribeRoundTrip(t *testing.T) {
	in := []Handler{{"a", true}, {"b", false}}
	out, err := DecodeDescribe(AppendDescribe(nil, in))
	if err != nil || !reflect.DeepEqual(in, out) {
		t.Fatalf("describe round trip = %v, %v", out, err)
	}
}

// TestDepthCountsArraysAndMaps checks the nesting rule of docs/abi.md: the
// arguments array is level 1 and each array or map inside it adds one, so
// a scalar inside the deepest allowed array is accepted.
func TestDepthCountsArraysAndMaps(t *testing.T) {
	l := Limits{MaxDepth: 32, MaxSteps: 64}
	for _, tc := range []struct {
		arrays int    // arrays around inner, the arguments array included
		inner  []byte // the innermost value
		ok     bool
	}{
		{32, msgp.AppendInt(nil, 1), true},
		{31, msgp.AppendArrayHeader(nil, 0), true},
		{31, msgp.AppendMapHeader(nil, 0), true},
		{32, msgp.AppendArrayHeader(nil, 0), false},
		{32, msgp.AppendMapHeader(nil, 0), false},
		{33, msgp.AppendInt(nil, 1), false},
	} {
		steps := msgp.AppendArrayHeader(nil, 1)  // one step
		steps = msgp.AppendArrayHeader(steps, 2) // [handler, args]
		steps = msgp.AppendString(steps, "h")
		for i := 0; i < tc.arrays; i++ {
			steps = msgp.AppendArrayHeader(steps, 1)
		}
		steps = append(steps, tc.inner...)
		_, err := l.CheckOperation(steps)
		if (err == nil) != tc.ok {
			t.Errorf("%d arrays around % x: error %v, want ok=%v", tc.arrays, tc.inner, err, tc.ok)
		}
	}
}
