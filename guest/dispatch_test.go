//go:build !wasip1

package guest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

func echoInt(_ *Ctx, n int) (int, error) { return n, nil }

func TestDescribeListsHandlers(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("echo", true, echoInt))
	h.reg.add(bind0("done", false, func(*Ctx) (None, error) { return None{}, nil }))
	value, failed := h.turn(&abi.Request{Kind: abi.KindDescribe, Self: testObject})
	if failed != nil {
		t.Fatalf("describe: %v", failed)
	}
	table, err := abi.DecodeDescribe(value)
	if err != nil {
		t.Fatalf("decode describe table: %v", err)
	}
	want := []abi.Handler{{Name: "echo", Exposed: true}, {Name: "done", Exposed: false}}
	if fmt.Sprint(table) != fmt.Sprint(want) {
		t.Errorf("describe table = %v, want %v", table, want)
	}
}

func TestInvokeScalarHandlers(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("echo", true, echoInt))
	h.reg.add(bind2("concat", true, func(_ *Ctx, a, b string) (string, error) {
		return a + b, nil
	}))
	h.reg.add(bind3("mix", true, func(_ *Ctx, a bool, b float64, c []byte) (string, error) {
		return fmt.Sprintf("%t %v %s", a, b, c), nil
	}))
	h.reg.add(bind4("sum", true, func(_ *Ctx, a int, b int64, c uint64, d int32) (int64, error) {
		return int64(a) + b + int64(c) + int64(d), nil
	}))
	h.reg.add(bind0("none", true, func(*Ctx) (None, error) { return None{}, nil }))

	if got := decodeAs[int](t, h.invoke("echo", 123456)); got != 123456 {
		t.Errorf("echo(123456) = %d", got)
	}
	if got := decodeAs[string](t, h.invoke("concat", "ab", "cd")); got != "abcd" {
		t.Errorf(`concat("ab", "cd") = %q`, got)
	}
	if got := decodeAs[string](t, h.invoke("mix", true, 1.5, []byte("x"))); got != "true 1.5 x" {
		t.Errorf("mix = %q", got)
	}
	if got := decodeAs[int64](t, h.invoke("sum", 1, -2, 3, 4)); got != 6 {
		t.Errorf("sum = %d, want 6", got)
	}
	if got := h.invoke("none"); len(got) != 1 || got[0] != 0xc0 {
		t.Errorf("none returned % x, want nil (c0)", got)
	}
}

type point struct {
	X, Y int
	Tags []string
}

func TestInvokeStructArgument(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("move", true, func(_ *Ctx, p point) (point, error) {
		p.X++
		return p, nil
	}))
	got := decodeAs[point](t, h.invoke("move", point{X: 1, Y: 2, Tags: []string{"a"}}))
	if got.X != 2 || got.Y != 2 || len(got.Tags) != 1 || got.Tags[0] != "a" {
		t.Errorf("move = %+v, want {X:2 Y:2 Tags:[a]}", got)
	}
	// The slot is reset between turns, also after a failed decode: fields
	// absent from a request must not keep an earlier request's values.
	failed := h.invokeErr("move", map[string]any{"X": 5, "Tags": 1})
	if failed.Code != callhost.CodeBadRequest {
		t.Errorf("move with invalid Tags: code = %v, want bad_request", failed.Code)
	}
	got = decodeAs[point](t, h.invoke("move", map[string]any{"Y": 7}))
	if got.X != 1 || got.Y != 7 || got.Tags != nil {
		t.Errorf("move({Y:7}) = %+v, want {X:1 Y:7 Tags:[]}", got)
	}
}

func TestInvokeUnknownHandler(t *testing.T) {
	h := newHarness(t)
	failed := h.invokeErr("missing")
	if failed.Code != callhost.CodeNotFound {
		t.Errorf("code = %v, want not_found", failed.Code)
	}
	want := `handler "missing" not found in class "counter"`
	if failed.Message != want {
		t.Errorf("message = %q, want %q", failed.Message, want)
	}
}

func TestInvokeLocalHandler(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("secret", false, echoInt))
	failed := h.invokeErr("secret", 1)
	if failed.Code != callhost.CodeNotExposed {
		t.Errorf("code = %v, want not_exposed", failed.Code)
	}
	if !strings.Contains(failed.Message, `"secret"`) {
		t.Errorf("message %q does not name the handler", failed.Message)
	}
	value, failed := h.turn(request(abi.KindContinuation, "secret", 5))
	if failed != nil {
		t.Fatalf("continuation of a local handler: %v", failed)
	}
	if got := decodeAs[int](t, value); got != 5 {
		t.Errorf("continuation secret(5) = %d", got)
	}
}

func TestInvokeWrongArity(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind2("add", true, func(_ *Ctx, a, b int) (int, error) { return a + b, nil }))
	failed := h.invokeErr("add", 1)
	if failed.Code != callhost.CodeBadRequest {
		t.Errorf("code = %v, want bad_request", failed.Code)
	}
	want := `handler "add" takes 2 arguments, got 1`
	if failed.Message != want {
		t.Errorf("message = %q, want %q", failed.Message, want)
	}
}

