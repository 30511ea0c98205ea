package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callhost-runtime-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		guesttest.Cleanup()
		os.RemoveAll(dir)
	}))
}

// testClasses are the class names the test guest is loaded under.
var testClasses = []string{"calc", "caller", "pp", "obj"}

func newRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	wasm := buildTestGuest(t)
	opts.CacheDir = cacheDir
	if opts.Store == nil && opts.DataDir == "" {
		opts.Store = store.NewMemory()
	}
	ctx := context.Background()
	rt, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	for _, name := range testClasses {
		if err := rt.Load(ctx, name, wasm); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

func buildTestGuest(tb testing.TB) []byte {
	return guesttest.Build(tb, "testdata/testguest")
}

func call(t *testing.T, rt *Runtime, addr string, op callhost.Operation) (callhost.Result, error) {
	t.Helper()
	a, err := callhost.ParseAddress(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return rt.Call(ctx, a, op)
}

func mustCall(t *testing.T, rt *Runtime, addr string, op callhost.Operation, out any) {
	t.Helper()
	res, err := call(t, rt, addr, op)
	if err != nil {
		t.Fatalf("call %s %s: %v", addr, op.Handler(), err)
	}
	if out != nil {
		if err := res.Decode(out); err != nil {
			t.Fatalf("decode result of %s: %v", op.Handler(), err)
		}
	}
}

func stats(t *testing.T, rt *Runtime, addr string) map[string]int {
	t.Helper()
	var m map[string]int
	mustCall(t, rt, addr, callhost.Op("stats"), &m)
	return m
}

// waitStat polls the stats of addr until key reaches want.
func waitStat(t *testing.T, rt *Runtime, addr, key string, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := stats(t, rt, addr)
		if m[key] >= want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s = %d after 60s, want %d (stats %v)", addr, key, m[key], want, m)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func wantCode(t *testing.T, err error, code callhost.Code) *callhost.Error {
	t.Helper()
	var e *callhost.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *callhost.Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error code = %s (%s), want %s", e.Code, e.Message, code)
	}
	return e
}

func TestCallAndWait(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got int
	mustCall(t, rt, "calc/1", callhost.Op("double", 21), &got)
	if got != 42 {
		t.Fatalf("double(21) = %d, want 42", got)
	}
}

func TestCallerAndHops(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got map[string]any
	mustCall(t, rt, "calc/w", callhost.Op("whoami"), &got)
	if got["self"] != "calc/w" {
		t.Errorf("self = %v, want calc/w", got["self"])
	}
	if got["caller"] != "@embed/go" {
		t.Errorf("caller = %v, want @embed/go", got["caller"])
	}
	hops, _ := got["hops"].([]any)
	if len(hops) != 1 || hops[0] != "@embed/go" {
		t.Errorf("hops = %v, want [@embed/go]", got["hops"])
	}
}

func TestTenThousandContinuations(t *testing.T) {
	rt := newRuntime(t, Options{})
	const n = 10000
	mustCall(t, rt, "caller/c", callhost.Op("fire", "calc", "t", n), nil)
	m := waitStat(t, rt, "caller/c", "ok", n)
	time.Sleep(50 * time.Millisecond)
	m = stats(t, rt, "caller/c")
	if m["ok"] != n || len(m) != 1 {
		t.Fatalf("stats = %v, want exactly ok=%d", m, n)
	}
	if p := rt.Stats().Pending; p != 0 {
		t.Fatalf("pending calls = %d after all outcomes, want 0", p)
	}
}

func TestPingPongTenThousandRounds(t *testing.T) {
	rt := newRuntime(t, Options{})
	const rounds = 10000
	mustCall(t, rt, "pp/a", callhost.Op("pingpong", "b", rounds), nil)
	m := waitStat(t, rt, "pp/a", "rounds", rounds)
	if m["invalid"] != 0 {
		t.Fatalf("invalid results: %v", m)
	}
}

func TestSelfCall(t *testing.T) {
	rt := newRuntime(t, Options{})
	mustCall(t, rt, "caller/s", callhost.Op("selfCall", 4), nil)
	m := waitStat(t, rt, "caller/s", "self.runs", 1)
	if m["self.value"] != 8 || m["self.code"] != 0 {
		t.Fatalf("self call outcome = %v, want value 8 and code 0", m)
	}
}

func TestDeadlineFiresOnceAndLateResultDropped(t *testing.T) {
	rt := newRuntime(t, Options{})
	spec := []any{"calc", "slow", "spin", 300, 50}
	mustCall(t, rt, "caller/d", callhost.Op("callOnce", "slow", spec), nil)
	m := waitStat(t, rt, "caller/d", "slow.runs", 1)
	if m["slow.code"] != int(callhost.CodeTimeout) {
		t.Fatalf("outcome code = %d, want timeout (%d)", m["slow.code"], callhost.CodeTimeout)
	}
	deadline := time.Now().Add(10 * time.Second)
	for rt.Stats().Late == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if late := rt.Stats().Late; late != 1 {
		t.Fatalf("late results dropped = %d, want 1", late)
	}
	if m := stats(t, rt, "caller/d"); m["slow.runs"] != 1 {
		t.Fatalf("continuation ran %d times, want 1", m["slow.runs"])
	}
}

func TestTrapReturnsErrorAndPoolRecovers(t *testing.T) {
	rt := newRuntime(t, Options{})
	_, err := call(t, rt, "calc/p", callhost.Op("panic"))
	e := wantCode(t, err, callhost.CodeGuestTrap)
	if !strings.Contains(e.Message, "boom from guest") {
		t.Errorf("trap message %q does not contain the panic value", e.Message)
	}
	var got int
	mustCall(t, rt, "calc/p", callhost.Op("double", 2), &got)
	if got != 4 {
		t.Fatalf("double(2) after trap = %d, want 4", got)
	}
	if d := rt.class("calc").pool.Stats().Discarded; d < 1 {
		t.Fatalf("discarded instances = %d, want >= 1", d)
	}
}

func TestTurnDeadlineStopsSpinningGuest(t *testing.T) {
	rt := newRuntime(t, Options{TurnTimeout: 100 * time.Millisecond})
	_, err := call(t, rt, "calc/x", callhost.Op("spin", -1))
	wantCode(t, err, callhost.CodeTurnDeadline)
	var got int
	mustCall(t, rt, "calc/x", callhost.Op("double", 5), &got)
	if got != 10 {
		t.Fatalf("double(5) after deadline = %d, want 10", got)
	}
}

func TestOverloadFailsAtOnce(t *testing.T) {
	rt := newRuntime(t, Options{MaxPendingPerObject: 10})
	const n = 200
	mustCall(t, rt, "caller/o", callhost.Op("fire", "calc", "o", n), nil)
	deadline := time.Now().Add(30 * time.Second)
	var m map[string]int
	for {
		m = stats(t, rt, "caller/o")
		if m["ok"]+m["code.overloaded"] >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if m["ok"]+m["code.overloaded"] != n {
		t.Fatalf("stats = %v, want ok + code.overloaded = %d", m, n)
	}
	if m["code.overloaded"] == 0 {
		t.Fatalf("no call was rejected as overloaded: %v", m)
	}
	if m["ok"] < 10 {
		t.Fatalf("only %d calls succeeded, want at least the 10 the limit admits", m["ok"])
	}
}

func TestPlaceholderInNestedDataAndChains(t *testing.T) {
	rt := newRuntime(t, Options{})
	cases := []struct {
		name string
		key  string
		want int
	}{
		{"nest", "nest.value", 10},
		{"chain", "chain.value", 11},
		{"deep", "deep.value", 4},
		{"failing", "failing.code", int(callhost.CodeGuestError)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustCall(t, rt, "caller/n", callhost.Op("nested", tc.name), nil)
			m := waitStat(t, rt, "caller/n", tc.key, 1)
			if m[tc.key] != tc.want {
				t.Fatalf("%s = %d, want %d", tc.key, m[tc.key], tc.want)
			}
			if m[tc.name+".mismatch"] != 0 {
				t.Fatalf("placeholders in the list got another outcome: %v", m)
			}
		})
	}
}

func TestNestedAndChainFromEmbeddedCaller(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got int
	mustCall(t, rt, "calc/e", callhost.Op("add", callhost.Op("double", 3), 4), &got)
	if got != 10 {
		t.Fatalf("add(double(3), 4) = %d, want 10", got)
	}
	mustCall(t, rt, "calc/e", callhost.Op("double", 5).Then("add", callhost.Prev, 1), &got)
	if got != 11 {
		t.Fatalf("double(5) then add(prev, 1) = %d, want 11", got)
	}
}

func TestLocalHandlerNotCallableFromOutside(t *testing.T) {
	rt := newRuntime(t, Options{})
	_, err := call(t, rt, "calc/l", callhost.Op("secret", 1))
	wantCode(t, err, callhost.CodeNotExposed)

	mustCall(t, rt, "caller/l", callhost.Op("callLocalOf", "calc", "l"), nil)
	m := waitStat(t, rt, "caller/l", "local.runs", 1)
	if m["local.code"] != int(callhost.CodeNotExposed) {
		t.Fatalf("object calling a local handler got code %d, want not_exposed", m["local.code"])
	}
}

func TestForgedContinuationRejected(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got string
	mustCall(t, rt, "caller/f", callhost.Op("forgeContinuation", "other"), &got)
	if !strings.Contains(got, "forbidden") {
		t.Fatalf("forged continuation: guest saw %q, want a forbidden error", got)
	}
}

func TestForwardAnswersOriginalCaller(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got string
	mustCall(t, rt, "obj/a", callhost.Op("forwardTo", []string{"b", "c", "d"}), &got)
	if want := "end at obj/d after 4 hops"; got != want {
		t.Fatalf("pipeline result = %q, want %q", got, want)
	}
}

func TestFailedTurnDiscardsWrites(t *testing.T) {
	rt := newRuntime(t, Options{})
	var got int
	mustCall(t, rt, "calc/s", callhost.Op("incr", 5), &got)
	_, err := call(t, rt, "calc/s", callhost.Op("incrThenFail", 1))
	wantCode(t, err, callhost.CodeGuestError)
	mustCall(t, rt, "calc/s", callhost.Op("incr", 0), &got)
	if got != 5 {
		t.Fatalf("count = %d after a failed turn, want 5", got)
	}
}

// TestFailedTurnsCallsNotSent runs turns that make calls and then fail among
// turns that make calls and succeed, queued together so that they share
// runs. Only the calls of the successful turns may reach the target, each
// with its own arguments.
func TestFailedTurnsCallsNotSent(t *testing.T) {
	rt := newRuntime(t, Options{})
	const turns = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2*turns)
	for i := 0; i < turns; i++ {
		ok := callhost.Op("callOnce", fmt.Sprintf("ok%d", i), []any{"calc", "f", "incr", i + 1, 0})
		bad := callhost.Op("callThenFail", fmt.Sprintf("bad%d", i),
			[]any{"calc", "f", "incr", 1000, 0})
		for _, op := range []callhost.Operation{bad, ok} {
			wg.Add(1)
			mustFail := op.Handler() == "callThenFail"
			err := rt.CallFunc(callhost.Object("caller", "f"), op, func(_ callhost.Result, err error) {
				defer wg.Done()
				switch {
				case mustFail && err == nil:
					errs <- errors.New("callThenFail succeeded, want an error")
				case !mustFail && err != nil:
					errs <- fmt.Errorf("callOnce failed: %v", err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for i := 0; i < turns; i++ {
		waitStat(t, rt, "caller/f", fmt.Sprintf("ok%d.runs", i), 1)
	}

	var count int
	mustCall(t, rt, "calc/f", callhost.Op("incr", 0), &count)
	if want := turns * (turns + 1) / 2; count != want {
		t.Fatalf("target count = %d, want %d from the successful turns' calls alone", count, want)
	}
	m := stats(t, rt, "caller/f")
	for i := 0; i < turns; i++ {
		if m[fmt.Sprintf("bad%d.runs", i)] != 0 {
			t.Fatalf("continuation of a failed turn's call ran: %v", m)
		}
	}
	if p := rt.Stats().Pending; p != 0 {
		t.Fatalf("%d calls pending after every outcome arrived, want 0", p)
	}
}

func TestUnknownTargets(t *testing.T) {
	rt := newRuntime(t, Options{})
	_, err := call(t, rt, "nope/x", callhost.Op("double", 1))
	wantCode(t, err, callhost.CodeNotFound)
	_, err = call(t, rt, "calc/x", callhost.Op("nope"))
	wantCode(t, err, callhost.CodeNotFound)
}

func TestBadArguments(t *testing.T) {
	rt := newRuntime(t, Options{})
	_, err := call(t, rt, "calc/x", callhost.Op("double", "not a number"))
	wantCode(t, err, callhost.CodeBadRequest)
	_, err = call(t, rt, "calc/x", callhost.Op("double", 1, 2))
	wantCode(t, err, callhost.CodeBadRequest)
}

func TestApplicationErrorCode(t *testing.T) {
	rt := newRuntime(t, Options{})
	_, err := call(t, rt, "calc/x", callhost.Op("appfail", 1042))
	wantCode(t, err, callhost.Code(1042))
}

func TestShutdownDrainsRunningTurns(t *testing.T) {
	rt := newRuntime(t, Options{})
	done := make(chan error, 1)
	err := rt.CallFunc(callhost.Object("calc", "z"), callhost.Op("spin", 200),
		func(_ callhost.Result, err error) { done <- err })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("call running during shutdown failed: %v", err)
	}
	_, err = call(t, rt, "calc/z", callhost.Op("double", 1))
	wantCode(t, err, callhost.CodeUnavailable)
}
