package abi

import (
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/fuzzcheck"
	"github.com/callhost/callhost/internal/msgp"
)

// Forged inputs shared by the envelope targets: counts and lengths that the
// remaining bytes cannot hold.
var forged = [][]byte{
	{0xdd, 0xff, 0xff, 0xff, 0xff, 0x01},       // array of 2^32-1 elements
	{0x97, 0x01, 0xdb, 0x7f, 0xff, 0xff, 0xff}, // string of 2^31-1 bytes
	{0x92, 0x00, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},
	{},
	{0xc1},
}

func seeds(f *testing.F, valid ...[]byte) {
	f.Helper()
	fuzzcheck.Seed(f, append(valid, forged...)...)
}

func skipLarge(t *testing.T, in []byte) {
	if len(in) > fuzzcheck.MaxInput {
		t.Skip()
	}
}

// within fails t when a decoded part of in is not a slice of in, which would
// mean the decoder allocated or read beyond its input.
func within(t *testing.T, in, part []byte, name string) {
	t.Helper()
	if len(part) > len(in) {
		t.Fatalf("%s is %d bytes, longer than the %d-byte input", name, len(part), len(in))
	}
}

func FuzzDecodeRequest(f *testing.F) {
	args, _ := callhost.Op("h", 1, "two", []any{3.5, nil}).AppendSteps(nil)
	req := AppendRequest(nil, &Request{Kind: KindInvoke, Handler: "add", Args: args[3:],
		Self: callhost.Object("c", "1"), Caller: callhost.Object("@client", "x"),
		Hops: []callhost.Address{callhost.Object("@client", "x")}, CallID: 7})
	alarm := AppendRequest(nil, &Request{Kind: KindAlarm, Handler: "tick",
		Self: callhost.Object("c", "1"), CallID: 1 << 40})
	seeds(f, req, alarm, append(req[:len(req):len(req)], 0xc0))
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var q Request
		if err := DecodeRequest(in, &q); err != nil {
			return
		}
		within(t, in, q.Args, "args")
		if 4*len(q.Hops) > len(in) {
			t.Fatalf("%d hops from %d bytes", len(q.Hops), len(in))
		}
	})
}

func FuzzDecodeCall(f *testing.F) {
	op := callhost.Op("add", callhost.Op("double", 3), 4).Then("add", callhost.Prev, 1)
	full, _ := AppendCall(nil, callhost.Object("calc", "1"), op,
		&Continuation{Handler: "got", Args: []any{"k", callhost.Placeholder}}, 500, 0)
	fire, _ := AppendCall(nil, callhost.Object("calc", "2"), callhost.Op("double", 1),
		nil, 0, FlagForward)
	seeds(f, full, fire)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var c Call
		if err := DecodeCall(in, &c); err != nil {
			return
		}
		within(t, in, c.Steps, "steps")
		within(t, in, c.ContArgs, "continuation arguments")
		if _, err := CheckOperation(c.Steps); err == nil {
			checkReplace(t, c.Steps)
		}
		if c.HasCont {
			if _, err := CheckContinuationArgs(c.ContArgs); err == nil {
				checkFill(t, c.ContArgs)
			}
		}
	})
}

func FuzzDecodeOutcome(f *testing.F) {
	seeds(f, AppendOK(nil, []byte{0x92, 0x01, 0xa1, 'x'}), AppendOK(nil, nil),
		AppendError(nil, callhost.CodeGuestTrap, "trapped"),
		AppendError(nil, 1042, ""), []byte{0x92, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0xa0})
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		value, failure, err := DecodeOutcome(in)
		if err != nil {
			return
		}
		within(t, in, value, "value")
		if failure != nil {
			within(t, in, []byte(failure.Message), "message")
		}
	})
}

func FuzzDecodeAlarm(f *testing.F) {
	a, _ := AppendAlarm(nil, 1_700_000_000_000, "tick", []any{"label", 3})
	list := AppendAlarmList(nil, []AlarmEntry{{ID: 1, At: -5, Handler: "a"}, {ID: 9, At: 7}})
	seeds(f, a, list, append(a[:len(a):len(a)], 0x01))
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		var a Alarm
		if err := DecodeAlarm(in, &a); err == nil {
			within(t, in, a.Args, "args")
			_ = CheckAlarmArgs(a.Args)
		}
		if list, err := DecodeAlarmList(in); err == nil && 4*len(list) > len(in) {
			t.Fatalf("%d alarms from %d bytes", len(list), len(in))
		}
		if hs, err := DecodeDescribe(in); err == nil && 3*len(hs) > len(in) {
			t.Fatalf("%d handlers from %d bytes", len(hs), len(in))
		}
	})
}

