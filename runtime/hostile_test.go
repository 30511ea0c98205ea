package runtime

import (
	"context"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/host"
)

// hostileTurnTimeout is the turn deadline of the hostile tests: long enough
// for the race detector, short enough to keep the tests quick.
const hostileTurnTimeout = time.Second

// newHostileRuntime returns a runtime with the hostile guest loaded as class
// "hostile" and the test guest as class "calc", and the given turn deadline.
func newHostileRuntime(t *testing.T, turnTimeout time.Duration) *Runtime {
	t.Helper()
	return newClassesRuntime(t, Options{TurnTimeout: turnTimeout})
}

// neighbour calls calc/n double(i) in a loop until stopped, checking every
// result. It stands for a well-behaved object beside a hostile one.
type neighbour struct {
	ok, bad atomic.Int64
	first   atomic.Value // first failure, as a string
	stop    chan struct{}
	done    sync.WaitGroup
}

func startNeighbour(t *testing.T, rt *Runtime) *neighbour {
	n := &neighbour{stop: make(chan struct{})}
	n.done.Add(1)
	go func() {
		defer n.done.Done()
		for i := 0; ; i++ {
			select {
			case <-n.stop:
				return
			default:
			}
			n.check(rt, i)
		}
	}()
	return n
}

func (n *neighbour) check(rt *Runtime, i int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got int
	res, err := rt.Call(ctx, callhost.Object("calc", "n"), callhost.Op("double", i))
	if err == nil {
		err = res.Decode(&got)
	}
	if err == nil && got != 2*i {
		err = fmt.Errorf("double(%d) = %d", i, got)
	}
	if err != nil {
		n.bad.Add(1)
		n.first.CompareAndSwap(nil, err.Error())
		return
	}
	n.ok.Add(1)
}

// finish stops the neighbour and fails t unless every call succeeded and at
// least one call ran.
func (n *neighbour) finish(t *testing.T) {
	t.Helper()
	close(n.stop)
	n.done.Wait()
	if b := n.bad.Load(); b > 0 {
		t.Errorf("neighbour: %d calls failed, first: %v", b, n.first.Load())
	}
	if n.ok.Load() == 0 {
		t.Errorf("neighbour: no call completed")
	}
}

