//go:build !wasip1

package guest

import (
	"errors"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

func okOutcome(t *testing.T, v any) []byte {
	t.Helper()
	enc, err := msgp.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return abi.AppendOK(nil, enc)
}

func TestResultDecodesSuccess(t *testing.T) {
	var r Result[int]
	if err := msgp.Unmarshal(okOutcome(t, 70000), &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	v, err := r.Get()
	if err != nil {
		t.Errorf("Get error = %v, want nil", err)
	}
	if v != 70000 {
		t.Errorf("Get value = %d, want 70000", v)
	}
	if r.Err != nil {
		t.Errorf("Err = %v, want nil", r.Err)
	}
}

func TestResultDecodesFailure(t *testing.T) {
	r := Result[string]{Value: "stale"}
	outcome := abi.AppendError(nil, callhost.CodeTimeout, "no answer in 30s")
	if err := msgp.Unmarshal(outcome, &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	v, err := r.Get()
	if !errors.Is(err, callhost.ErrTimeout) {
		t.Errorf("Get error = %v, want a timeout", err)
	}
	if v != "" {
		t.Errorf("Get value = %q, want zero value", v)
	}
	if r.Err == nil || r.Err.Message != "no answer in 30s" {
		t.Errorf("Err = %v, want message %q", r.Err, "no answer in 30s")
	}
}

func TestResultRejectsMismatchedValue(t *testing.T) {
	var r Result[int]
	if err := msgp.Unmarshal(okOutcome(t, "text"), &r); err == nil {
		t.Errorf("decoding a string outcome into Result[int] succeeded")
	}
	if err := msgp.Unmarshal(msgp.AppendNil(nil), &r); err == nil {
		t.Errorf("decoding nil into Result[int] succeeded")
	}
}

func TestResultNestedNilIsZero(t *testing.T) {
	b, err := msgp.Marshal(map[string]any{"R": nil})
	if err != nil {
		t.Fatal(err)
	}
	got := struct{ R Result[int] }{R: Result[int]{Value: 9}}
	if err := msgp.Unmarshal(b, &got); err != nil {
		t.Fatalf("decode {R: nil}: %v", err)
	}
	if got.R.Value != 0 || got.R.Err != nil {
		t.Errorf("nested nil decoded as %+v, want the zero Result", got.R)
	}
}

func TestResultEncodesOutcome(t *testing.T) {
	cases := []Result[string]{
		{Value: "v"},
		{Err: &callhost.Error{Code: callhost.CodeApplication, Message: "m"}},
	}
	for _, want := range cases {
		b, err := msgp.Marshal(want)
		if err != nil {
			t.Fatalf("encode %+v: %v", want, err)
		}
		var got Result[string]
		if err := msgp.Unmarshal(b, &got); err != nil {
			t.Fatalf("decode %+v: %v", want, err)
		}
		if got.Value != want.Value || (got.Err == nil) != (want.Err == nil) {
			t.Errorf("round trip of %+v = %+v", want, got)
		}
		if got.Err != nil && *got.Err != *want.Err {
			t.Errorf("round trip error = %v, want %v", got.Err, want.Err)
		}
	}
}

func TestNoneDecodesAnyValue(t *testing.T) {
	var r Result[None]
	if err := msgp.Unmarshal(okOutcome(t, map[string]any{"a": []any{1, "x"}}), &r); err != nil {
		t.Errorf("decode a map outcome into Result[None]: %v", err)
	}
	b, err := msgpack.Marshal(struct{ N None }{})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ N any }
	if err := msgpack.Unmarshal(b, &back); err != nil || back.N != nil {
		t.Errorf("nested None encodes as %v (%v), want nil", back.N, err)
	}
}

// fill encodes continuation arguments the way Call does, checks them like
// the host, replaces each placeholder with outcome and returns the
// arguments the continuation receives.
func fill(t *testing.T, outcome []byte, args ...any) []byte {
	t.Helper()
	enc, err := msgp.Marshal(args)
	if err != nil {
		t.Fatalf("encode continuation arguments: %v", err)
	}
	placeholder, err := abi.CheckContinuationArgs(enc)
	if err != nil {
		t.Fatalf("check continuation arguments % x: %v", enc, err)
	}
	if !placeholder {
		t.Fatalf("continuation arguments % x hold no placeholder", enc)
	}
	filled, err := abi.FillPlaceholders(nil, enc, outcome)
	if err != nil {
		t.Fatalf("fill placeholders: %v", err)
	}
	return filled
}

// continuationArg runs the filled arguments through a one-parameter
// handler, as a continuation turn does, and returns what it received.
func continuationArg[T any](t *testing.T, filled []byte) T {
	t.Helper()
	h := newHarness(t)
	var got T
	h.reg.add(bind1("done", false, func(_ *Ctx, v T) (None, error) {
		got = v
		return None{}, nil
	}))
	q := request(abi.KindContinuation, "done")
	q.Args = filled
	if _, failed := h.turn(q); failed != nil {
		t.Fatalf("continuation turn: %v", failed)
	}
	return got
}

func TestPlaceholderInStructField(t *testing.T) {
	outcome := okOutcome(t, 11)
	type marked struct {
		Label string
		R     callhost.Marker
	}
	type untyped struct {
		Label string
		R     any
	}
	type received struct {
		Label string
		R     Result[int]
	}
	for _, arg := range []any{marked{"m", Placeholder}, untyped{"u", Placeholder}} {
		got := continuationArg[received](t, fill(t, outcome, arg))
		if v, err := got.R.Get(); err != nil || v != 11 {
			t.Errorf("%T: R = %d, %v, want 11", arg, v, err)
		}
		if got.Label == "" {
			t.Errorf("%T: Label is empty", arg)
		}
	}
}

func TestPlaceholderInSliceAndMap(t *testing.T) {
	outcome := abi.AppendError(nil, callhost.CodeNotFound, "no such object")

	list := continuationArg[[]Result[string]](t, fill(t, outcome,
		[]any{Placeholder, Placeholder}))
	if len(list) != 2 || list[1].Err == nil || list[1].Err.Code != callhost.CodeNotFound {
		t.Errorf("slice elements = %+v, want two not_found results", list)
	}

	byName := continuationArg[map[string]Result[int]](t, fill(t, outcome,
		map[string]any{"r": Placeholder}))
	if r := byName["r"]; r.Err == nil || r.Err.Message != "no such object" {
		t.Errorf("map value = %+v, want the not_found result", r)
	}

	// Placeholders decoded without Result are plain outcome arrays.
	raw := continuationArg[[]any](t, fill(t, okOutcome(t, "x"), []any{"a", Placeholder}))
	if len(raw) != 2 {
		t.Fatalf("[]any = %v, want 2 elements", raw)
	}
	outcomeArray, ok := raw[1].([]any)
	if !ok || len(outcomeArray) != 2 || outcomeArray[1] != "x" {
		t.Errorf("[]any element 1 = %#v, want [0 x]", raw[1])
	}
}

func TestResultParameterAllocations(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind2("done", false, func(_ *Ctx, label string, r Result[int]) (int, error) {
		return r.Get()
	}))
	q := request(abi.KindContinuation, "done")
	q.Args = fill(t, okOutcome(t, 5000), "", Placeholder)
	req := abi.AppendRequest(nil, q)
	h.d.turn(req)
	if allocs := testing.AllocsPerRun(100, func() { h.d.turn(req) }); allocs != 0 {
		t.Errorf("continuation with Result[int]: %v allocations per turn, want 0", allocs)
	}
}

// TestIntResultArgument covers the outcomes a Result[int] parameter reads in
// place and those it leaves to the general decoder, each followed by another
// argument that must still decode.
func TestIntResultArgument(t *testing.T) {
	h := newHarness(t)
	var got Result[int]
	var after int
	h.reg.add(bind2("k", false, func(_ *Ctx, r Result[int], n int) (None, error) {
		got, after = r, n
		return None{}, nil
	}))
	run := func(outcome []byte) *callhost.Error {
		t.Helper()
		got, after = Result[int]{Value: -1}, 0
		req := request(abi.KindContinuation, "k")
		req.Args = msgp.AppendInt(append(msgp.AppendArrayHeader(nil, 2), outcome...), 6)
		_, failed, err := abi.DecodeOutcome(h.d.turn(abi.AppendRequest(nil, req)))
		if err != nil {
			t.Fatal(err)
		}
		return failed
	}
	for _, v := range []int{0, 5, -7, 70000, -70000, 1 << 40} {
		if failed := run(abi.AppendOK(nil, msgp.AppendInt(nil, int64(v)))); failed != nil {
			t.Fatalf("outcome %d: turn failed: %v", v, failed)
		}
		if got.Err != nil || got.Value != v || after != 6 {
			t.Errorf("outcome %d: handler got %+v and %d, want value %d and 6", v, got, after, v)
		}
	}
	// An element after [code, value] leaves the outcome to the general decoder.
	extra := msgp.AppendString(msgp.AppendInt(msgp.AppendInt(
		msgp.AppendArrayHeader(nil, 3), 0), 5), "extra")
	if failed := run(extra); failed != nil {
		t.Fatalf("outcome [0, 5, extra]: turn failed: %v", failed)
	}
	if got.Err != nil || got.Value != 5 || after != 6 {
		t.Errorf("outcome [0, 5, extra]: handler got %+v and %d, want value 5 and 6", got, after)
	}
	if failed := run(abi.AppendError(nil, callhost.CodeTimeout, "late")); failed != nil {
		t.Fatalf("error outcome: turn failed: %v", failed)
	}
	if got.Err == nil || got.Err.Code != callhost.CodeTimeout || got.Value != 0 || after != 6 {
		t.Errorf("error outcome: handler got %+v and %d, want a timeout, value 0 and 6",
			got, after)
	}
	failed := run(abi.AppendOK(nil, msgp.AppendUint(nil, 1<<63)))
	if failed == nil || failed.Code != callhost.CodeBadRequest {
		t.Errorf("outcome 2^63 into Result[int]: turn outcome %v, want bad_request", failed)
	}
}

// decodeIntOutcomeGeneral decodes an outcome into a Result[int] the way the
// general decoder does, as the reference for the in-place read of
// argReader.decode.
func decodeIntOutcomeGeneral(rd *msgp.Reader) (Result[int], error) {
	var r Result[int]
	value, failed, err := abi.ReadOutcome(rd)
	if err != nil {
		return r, err
	}
	if failed != nil {
		r.Err = failed
		return r, nil
	}
	err = decodeValue(value, &r.Value)
	return r, err
}

// TestIntResultMatchesGeneralDecoder checks that a Result[int] argument
// decodes every outcome shape as the general decoder does: the same value,
// error outcome, decode failure and bytes consumed, whether or not the
// in-place read of argReader.decode takes it.
func TestIntResultMatchesGeneralDecoder(t *testing.T) {
	cases := map[string][]byte{
		"fixint":              {0x92, 0x00, 0x05},
		"negative fixint":     {0x92, 0x00, 0xe0},
		"uint8 form of 5":     {0x92, 0x00, 0xcc, 0x05},
		"int64 max":           abi.AppendOK(nil, msgp.AppendInt(nil, 1<<63-1)),
		"int64 min":           abi.AppendOK(nil, msgp.AppendInt(nil, -1<<63)),
		"uint64 max":          abi.AppendOK(nil, msgp.AppendUint(nil, 1<<64-1)),
		"code in uint8 form":  {0x92, 0xcc, 0x00, 0x05},
		"nil value":           {0x92, 0x00, 0xc0},
		"float64 2.0":         {0x92, 0x00, 0xcb, 0x40, 0x00, 0, 0, 0, 0, 0, 0},
		"float64 2.5":         {0x92, 0x00, 0xcb, 0x40, 0x04, 0, 0, 0, 0, 0, 0},
		"true":                {0x92, 0x00, 0xc3},
		"string":              {0x92, 0x00, 0xa1, '5'},
		"three elements":      {0x93, 0x00, 0x05, 0x07},
		"one element":         {0x91, 0x00},
		"array16 header":      {0xdc, 0x00, 0x02, 0x00, 0x05},
		"truncated uint16":    {0x92, 0x00, 0xcd, 0x01},
		"truncated array":     {0x92, 0x00},
		"error outcome":       abi.AppendError(nil, callhost.CodeTimeout, "late"),
		"error code as int16": {0x92, 0xd1, 0x01, 0x00, 0xa1, 'x'},
	}
	for name, outcome := range cases {
		// A trailing argument shows how far each decoder read.
		input := append(append([]byte(nil), outcome...), 0x06)

		wantReader := msgp.NewReader(input)
		want, wantErr := decodeIntOutcomeGeneral(&wantReader)

		var args argReader
		args.reset(input, "h")
		var got Result[int]
		gotErr := args.decode(0, &got, nil)

		if (gotErr != nil) != (wantErr != nil) {
			t.Errorf("%s: decode error %v, general decoder error %v", name, gotErr, wantErr)
			continue
		}
		if gotErr != nil {
			continue
		}
		if got.Value != want.Value {
			t.Errorf("%s: value %d, general decoder value %d", name, got.Value, want.Value)
		}
		if (got.Err == nil) != (want.Err == nil) ||
			(got.Err != nil && *got.Err != *want.Err) {
			t.Errorf("%s: outcome error %v, general decoder outcome error %v",
				name, got.Err, want.Err)
		}
		if got, want := args.r.Offset(), wantReader.Offset(); got != want {
			t.Errorf("%s: read %d bytes, general decoder read %d", name, got, want)
		}
	}
}
