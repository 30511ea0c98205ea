package abi

import (
	"bytes"
	"encoding/binary"
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

func TestAppendIntCallMatchesAppendCall(t *testing.T) {
	widths := []int64{0, 127, 128, 255, 256, 1 << 16, 1 << 32, math.MaxInt64,
		-1, -32, -33, -128, -129, -1 << 15, -1 << 31, math.MinInt64}
	many := make([]any, MaxIntArgs)
	for k := range many {
		many[k] = k * 1000
	}
	many[MaxIntArgs-1] = callhost.Placeholder
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name     string
		target   callhost.Address
		handler  string
		args     []int64
		cont     string
		contArgs []any
		timeout  uint64
		flags    uint64
	}{
		{"every int width", callhost.Object("calc", "t"), "sum", widths, "got",
			[]any{1, callhost.Placeholder, -1 << 40}, 0, 0},
		{"no arguments", callhost.Object("calc", "t"), "tick", nil, "", nil, 0, 0},
		{"placeholders only", callhost.Object("calc", "t"), "double", []int64{21}, "got",
			[]any{callhost.Placeholder, callhost.Placeholder}, 0, 0},
		{"most continuation arguments", callhost.Object("calc", "t"), "double", []int64{5},
			"got", many, 0, 0},
		{"long strings", callhost.Object(long, long), long, []int64{1}, long, []any{2}, 0, 0},
		{"large timeout and flags", callhost.Object("calc", "t"), "double", []int64{1}, "",
			nil, 1 << 40, FlagForward},
	} {
		c, want := intCallOf(t, tc.target, tc.handler, tc.args, tc.cont, tc.contArgs,
			tc.timeout, tc.flags)
		if got := AppendIntCall(nil, c); !bytes.Equal(got, want) {
			t.Errorf("%s: AppendIntCall wrote\n% x\nwant\n% x", tc.name, got, want)
		}
	}
}