func TestInvokeUndecodableArgument(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind2("add", true, func(_ *Ctx, a, b int) (int, error) { return a + b, nil }))
	h.reg.add(bind1("move", true, func(_ *Ctx, p point) (point, error) { return p, nil }))

	failed := h.invokeErr("add", 1, "two")
	if failed.Code != callhost.CodeBadRequest {
		t.Errorf("code = %v, want bad_request", failed.Code)
	}
	prefix := `handler "add": argument 1: decode into int: msgpack: expected integer`
	if !strings.HasPrefix(failed.Message, prefix) {
		t.Errorf("message = %q, want prefix %q", failed.Message, prefix)
	}

	failed = h.invokeErr("move", "not a point")
	prefix = `handler "move": argument 0: decode into guest.point: `
	if !strings.HasPrefix(failed.Message, prefix) {
		t.Errorf("message = %q, want prefix %q", failed.Message, prefix)
	}
}

func TestInvokeArgumentsNotArray(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("echo", true, echoInt))
	q := request(abi.KindInvoke, "echo")
	q.Args = msgp.AppendInt(nil, 5)
	_, failed := h.turn(q)
	if failed == nil || failed.Code != callhost.CodeBadRequest {
		t.Fatalf("non-array arguments: got %v, want bad_request", failed)
	}
	if !strings.Contains(failed.Message, "arguments are not an array") {
		t.Errorf("message = %q", failed.Message)
	}
}

func TestHandlerErrors(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("fail", true, func(_ *Ctx, kind string) (int, error) {
		switch kind {
		case "app":
			return 0, Errorf(callhost.CodeApplication+1, "out of stock: %d", 3)
		case "wrapped":
			return 0, fmt.Errorf("reserve: %w", Errorf(callhost.CodeTimeout, "slow"))
		case "ok-code":
			return 0, &callhost.Error{Code: callhost.CodeOK, Message: "odd"}
		}
		return 0, errors.New("plain failure")
	}))
	cases := []struct {
		kind string
		code callhost.Code
		msg  string
	}{
		{"app", callhost.CodeApplication + 1, "out of stock: 3"},
		{"wrapped", callhost.CodeTimeout, "slow"},
		{"ok-code", callhost.CodeGuestError, "ok: odd"},
		{"plain", callhost.CodeGuestError, "plain failure"},
	}
	for _, tc := range cases {
		failed := h.invokeErr("fail", tc.kind)
		if failed.Code != tc.code {
			t.Errorf("fail(%s): code = %v, want %v", tc.kind, failed.Code, tc.code)
		}
		if failed.Message != tc.msg {
			t.Errorf("fail(%s): message = %q, want %q", tc.kind, failed.Message, tc.msg)
		}
	}
}

func TestResultEncodeFailure(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind0("chan", true, func(*Ctx) (chan int, error) { return nil, nil }))
	failed := h.invokeErr("chan")
	if failed.Code != callhost.CodeGuestError {
		t.Errorf("code = %v, want guest_error", failed.Code)
	}
	prefix := `handler "chan": encode result of type chan int: `
	if !strings.HasPrefix(failed.Message, prefix) {
		t.Errorf("message = %q, want prefix %q", failed.Message, prefix)
	}
}

func TestMalformedRequest(t *testing.T) {
	h := newHarness(t)
	cases := map[string][]byte{
		"empty":       nil,
		"not array":   msgp.AppendInt(nil, 1),
		"short":       msgp.AppendArrayHeader(nil, 3),
		"truncated":   abi.AppendRequest(nil, request(1, "x"))[:3],
		"bad handler": append(msgp.AppendInt(msgp.AppendArrayHeader(nil, 7), 1), 0x01),
	}
	for name, req := range cases {
		out := h.d.turn(req)
		_, failed, err := abi.DecodeOutcome(out)
		if err != nil {
			t.Fatalf("%s: decode response: %v", name, err)
		}
		if failed == nil || failed.Code != callhost.CodeBadRequest {
			t.Errorf("%s: got %v, want bad_request", name, failed)
		}
	}
	_, failed := h.turn(request(7, "x"))
	if failed == nil || failed.Message != "unknown request kind 7" {
		t.Errorf("kind 7: got %v, want bad_request: unknown request kind 7", failed)
	}
}

// badAddressRequest returns an invoke request of handler "info" whose self
// address has one element instead of two.
func badAddressRequest() []byte {
	b := msgp.AppendArrayHeader(nil, 7)
	b = msgp.AppendInt(b, abi.KindInvoke)
	b = msgp.AppendString(b, "info")
	b = msgp.AppendArrayHeader(b, 0)
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendString(b, "counter")
	b = msgp.AppendNil(b)
	b = msgp.AppendArrayHeader(b, 0)
	return msgp.AppendUint(b, 1)
}

