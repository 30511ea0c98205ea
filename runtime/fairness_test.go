package runtime

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/store"
)

// newClassesRuntime returns a runtime with opts, the test guest loaded as
// "calc" and the hostile guest as "hostile".
func newClassesRuntime(t *testing.T, opts Options) *Runtime {
	t.Helper()
	ctx := context.Background()
	opts.Store = store.NewMemory()
	opts.CacheDir = cacheDir
	rt, err := New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	if err := rt.Load(ctx, "calc", buildTestGuest(t)); err != nil {
		t.Fatal(err)
	}
	if err := rt.Load(ctx, "hostile", guesttest.Build(t, "testdata/hostile")); err != nil {
		t.Fatal(err)
	}
	return rt
}

// strikeOut makes n hostile panics, each of which must fail with
// guest_trap.
func strikeOut(t *testing.T, rt *Runtime, n int) {
	t.Helper()
	for range n {
		_, err := call(t, rt, "hostile/p", callhost.Op("panic"))
		wantCode(t, err, callhost.CodeGuestTrap)
	}
}

func TestThrottleAfterStrikeLimit(t *testing.T) {
	rt := newClassesRuntime(t, Options{StrikeLimit: 3, ThrottleTime: time.Minute})
	n := startNeighbour(t, rt)
	defer n.finish(t)

	strikeOut(t, rt, 2)
	var got string
	mustCall(t, rt, "hostile/ok", callhost.Op("ok"), &got) // two strikes are allowed
	strikeOut(t, rt, 1)

	_, err := call(t, rt, "hostile/ok", callhost.Op("ok"))
	e := wantCode(t, err, callhost.CodeThrottled)
	for _, part := range []string{`class "hostile" is throttled until`, "from now",
		"3 of its turns within 10s ran past the turn deadline or trapped",
		"hostile.panic on hostile/p trapped"} {
		if !strings.Contains(e.Message, part) {
			t.Errorf("throttled message %q does not contain %q", e.Message, part)
		}
	}
	if !errors.Is(err, callhost.ErrThrottled) {
		t.Errorf("errors.Is(%v, ErrThrottled) = false", err)
	}
	if st := rt.Stats(); st.Throttled != 1 {
		t.Errorf("Stats().Throttled = %d, want 1", st.Throttled)
	}

	// A guest's call to the throttled class gets throttled as its outcome.
	spec := []any{"hostile", "x", "ok", nil, 10000}
	mustCall(t, rt, "calc/c", callhost.Op("callOnce", "h", spec), nil)
	m := waitStat(t, rt, "calc/c", "h.runs", 1)
	if m["h.code"] != int(callhost.CodeThrottled) {
		t.Errorf("continuation got code %d, want %d (throttled)", m["h.code"],
			callhost.CodeThrottled)
	}
	mustCall(t, rt, "calc/other", callhost.Op("double", 4), nil)
}

func TestThrottleProbationDoubles(t *testing.T) {
	const base = 300 * time.Millisecond
	rt := newClassesRuntime(t, Options{StrikeLimit: 2, ThrottleTime: base,
		MaxThrottleTime: time.Minute})
	h := rt.class("hostile").health

	strikeOut(t, rt, 2)
	first := throttleLength(t, h)
	if first != base {
		t.Fatalf("first throttle lasts %s, want %s", first, base)
	}
	waitUnthrottled(t, rt)
	var got string
	mustCall(t, rt, "hostile/ok", callhost.Op("ok"), &got)

	strikeOut(t, rt, 1) // on probation: one strike throttles again
	if second := throttleLength(t, h); second != 2*base {
		t.Fatalf("second throttle lasts %s, want %s", second, 2*base)
	}
	_, err := call(t, rt, "hostile/ok", callhost.Op("ok"))
	e := wantCode(t, err, callhost.CodeThrottled)
	if want := "one of its turns ran past the turn deadline or trapped within 10s " +
		"after its last throttle ended"; !strings.Contains(e.Message, want) {
		t.Errorf("throttled message %q does not contain %q", e.Message, want)
	}
}

