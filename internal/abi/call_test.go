package abi

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/callhost/callhost"
)

// TestSimpleCallMatchesGeneralEncoding checks that the envelopes
// appendSimpleCall writes are byte for byte the ones of the general encoder,
// for every integer width and both markers.
func TestSimpleCallMatchesGeneralEncoding(t *testing.T) {
	ints := []int{0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxUint32,
		math.MaxUint32 + 1, math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769,
		math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	target := callhost.Object("calc", "t")
	for _, v := range ints {
		for _, cont := range []*Continuation{
			nil,
			{Handler: "got", Args: []any{v, callhost.Placeholder}},
			{Handler: "got", Args: []any{callhost.Prev, v, v}},
			{Handler: "none"},
		} {
			op := callhost.Op("double", v, -v)
			for _, tf := range [][2]uint64{{0, 0}, {127, FlagForward}} {
				want, err := appendCallAny([]byte("prefix"), target, op, cont, tf[0], tf[1])
				if err != nil {
					t.Fatal(err)
				}
				got, ok := appendSimpleCall([]byte("prefix"), target, op, cont, tf[0], tf[1])
				if !ok {
					t.Fatalf("appendSimpleCall declined op %v cont %+v", op, cont)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("value %d, cont %+v:\n got % x\nwant % x", v, cont, got, want)
				}
			}
		}
	}
}

// TestSimpleCallDeclinesOtherShapes checks that appendSimpleCall leaves
// every call it cannot encode to the general encoder, with the buffer's
// contents unchanged, and that AppendCall then encodes it.
func TestSimpleCallDeclinesOtherShapes(t *testing.T) {
	long := strings.Repeat("x", 32)
	target := callhost.Object("calc", "t")
	op := callhost.Op("double", 1)
	sixteen := make([]any, 16)
	for i := range sixteen {
		sixteen[i] = i
	}
	cases := []struct {
		name           string
		target         callhost.Address
		op             callhost.Operation
		cont           *Continuation
		timeout, flags uint64
	}{
		{"long class", callhost.Object(long, "t"), op, nil, 0, 0},
		{"long id", callhost.Object("calc", long), op, nil, 0, 0},
		{"long handler", target, callhost.Op(long, 1), nil, 0, 0},
		{"two steps", target, op.Then("double", callhost.Prev), nil, 0, 0},
		{"string argument", target, callhost.Op("echo", "s"), nil, 0, 0},
		{"sixteen arguments", target, callhost.Op("sum", sixteen...), nil, 0, 0},
		{"timeout 128", target, op, nil, 128, 0},
		{"long continuation", target, op, &Continuation{Handler: long}, 0, 0},
		{"continuation string", target, op, &Continuation{Handler: "got", Args: []any{"s"}}, 0, 0},
		{"continuation object", target, op,
			&Continuation{Handler: "got", Object: callhost.Object("a", "b")}, 0, 0},
	}
	for _, tc := range cases {
		b := []byte("prefix")
		out, ok := appendSimpleCall(b, tc.target, tc.op, tc.cont, tc.timeout, tc.flags)
		if ok {
			t.Errorf("%s: appendSimpleCall accepted it", tc.name)
		}
		if string(out) != "prefix" {
			t.Errorf("%s: buffer is %q after a declined call, want %q", tc.name, out, "prefix")
		}
		want, err := appendCallAny(nil, tc.target, tc.op, tc.cont, tc.timeout, tc.flags)
		if err != nil {
			t.Fatal(err)
		}
		got, err := AppendCall(nil, tc.target, tc.op, tc.cont, tc.timeout, tc.flags)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: AppendCall = % x, %v; want % x", tc.name, got, err, want)
		}
	}
}

// TestSimpleCallBoundaryShapes checks the shapes at the edges of what
// appendSimpleCall encodes: no arguments, empty and 31-byte strings, 15
// arguments, and buffers with and without spare capacity. Each must be
// accepted and match the general encoder byte for byte.
func TestSimpleCallBoundaryShapes(t *testing.T) {
	maxString := strings.Repeat("y", 31)
	fifteen := make([]any, 15)
	for i := range fifteen {
		fifteen[i] = math.MinInt64 + i
	}
	markers := make([]any, 15)
	for i := range markers {
		markers[i] = callhost.Placeholder
	}
	cases := []struct {
		name   string
		target callhost.Address
		op     callhost.Operation
		cont   *Continuation
	}{
		{"no arguments", callhost.Object("calc", "t"), callhost.Op("ping"), nil},
		{"empty arguments", callhost.Object("calc", "t"), callhost.Op("ping", []any{}...),
			&Continuation{Handler: "got", Args: []any{}}},
		{"empty strings", callhost.Object("", ""), callhost.Op(""), &Continuation{}},
		{"31-byte strings", callhost.Object(maxString, maxString), callhost.Op(maxString, 1),
			&Continuation{Handler: maxString, Args: []any{callhost.Prev}}},
		{"15 wide integers", callhost.Object("calc", "t"), callhost.Op("sum", fifteen...),
			&Continuation{Handler: "got", Args: fifteen}},
		{"15 markers", callhost.Object("calc", "t"), callhost.Op("sum", markers...),
			&Continuation{Handler: "got", Args: markers}},
	}
	for _, tc := range cases {
		for _, prefix := range [][]byte{nil, []byte("prefix"), make([]byte, 3, 1024)} {
			want, err := appendCallAny(append([]byte(nil), prefix...), tc.target, tc.op,
				tc.cont, 5, 1)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := appendSimpleCall(prefix, tc.target, tc.op, tc.cont, 5, 1)
			if !ok {
				t.Errorf("%s, prefix %q: appendSimpleCall declined it", tc.name, prefix)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s, prefix %q:\n got % x\nwant % x", tc.name, prefix, got, want)
			}
		}
	}
}

// TestSimpleCallsDecodeInOnePass checks that the host's one-pass decoder
// accepts every envelope of the shape the guest's simple encoder writes, and
// that DecodeCheckedCall gives the same view and checks as the general
// decoder for them.
func TestSimpleCallsDecodeInOnePass(t *testing.T) {
	target := callhost.Object("calc", "t")
	for _, v := range []int{0, -1, 127, 128, -33, 65536, math.MaxInt64, math.MinInt64} {
		for _, cont := range []*Continuation{
			nil,
			{Handler: "got", Args: []any{v, callhost.Placeholder}},
			{Handler: "got", Args: []any{v}},
			{Handler: ""},
		} {
			env, err := AppendCall(nil, target, callhost.Op("double", v, v), cont, 5, 0)
			if err != nil {
				t.Fatal(err)
			}
			var c CallView
			var chk CallChecks
			if !DefaultLimits.decodeSimpleCall(env, &c, &chk) {
				t.Fatalf("one-pass decoder declined % x", env)
			}
			sameCheckedCall(t, DefaultLimits, env)
		}
	}
}