func FuzzCheckOperation(f *testing.F) {
	var valid [][]byte
	for _, op := range []callhost.Operation{
		callhost.Op("double", 21),
		callhost.Op("add", callhost.Op("add", callhost.Op("double", 1), 1), 1),
		callhost.Op("double", 5).Then("add", callhost.Prev, map[string]any{"k": callhost.Prev}),
		callhost.Op("h", callhost.Placeholder),
	} {
		b, _ := op.AppendSteps(nil)
		valid = append(valid, b)
	}
	seeds(f, append(valid, []byte{0x90}, []byte{0x91, 0x92, 0xa1, 'h', 0x91, 0xc7, 0, 3})...)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		info, err := CheckOperation(in)
		if err != nil {
			return
		}
		if info.Steps < 1 || info.Steps > callhost.MaxSteps {
			t.Fatalf("accepted an operation of %d steps", info.Steps)
		}
		checkReplace(t, in)
	})
}

func FuzzContinuationArgs(f *testing.F) {
	var valid [][]byte
	for _, args := range [][]any{
		{callhost.Placeholder},
		{"label", map[string]any{"R": callhost.Placeholder, "L": []any{callhost.Placeholder}}},
		{1, 2, 3},
		{callhost.Prev},
	} {
		b, _ := msgp.Append(nil, args)
		valid = append(valid, b)
	}
	seeds(f, valid...)
	f.Fuzz(func(t *testing.T, in []byte) {
		skipLarge(t, in)
		if _, err := CheckContinuationArgs(in); err == nil {
			checkFill(t, in)
		}
	})
}

// checkReplace resolves every step of a checked operation the way the
// runtime does, with each extension value replaced by nil, and checks that
// the result is one value no longer than its input.
func checkReplace(t *testing.T, steps []byte) {
	t.Helper()
	var replace Replacer
	replace = func(typ int8, payload []byte) ([]byte, error) {
		switch typ {
		case callhost.ExtPrev:
		case callhost.ExtNested:
			if err := ForEachStep(payload, func(_ int, _ string, args []byte) error {
				_, err := Replace(nil, args, replace)
				return err
			}); err != nil {
				t.Fatalf("nested operation of a checked operation: %v", err)
			}
		default:
			t.Fatalf("checked operation holds extension type %d", typ)
		}
		return []byte{0xc0}, nil
	}
	err := ForEachStep(steps, func(_ int, _ string, args []byte) error {
		out, err := Replace(nil, args, replace)
		if err == nil {
			oneValue(t, out, args)
		}
		return err
	})
	if err != nil {
		t.Fatalf("steps of a checked operation: %v", err)
	}
}

// checkFill fills the placeholders of checked continuation arguments with a
// two-byte outcome and checks the size of the result.
func checkFill(t *testing.T, args []byte) {
	t.Helper()
	outcome := []byte{0x92, 0x00}
	out, err := FillPlaceholders(nil, args, append(outcome, 0xc0))
	if err != nil {
		t.Fatalf("fill checked continuation arguments: %v", err)
	}
	oneValue(t, out, nil)
	if len(out) > 2*len(args) {
		t.Fatalf("filled %d bytes of arguments into %d bytes", len(args), len(out))
	}
}

// oneValue fails t unless b is exactly one value and, when in is not nil, no
// longer than in.
func oneValue(t *testing.T, b, in []byte) {
	t.Helper()
	r := msgp.NewReader(b)
	if err := r.Skip(); err != nil || r.Len() != 0 {
		t.Fatalf("replaced arguments are not one value (%v, %d bytes left)", err, r.Len())
	}
	if in != nil && len(b) > len(in) {
		t.Fatalf("replaced %d bytes of arguments into %d bytes", len(in), len(b))
	}
}