// throttleLength returns how long the class's last throttle lasts.
func throttleLength(t *testing.T, h *classHealth) time.Duration {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lastUntil.IsZero() {
		t.Fatal("class is not throttled")
	}
	return h.lastUntil.Sub(h.lastStart)
}

// waitUnthrottled waits until a call to hostile/ok is no longer throttled.
func waitUnthrottled(t *testing.T, rt *Runtime) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := call(t, rt, "hostile/ok", callhost.Op("ok"))
		if !errors.Is(err, callhost.ErrThrottled) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still throttled after 30s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// outcomeLog records the outcome codes of calls submitted to a runtime and
// fails the test for a call that gets more than one.
type outcomeLog struct {
	t     *testing.T
	mu    sync.Mutex
	codes map[callhost.Code]int
	seen  map[int]bool
	wg    sync.WaitGroup
}

func newOutcomeLog(t *testing.T) *outcomeLog {
	return &outcomeLog{t: t, codes: map[callhost.Code]int{}, seen: map[int]bool{}}
}

// submit submits op to the object at to as call i, and records its outcome
// or the error Submit returned.
func (l *outcomeLog) submit(rt *Runtime, i int, to callhost.Address, op callhost.Operation) {
	steps, _ := op.AppendSteps(nil)
	l.wg.Add(1)
	_, err := rt.Submit(Submission{To: to, Steps: steps, Timeout: time.Minute,
		Done: func(_ []byte, err *callhost.Error) { l.record(i, err) }})
	if err != nil {
		l.record(i, callhost.AsError(err))
	}
}

func (l *outcomeLog) record(i int, err *callhost.Error) {
	code := callhost.CodeOK
	if err != nil {
		code = err.Code
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen[i] {
		l.t.Errorf("call %d got a second outcome, code %s", i, code)
		return
	}
	l.seen[i] = true
	l.codes[code]++
	l.wg.Done()
}

// wait waits for every outcome and returns the count of each code.
func (l *outcomeLog) wait() map[callhost.Code]int {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.codes)
}

// TestThrottleKeepsAcceptedCalls queues 20 calls on one hostile object, half
// of them traps, which throttle the class while the rest of them wait. It
// then submits 20 more. Each of the first 20 still runs and gets its own
// outcome, and the traps among them do not extend the throttle. Each of the
// later 20 fails with throttled when submitted.
func TestThrottleKeepsAcceptedCalls(t *testing.T) {
	rt := newClassesRuntime(t, Options{StrikeLimit: 3, ThrottleTime: time.Minute})
	n := startNeighbour(t, rt)
	to := callhost.Object("hostile", "q")

	const wave = 20
	accepted := newOutcomeLog(t)
	for i := range wave {
		op := callhost.Op("ok")
		if i%2 == 1 {
			op = callhost.Op("panic")
		}
		accepted.submit(rt, i, to, op)
	}
	h := rt.class("hostile").health
	deadline := time.Now().Add(30 * time.Second)
	for h.throttled() == nil {
		if time.Now().After(deadline) {
			t.Fatal("class not throttled after 30s")
		}
		time.Sleep(time.Millisecond)
	}
	h.mu.Lock()
	throttleStart := h.lastStart
	h.mu.Unlock()
	late := newOutcomeLog(t)
	for i := range wave {
		late.submit(rt, i, to, callhost.Op("ok"))
	}

	got := accepted.wait()
	if got[callhost.CodeOK] != wave/2 || got[callhost.CodeGuestTrap] != wave/2 {
		t.Errorf("outcomes of the calls accepted before the throttle: %v, want %d ok and "+
			"%d guest_trap", got, wave/2, wave/2)
	}
	if got := late.wait(); got[callhost.CodeThrottled] != wave {
		t.Errorf("outcomes of the calls made while throttled: %v, want %d throttled",
			got, wave)
	}
	h.mu.Lock()
	if !h.lastStart.Equal(throttleStart) {
		t.Errorf("traps during the throttle started a new throttle at %v", h.lastStart)
	}
	h.mu.Unlock()
	n.finish(t) // its calls would count as pending
	if st := rt.Stats(); st.Queued != 0 || st.Pending != 0 || st.Throttled != wave {
		t.Errorf("runtime stats %+v, want nothing queued or pending and %d throttled",
			st, wave)
	}
}

