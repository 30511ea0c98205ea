package runtime

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// wantText fails t unless got contains every one of wants.
func wantText(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Fatalf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

// tryCall runs the guest's tryCall on from and returns what its call import
// said.
func tryCall(t *testing.T, rt *Runtime, from, class, id string, pad int) string {
	t.Helper()
	var got string
	mustCall(t, rt, from, callhost.Op("tryCall", class, id, pad), &got)
	return got
}

// tryPut runs the guest's tryPut on addr and returns what its kv_put import
// returned.
func tryPut(t *testing.T, rt *Runtime, addr string, keySize, valueSize int) string {
	t.Helper()
	var got string
	mustCall(t, rt, addr, callhost.Op("tryPut", keySize, valueSize), &got)
	return got
}

// tryGet runs the guest's tryGet on addr and returns what its kv_get import
// returned.
func tryGet(t *testing.T, rt *Runtime, addr string, keySize int) string {
	t.Helper()
	var got string
	mustCall(t, rt, addr, callhost.Op("tryGet", keySize), &got)
	return got
}

func TestStorageLimitDefaults(t *testing.T) {
	rt := newRuntime(t, Options{})
	got := tryPut(t, rt, "calc/kv", DefaultMaxKeySize+1, 1)
	wantText(t, "long key", got, "too_large", "storage key is 1025 bytes, max 1024")
	got = tryPut(t, rt, "calc/kv", 1, DefaultMaxValueSize+1)
	wantText(t, "large value", got, "too_large", "is 1048577 bytes, max 1048576")
	got = tryPut(t, rt, "calc/kv", DefaultMaxKeySize, DefaultMaxValueSize)
	if got != "stored" {
		t.Fatalf("put at both limits = %q, want stored", got)
	}
	if got := tryGet(t, rt, "calc/kv", DefaultMaxKeySize); got != "1048576 bytes" {
		t.Fatalf("get at the key limit = %q, want 1048576 bytes", got)
	}
}

func TestStorageLimitsBelowDefaults(t *testing.T) {
	rt := newRuntime(t, Options{MaxKeySize: 16, MaxValueSize: 100})
	got := tryPut(t, rt, "calc/kv", 17, 1)
	wantText(t, "long key", got, "too_large", "storage key is 17 bytes, max 16")
	got = tryPut(t, rt, "calc/kv", 16, 101)
	wantText(t, "large value", got, "too_large", "is 101 bytes, max 100")
	got = tryGet(t, rt, "calc/kv", 17)
	wantText(t, "get of a long key", got, "too_large", "storage key is 17 bytes, max 16")

	if got := tryPut(t, rt, "calc/kv", 16, 100); got != "stored" {
		t.Fatalf("put at both limits = %q, want stored", got)
	}
	if got := tryGet(t, rt, "calc/kv", 16); got != "100 bytes" {
		t.Fatalf("get at the key limit = %q, want 100 bytes", got)
	}
}

func TestStorageLimitsAboveDefaults(t *testing.T) {
	rt := newRuntime(t, Options{
		MaxKeySize:   2 * DefaultMaxKeySize,
		MaxValueSize: 2 * DefaultMaxValueSize,
	})
	if got := tryPut(t, rt, "calc/kv", 2000, 2_000_000); got != "stored" {
		t.Fatalf("put of a 2000-byte key and a 2000000-byte value = %q, want stored", got)
	}
	if got := tryGet(t, rt, "calc/kv", 2000); got != "2000000 bytes" {
		t.Fatalf("get of the 2000-byte key = %q, want 2000000 bytes", got)
	}
	got := tryPut(t, rt, "calc/kv", 2*DefaultMaxKeySize+1, 1)
	wantText(t, "long key", got, "too_large", "storage key is 2049 bytes, max 2048")
}

func TestMaxCallSizeRejectsLargeEnvelope(t *testing.T) {
	rt := newRuntime(t, Options{MaxCallSize: 1024})
	got := tryCall(t, rt, "caller/big", "calc", "x", 2000)
	wantText(t, "oversized call", got, "too_large", "call envelope from caller/big is 20",
		"bytes, max 1024")
	if got := tryCall(t, rt, "caller/big", "calc", "x", 10); got != "accepted" {
		t.Fatalf("small call after a rejected one = %q, want accepted", got)
	}
	waitStat(t, rt, "caller/big", "try.runs", 1)
}

func TestMaxCallsPerTurn(t *testing.T) {
	rt := newRuntime(t, Options{MaxCallsPerTurn: 5})
	var got string
	mustCall(t, rt, "caller/flood", callhost.Op("flood", 10), &got)
	wantText(t, "flooding turn", got, "accepted 5: ", "too_large",
		"turn of caller/flood for call ", "has made 5 calls, max 5 per turn")
	mustCall(t, rt, "caller/flood", callhost.Op("flood", 3), &got)
	if got != "accepted 3" {
		t.Fatalf("next turn = %q, want accepted 3: the limit is per turn", got)
	}
}

func TestMaxResultSize(t *testing.T) {
	rt := newRuntime(t, Options{MaxResultSize: 1000})
	_, err := call(t, rt, "calc/r", callhost.Op("bigResult", 2000))
	e := wantCode(t, err, callhost.CodeTooLarge)
	wantText(t, "error", e.Message, `result of calc.bigResult on calc/r is 200`,
		"bytes, max 1000")
	var small string
	mustCall(t, rt, "calc/r", callhost.Op("bigResult", 10), &small)
	if len(small) != 10 {
		t.Fatalf("small result has %d bytes, want 10", len(small))
	}
}

func TestResultLimitAppliesToEveryStep(t *testing.T) {
	rt := newRuntime(t, Options{MaxResultSize: 1000})
	_, err := call(t, rt, "calc/r", callhost.Op("bigResult", 2000).Then("bigResult", 1))
	e := wantCode(t, err, callhost.CodeTooLarge)
	wantText(t, "error", e.Message, "calc.bigResult", "max 1000")
}

func TestConfigurableDepthAndSteps(t *testing.T) {
	rt := newRuntime(t, Options{MaxSteps: 2, MaxDepth: 3})
	long := callhost.Op("double", 1).Then("add", callhost.Prev, 1).Then("add", callhost.Prev, 1)
	_, err := call(t, rt, "calc/d", long)
	e := wantCode(t, err, callhost.CodeBadRequest)
	wantText(t, "error", e.Message, "operation has 3 steps, max 2")

	deep := callhost.Op("double", []any{[]any{[]any{1}}})
	_, err = call(t, rt, "calc/d", deep)
	e = wantCode(t, err, callhost.CodeBadRequest)
	wantText(t, "error", e.Message, "arguments nest deeper than the max of 3 levels (level 4)")

	var got int
	mustCall(t, rt, "calc/d", callhost.Op("double", 1).Then("add", callhost.Prev, 1), &got)
	if got != 3 {
		t.Fatalf("two-step chain = %d, want 3", got)
	}
}

func TestObjectIDLength(t *testing.T) {
	rt := newRuntime(t, Options{})
	long := strings.Repeat("i", DefaultMaxIDSize+1)
	_, err := call(t, rt, "calc/"+long, callhost.Op("double", 1))
	e := wantCode(t, err, callhost.CodeBadRequest)
	wantText(t, "error", e.Message, `object id of 257 bytes for class "calc" is too long, max 256`)

	got := tryCall(t, rt, "caller/id", "calc", long, 0)
	wantText(t, "guest call", got, "bad_request", "object id of 257 bytes", "max 256")

	var n int
	mustCall(t, rt, "calc/"+long[:DefaultMaxIDSize], callhost.Op("double", 2), &n)
	if n != 4 {
		t.Fatalf("double(2) on a 256-byte id = %d, want 4", n)
	}
}

func TestCallRules(t *testing.T) {
	rules := CallRules{"caller": {"calc", callhost.ClassClient}, "calc": {"*"}}
	rt := newRuntime(t, Options{CallRules: rules})

	got := tryCall(t, rt, "caller/r", "obj", "x", 0)
	wantText(t, "forbidden call", got, "forbidden",
		`call rules forbid caller/r to call obj/x: class "caller" may call @client, calc`)
	got = tryCall(t, rt, "pp/r", "calc", "x", 0)
	wantText(t, "unlisted class", got, "forbidden", `class "pp" may call no class`)

	if got := tryCall(t, rt, "caller/r", "calc", "x", 0); got != "accepted" {
		t.Fatalf("allowed call = %q, want accepted", got)
	}
	if got := tryCall(t, rt, "calc/r", "obj", "x", 0); got != "accepted" {
		t.Fatalf("call by a class allowed \"*\" = %q, want accepted", got)
	}
	// The continuation of the allowed call runs: rules do not cover them.
	waitStat(t, rt, "caller/r", "try.runs", 1)
	// Outside callers are not subject to the rules.
	var n int
	mustCall(t, rt, "obj/x", callhost.Op("double", 4), &n)
}

func TestCallRulesRejectInvalidNames(t *testing.T) {
	for _, rules := range []CallRules{{"bad name": {"calc"}}, {"calc": {"@embed"}}} {
		rt, err := New(context.Background(), Options{Store: store.NewMemory(), CallRules: rules})
		if err == nil {
			rt.Shutdown(context.Background())
			t.Fatalf("New accepted call rules %v", rules)
		}
		wantText(t, "error", err.Error(), "call rules: ")
	}
}

// TestCallTimeoutBeyondDuration checks the largest call timeout, which a
// guest in another language may exceed through either call import: a longer
// one would overflow time.Duration into a deadline in the past.
func TestCallTimeoutBeyondDuration(t *testing.T) {
	rt := newRuntime(t, Options{})
	o := &object{addr: callhost.Object("caller", "b"), class: rt.class("caller")}
	msg := &message{kind: msgInvoke, callID: 1, from: callhost.Object("@client", "r")}
	tn := newTurn(rt)
	for _, tc := range []struct {
		timeoutMS uint64
		want      string
	}{
		{maxTimeoutMS, ""},
		{maxTimeoutMS + 1, "call timeout of 9223372036855 ms is over the maximum of 9223372036854 ms"},
		{math.MaxUint64, "is over the maximum"},
	} {
		tn.reset(nil, o, msg, newRun(rt, o))
		env, err := abi.AppendCall(nil, callhost.Object("calc", "t"), callhost.Op("double", 1),
			&abi.Continuation{Handler: "gotDouble", Args: []any{1, 2, callhost.Placeholder}},
			tc.timeoutMS, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tn.Call(env)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("timeout %d ms: %v, want the call accepted", tc.timeoutMS, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("timeout %d ms: error %v, want one containing %q", tc.timeoutMS, err, tc.want)
		case tc.want == "" && tn.calls[0].timeout <= 0:
			t.Errorf("timeout %d ms staged as %v, want a positive duration", tc.timeoutMS,
				tn.calls[0].timeout)
		}
	}
}