func TestCtxRequestFields(t *testing.T) {
	h := newHarness(t)
	var got []string
	h.reg.add(bind0("info", true, func(c *Ctx) (None, error) {
		caller, ok := c.Caller()
		got = append(got, fmt.Sprint(c.Self(), caller, ok, c.Hops(), c.CallID(),
			c.Continuation()))
		return None{}, nil
	}))
	q := request(abi.KindInvoke, "info")
	q.Hops = []callhost.Address{callhost.Object("@client", "k7"), callhost.Object("a", "1")}
	h.turn(q)
	q = request(abi.KindContinuation, "info")
	q.Caller, q.CallID = callhost.Address{}, 9
	h.turn(q)
	h.d.turn(badAddressRequest())
	want := []string{
		"counter/c1 @client/k7 true [@client/k7 a/1] 42 false",
		"counter/c1 / false [] 9 true",
		"/ / false [] 0 false", // a malformed tail reads as zero values
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("request fields:\n got %q\nwant %q", got, want)
	}
}

func TestRegistryRejectsBadRegistrations(t *testing.T) {
	cases := map[string]func(r *registry){
		"empty name": func(r *registry) { r.add(bind1("", true, echoInt)) },
		"duplicate": func(r *registry) {
			r.add(bind1("echo", true, echoInt))
			r.add(bind1("echo", false, echoInt))
		},
		"nil function": func(r *registry) {
			r.add(bind1[int, int]("echo", true, nil))
		},
		"after first turn": func(r *registry) {
			newDispatcher(r, newFakeHost()).turn(nil)
			r.add(bind1("echo", true, echoInt))
		},
	}
	for name, register := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("registration did not panic")
				}
			}()
			register(&registry{})
		})
	}
}

func TestExposeUsesDefaultRegistry(t *testing.T) {
	Expose1("test-expose", echoInt)
	Local2("test-local", func(_ *Ctx, a, b int) (int, error) { return a + b, nil })
	exposed := defaultRegistry.byName["test-expose"]
	local := defaultRegistry.byName["test-local"]
	if exposed == nil || !exposed.exposed || exposed.arity != 1 {
		t.Errorf("Expose1 registered %+v, want exposed handler of arity 1", exposed)
	}
	if local == nil || local.exposed || local.arity != 2 {
		t.Errorf("Local2 registered %+v, want local handler of arity 2", local)
	}
}

func TestTurnAllocations(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("echo", true, echoInt))
	h.reg.add(bind2("concat", true, func(_ *Ctx, a, b string) (string, error) {
		return a + b, nil
	}))
	// A counter in storage and a continuation that receives an int outcome.
	h.reg.add(bind2("tally", false, func(c *Ctx, step int, r Result[int]) (int, error) {
		n, _, err := Load[int](c, "n")
		if err == nil {
			err = Store(c, "n", n+step+r.Value)
		}
		return n, err
	}))
	h.host.kv["n"] = msgp.AppendInt(nil, 1<<40)
	tally := request(abi.KindContinuation, "tally")
	tally.Args = msgp.AppendInt(msgp.AppendArrayHeader(nil, 2), 1<<20)
	tally.Args = append(tally.Args, abi.AppendOK(nil, msgp.AppendInt(nil, 1<<30))...)
	cases := []struct {
		req  []byte
		max  float64
		what string
	}{
		{abi.AppendRequest(nil, request(abi.KindInvoke, "echo", 1<<40)), 0, "echo(int)"},
		// Two argument strings and the concatenation.
		{abi.AppendRequest(nil, request(abi.KindInvoke, "concat", "abc", "def")), 3,
			"concat(string, string)"},
		// The fake host's copy of the stored value.
		{abi.AppendRequest(nil, tally), 1, "tally(int, Result[int]) with Load and Store"},
	}
	for _, tc := range cases {
		h.d.turn(tc.req) // warm the buffers
		allocs := testing.AllocsPerRun(100, func() { h.d.turn(tc.req) })
		if allocs > tc.max {
			t.Errorf("%s: %v allocations per turn, want at most %v", tc.what, allocs, tc.max)
		}
	}
}

func BenchmarkDispatcherEcho(b *testing.B) {
	reg := &registry{}
	reg.add(bind1("echo", true, echoInt))
	d := newDispatcher(reg, newFakeHost())
	req := abi.AppendRequest(nil, request(abi.KindInvoke, "echo", 123456))
	b.ReportAllocs()
	for b.Loop() {
		d.turn(req)
	}
}

func TestLookupAfterSameLengthName(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("add1", true, func(_ *Ctx, n int) (int, error) { return n + 1, nil }))
	h.reg.add(bind1("add2", true, func(_ *Ctx, n int) (int, error) { return n + 2, nil }))
	for _, tc := range []struct {
		handler string
		want    int64
	}{{"add1", 11}, {"add2", 12}, {"add2", 12}, {"add1", 11}} {
		v, failed, err := abi.DecodeOutcome(h.d.turn(abi.AppendRequest(nil,
			request(abi.KindInvoke, tc.handler, 10))))
		if err != nil || failed != nil {
			t.Fatalf("%s: %v %v", tc.handler, err, failed)
		}
		r := msgp.NewReader(v)
		if n, err := r.ReadInt(); err != nil || n != tc.want {
			t.Errorf("%s(10) = %d, %v; want %d", tc.handler, n, err, tc.want)
		}
	}
}
