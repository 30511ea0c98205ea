package abi

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/callhost/callhost"
)

// intCallOf returns the IntCall of a call whose arguments are ints and, in
// the continuation, placeholders, together with the envelope AppendCall
// writes for it.
func intCallOf(t *testing.T, target callhost.Address, handler string, args []int64,
	cont string, contArgs []any, timeoutMS, flags uint64) (*IntCall, []byte) {
	t.Helper()
	c := &IntCall{Class: []byte(target.Class), ID: []byte(target.ID), Handler: []byte(handler),
		ContHandler: []byte(cont), Args: len(args), ContArgs: len(contArgs),
		TimeoutMS: timeoutMS, Flags: flags}
	opArgs := make([]any, len(args))
	for k, v := range args {
		opArgs[k] = int(v)
		c.Ints = binary.LittleEndian.AppendUint64(c.Ints, uint64(v))
	}
	for k, a := range contArgs {
		v, isInt := a.(int)
		if !isInt {
			c.Placeholders |= 1 << k
		}
		c.Ints = binary.LittleEndian.AppendUint64(c.Ints, uint64(v))
	}
	var k *Continuation
	if cont != "" {
		k = &Continuation{Handler: cont, Args: contArgs}
	}
	want, err := AppendCall(nil, target, callhost.Op(handler, opArgs...), k, timeoutMS, flags)
	if err != nil {
		t.Fatal(err)
	}
	return c, want
}

// intCallCase is a call whose arguments are ints and, in the continuation,
// placeholders.
type intCallCase struct {
	name     string
	target   callhost.Address
	handler  string
	args     []int64
	cont     string
	contArgs []any
	timeout  uint64
	flags    uint64
}

func intCallCases() []intCallCase {
	widths := []int64{0, 127, 128, 255, 256, 1 << 16, 1 << 32, math.MaxInt64,
		-1, -32, -33, -128, -129, -1 << 15, -1 << 31, math.MinInt64}
	many := make([]any, MaxIntArgs)
	for k := range many {
		many[k] = k * 1000
	}
	many[MaxIntArgs-1] = callhost.Placeholder
	long := strings.Repeat("x", 300)
	return []intCallCase{
		{"every int width", callhost.Object("calc", "t"), "sum", widths, "got",
			[]any{1, callhost.Placeholder, -1 << 40}, 0, 0},
		{"no arguments", callhost.Object("calc", "t"), "tick", nil, "", nil, 0, 0},
		{"placeholders only", callhost.Object("calc", "t"), "double", []int64{21}, "got",
			[]any{callhost.Placeholder, callhost.Placeholder}, 0, 0},
		{"continuation without placeholder", callhost.Object("calc", "t"), "double",
			[]int64{21}, "got", []any{7, 8}, 0, 0},
		{"continuation without arguments", callhost.Object("calc", "t"), "double",
			[]int64{21}, "got", nil, 0, 0},
		{"most continuation arguments", callhost.Object("calc", "t"), "double", []int64{5},
			"got", many, 0, 0},
		{"long strings", callhost.Object(long, long), long, []int64{1}, long, []any{2}, 0, 0},
		{"large timeout and flags", callhost.Object("calc", "t"), "double", []int64{1}, "",
			nil, 1 << 40, FlagForward},
	}
}

func TestAppendIntCallMatchesAppendCall(t *testing.T) {
	for _, tc := range intCallCases() {
		c, want := intCallOf(t, tc.target, tc.handler, tc.args, tc.cont, tc.contArgs,
			tc.timeout, tc.flags)
		if got := AppendIntCall(nil, c); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendIntCall wrote\n% x\nwant\n% x", tc.name, got, want)
		}
	}
}

// TestAppendIntCallViewMatchesDecodeCheckedCall checks that the view and
// checks AppendIntCallView sets are those DecodeCheckedCall gives for the
// same envelope. It uses the default limits and the least for which
// Limits.AllowsSimpleCalls holds. The buffer it appends to starts with other
// bytes, so that the view's slices must be placed by offset.
func TestAppendIntCallViewMatchesDecodeCheckedCall(t *testing.T) {
	prefix := []byte("earlier bytes")
	for _, tc := range intCallCases() {
		c, want := intCallOf(t, tc.target, tc.handler, tc.args, tc.cont, tc.contArgs,
			tc.timeout, tc.flags)
		var v CallView
		var chk CallChecks
		b := AppendIntCallView(bytes.Clone(prefix), c, &v, &chk)
		if !bytes.Equal(b[:len(prefix)], prefix) {
			t.Errorf("%s: AppendIntCallView changed the bytes before the envelope: % x",
				tc.name, b[:len(prefix)])
			continue
		}
		if !bytes.Equal(b[len(prefix):], want) {
			t.Errorf("%s: AppendIntCallView wrote\n% x\nwant\n% x", tc.name, b[len(prefix):], want)
			continue
		}
		for _, l := range []Limits{DefaultLimits, {MaxSteps: 1, MaxDepth: 2}} {
			var wantV CallView
			var wantChk CallChecks
			if err := l.DecodeCheckedCall(want, &wantV, &wantChk); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if diff := diffCallView(v, wantV); diff != "" {
				t.Errorf("%s, limits %+v: view differs from DecodeCheckedCall's: %s",
					tc.name, l, diff)
			}
			if chk != wantChk {
				t.Errorf("%s, limits %+v: checks %+v, DecodeCheckedCall's %+v",
					tc.name, l, chk, wantChk)
			}
		}
	}
}

// diffCallView names the first field in which a and b differ, or returns "".
func diffCallView(a, b CallView) string {
	for _, f := range []struct {
		name string
		a, b []byte
	}{
		{"target class", a.TargetClass, b.TargetClass},
		{"target id", a.TargetID, b.TargetID},
		{"steps", a.Steps, b.Steps},
		{"continuation handler", a.ContHandler, b.ContHandler},
		{"continuation arguments", a.ContArgs, b.ContArgs},
		{"continuation object class", a.ContObjectClass, b.ContObjectClass},
		{"continuation object id", a.ContObjectID, b.ContObjectID},
	} {
		if !bytes.Equal(f.a, f.b) {
			return fmt.Sprintf("%s % x, want % x", f.name, f.a, f.b)
		}
	}
	switch {
	case a.HasCont != b.HasCont:
		return fmt.Sprintf("has continuation %v, want %v", a.HasCont, b.HasCont)
	case a.TimeoutMS != b.TimeoutMS || a.Flags != b.Flags:
		return fmt.Sprintf("timeout %d and flags %d, want %d and %d",
			a.TimeoutMS, a.Flags, b.TimeoutMS, b.Flags)
	}
	return ""
}