// TestRefillBudgetHoldsTurnsBack breaks the only instance that the refill
// budget allows, with throttling off: the next call to the class waits for
// the budget instead of failing, while the neighbour keeps running.
func TestRefillBudgetHoldsTurnsBack(t *testing.T) {
	rt := newClassesRuntime(t, Options{StrikeLimit: -1, RefillBurst: 1,
		RefillInterval: 3 * time.Second})
	n := startNeighbour(t, rt)
	defer n.finish(t)

	strikeOut(t, rt, 1)
	_, err := rt.Call(context.Background(), callhost.Object("hostile", "wait"),
		callhost.Op("ok"), WithTimeout(200*time.Millisecond))
	wantCode(t, err, callhost.CodeTimeout)

	var got string
	mustCall(t, rt, "hostile/after", callhost.Op("ok"), &got)
	if got != "ok" {
		t.Fatalf("ok = %q after the budget refilled", got)
	}
	if s := rt.class("hostile").pool.Stats(); s.Discarded != 1 {
		t.Fatalf("pool stats %+v: want 1 discarded instance", s)
	}
}

// TestGuestErrorsAreNotStrikes checks that failures that leave the instance
// intact never throttle a class: handler errors and results over the size
// limit.
func TestGuestErrorsAreNotStrikes(t *testing.T) {
	rt := newClassesRuntime(t, Options{StrikeLimit: 1, MaxResultSize: 1 << 10})
	for i := range 5 {
		_, err := call(t, rt, "calc/e", callhost.Op("fail", "expected"))
		wantCode(t, err, callhost.CodeGuestError)
		_, err = call(t, rt, "hostile/b", callhost.Op("blob", 4<<10))
		wantCode(t, err, callhost.CodeTooLarge)
		var got int
		mustCall(t, rt, "calc/e", callhost.Op("double", i), &got)
	}
	if st := rt.Stats(); st.Throttled != 0 {
		t.Errorf("Stats().Throttled = %d, want 0", st.Throttled)
	}
}

// TestFairShareRunsShortTurnsFirst runs one worker with ten 30 ms turns of
// class "slow" queued before ten short turns of class "calc". Fair share
// lets the short turns run once "slow" has used more turn time than "calc",
// so they finish after at most a few slow turns, where a FIFO would run all
// ten slow turns first.
func TestFairShareRunsShortTurnsFirst(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Options{Store: store.NewMemory(), CacheDir: cacheDir, Workers: 1,
		MaxInstances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown(ctx)
	for _, class := range []string{"slow", "calc"} {
		if err := rt.Load(ctx, class, buildTestGuest(t)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var order []string
	var done sync.WaitGroup
	submit := func(class, id string, op callhost.Operation) {
		steps, _ := op.AppendSteps(nil)
		done.Add(1)
		_, err := rt.Submit(Submission{To: callhost.Object(class, id), Steps: steps,
			Done: func(_ []byte, err *callhost.Error) {
				if err != nil {
					t.Errorf("%s/%s: %v", class, id, err)
				}
				mu.Lock()
				order = append(order, class)
				mu.Unlock()
				done.Done()
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	const each = 10
	for i := range each {
		submit("slow", "s"+string(rune('a'+i)), callhost.Op("spin", 30))
	}
	for i := range each {
		submit("calc", "c"+string(rune('a'+i)), callhost.Op("double", i))
	}
	done.Wait()

	slowFirst := 0
	calcDone := 0
	for _, class := range order {
		if class == "calc" {
			calcDone++
			if calcDone == each {
				break
			}
			continue
		}
		slowFirst++
	}
	t.Logf("completion order: %v", order)
	if slowFirst > 3 {
		t.Errorf("%d slow turns finished before the last calc turn, want at most 3",
			slowFirst)
	}
}