// waitRefilled waits until the hostile pool has discarded want instances in
// all and has an idle instance again.
func waitRefilled(t *testing.T, rt *Runtime, want int) host.PoolStats {
	t.Helper()
	pool := rt.class("hostile").pool
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := pool.Stats()
		if s.Discarded == want && s.Idle >= 1 && s.Live >= 1 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool stats %+v: want %d discarded and an idle instance", s, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// hostileCases are the hostile handlers that end in an error and discard the
// instance, with the code the caller gets and the turn deadline of the case.
// The cases that run until the deadline get a short one. The others get the
// default, because growing guest memory is slow under the race detector.
var hostileCases = []struct {
	name     string
	op       callhost.Operation
	code     callhost.Code
	deadline time.Duration
}{
	{"infinite loop", callhost.Op("loop"), callhost.CodeTurnDeadline, hostileTurnTimeout},
	{"memory bomb", callhost.Op("bomb"), callhost.CodeGuestTrap, DefaultTurnTimeout},
	{"panic", callhost.Op("panic"), callhost.CodeGuestTrap, DefaultTurnTimeout},
	{"nil map write", callhost.Op("nilmap"), callhost.CodeGuestTrap, DefaultTurnTimeout},
	{"index out of range", callhost.Op("index", 7), callhost.CodeGuestTrap, DefaultTurnTimeout},
	{"os.Exit", callhost.Op("exit", 3), callhost.CodeGuestTrap, DefaultTurnTimeout},
	{"sleep past the deadline", callhost.Op("sleep", 5000), callhost.CodeTurnDeadline,
		hostileTurnTimeout},
}

// hostileOK waits for the pool to replace the instance that the hostile call
// broke, then checks that a well-behaved turn runs on it and keeps it.
func hostileOK(t *testing.T, rt *Runtime) {
	t.Helper()
	s := waitRefilled(t, rt, 1)
	var got string
	mustCall(t, rt, "hostile/h", callhost.Op("ok"), &got)
	if got != "ok" {
		t.Fatalf("ok = %q", got)
	}
	if now := rt.class("hostile").pool.Stats(); now.Discarded != s.Discarded {
		t.Fatalf("a well-behaved turn discarded an instance: %+v", now)
	}
}

func TestHostileGuestsAreContained(t *testing.T) {
	for _, tc := range hostileCases {
		t.Run(tc.name, func(t *testing.T) {
			rt := newHostileRuntime(t, tc.deadline)
			n := startNeighbour(t, rt)
			defer n.finish(t)
			start := time.Now()
			_, err := call(t, rt, "hostile/h", tc.op)
			e := wantCode(t, err, tc.code)
			t.Logf("%s after %v: %s", tc.code, time.Since(start).Round(time.Millisecond),
				firstLine(e.Message))
			hostileOK(t, rt)
		})
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// TestHostileGuestsThatKeepTheirInstance covers the hostile handlers that
// end without a trap: a short sleep, a read of stdin (the host gives guests
// an empty stdin, so it ends at once) and a 50 MiB result, which the caller
// gets as too_large.
func TestHostileGuestsThatKeepTheirInstance(t *testing.T) {
	rt := newHostileRuntime(t, DefaultTurnTimeout)
	n := startNeighbour(t, rt)
	defer n.finish(t)
	var woke string
	mustCall(t, rt, "hostile/k", callhost.Op("sleep", 50), &woke)
	var read int
	mustCall(t, rt, "hostile/k", callhost.Op("stdin"), &read)
	if woke != "woke" || read != 0 {
		t.Fatalf("sleep = %q, stdin = %d bytes; want woke and 0", woke, read)
	}
	_, err := call(t, rt, "hostile/k", callhost.Op("huge", 50))
	wantCode(t, err, callhost.CodeTooLarge)
	mustCall(t, rt, "hostile/k", callhost.Op("sleep", 0), &woke)
	if s := rt.class("hostile").pool.Stats(); s.Discarded != 0 {
		t.Fatalf("pool stats %+v: want no instance discarded", s)
	}
}

// TestHostileFloodOfUnknownTargets makes ten turns send 10,000
// fire-and-forget calls each to a class that does not exist, and 100 calls
// with a continuation to missing classes and handlers. Every continuation
// gets not_found, and nothing stays pending. Ten turns keep each one within
// the turn deadline under the race detector.
func TestHostileFloodOfUnknownTargets(t *testing.T) {
	rt := newHostileRuntime(t, DefaultTurnTimeout)
	n := startNeighbour(t, rt)
	const turns, sends, conts = 10, 10000, 100
	start := time.Now()
	for range turns {
		var made int
		mustCall(t, rt, "hostile/f", callhost.Op("flood", sends, conts), &made)
		if made != sends+conts {
			t.Fatalf("flood made %d calls, want %d", made, sends+conts)
		}
	}
	var m map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		mustCall(t, rt, "hostile/f", callhost.Op("stats"), &m)
		if m["code.not_found"] >= turns*conts || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("flood of %d calls done in %v", turns*(sends+conts),
		time.Since(start).Round(time.Millisecond))
	if m["code.not_found"] != turns*conts || len(m) != 1 {
		t.Fatalf("continuation outcomes %v, want exactly code.not_found=%d", m, turns*conts)
	}
	n.finish(t) // its calls would count as pending
	if st := rt.Stats(); st.Pending != 0 || st.Queued != 0 {
		t.Fatalf("runtime stats %+v after the flood, want nothing pending or queued", st)
	}
	if s := rt.class("hostile").pool.Stats(); s.Discarded != 0 {
		t.Fatalf("pool stats %+v: want no instance discarded", s)
	}
}

// TestWorkerProfileLabels checks that a worker carries the profiler label of
// the class whose object it runs, and drops it when the run ends.
func TestWorkerProfileLabels(t *testing.T) {
	rt := newHostileRuntime(t, 5*time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := rt.Call(context.Background(), callhost.Object("hostile", "label"),
			callhost.Op("sleep", 500))
		done <- err
	}()
	const label = `"class":"hostile"`
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(goroutineProfile(t), label) {
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine has the label %s while hostile/label sleeps", label)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The worker resets its labels after the run, which may end after the
	// outcome reached the caller, so the check polls.
	for strings.Contains(goroutineProfile(t), label) {
		if time.Now().After(deadline) {
			t.Fatalf("a goroutine still has the label %s after the run ended", label)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// goroutineProfile returns the goroutine profile in its text form, which
// lists each goroutine's labels.
func goroutineProfile(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
