package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

// tableEntry returns the object that the table holds for addr, or nil, and
// how many of its committed runs wait to be applied.
func tableEntry(rt *Runtime, addr callhost.Address) (*object, int) {
	sh := rt.objects.shard(addr)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	o := sh.m[addr]
	if o == nil {
		return nil, 0
	}
	return o, len(o.toApply)
}

// waitAppliesLeft polls until the table's object for addr has n committed
// runs waiting to be applied, and returns it.
func waitAppliesLeft(t *testing.T, rt *Runtime, addr callhost.Address, n int) *object {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		o, left := tableEntry(rt, addr)
		if o != nil && left == n {
			return o
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d runs waiting to be applied after 30s, want %d (object %p)",
				addr, left, n, o)
		}
		time.Sleep(time.Millisecond)
	}
}

// holdApply holds the apply of a run of sender open and queues a second run
// behind it. Run 1 calls sendSeq with no calls, for an outside caller whose
// Done blocks until unblock is called; run 2 sends call 1 to calc/seq. It
// returns the table's object for sender, with run 2 waiting to be applied.
// The Done contract forbids blocking, but here it holds only one worker.
func holdApply(t *testing.T, rt *Runtime, sender callhost.Address) (*object, func()) {
	t.Helper()
	entered, hold := make(chan struct{}), make(chan struct{})
	released := false
	unblock := func() {
		if !released {
			released = true
			close(hold)
		}
	}
	t.Cleanup(unblock) // runs before the runtime's shutdown, registered earlier
	err := rt.CallFunc(sender, callhost.Op("sendSeq", "seq", 0), func(callhost.Result, error) {
		close(entered)
		<-hold
	})
	if err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := rt.Send(sender, callhost.Op("sendSeq", "seq", 1)); err != nil {
		t.Fatal(err)
	}
	return waitAppliesLeft(t, rt, sender, 1), unblock
}

// waitIdle polls until no message is queued, running or waiting to be applied.
func waitIdle(t *testing.T, rt *Runtime) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for rt.Stats().Active != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("runtime still active after 30s (stats %+v)", rt.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRejectedCallKeepsApplyingObject checks that an object whose committed
// runs are still being applied stays in the object table when a call to it
// is rejected. Were it dropped, the next call would activate a second object
// for the address, whose runs apply at once and overtake the older runs, so
// calls from one sender would start out of order.
//
// The outside caller's Done blocks to hold the first run's apply open. The
// Done contract forbids blocking, but here it only holds one of two workers.
func TestRejectedCallKeepsApplyingObject(t *testing.T) {
	rt := newRuntime(t, Options{Workers: 2, MaxBatch: 1, StrikeLimit: 1,
		ThrottleTime: 200 * time.Millisecond, MaxThrottleTime: 200 * time.Millisecond})
	sender := callhost.Object("caller", "seq")
	applying, unblock := holdApply(t, rt, sender)

	// A trap throttles the class, so the next call to the sender is rejected.
	_, err := call(t, rt, "caller/trap", callhost.Op("panic"))
	wantCode(t, err, callhost.CodeGuestTrap)
	err = rt.Send(sender, callhost.Op("sendSeq", "seq", 1))
	wantCode(t, err, callhost.CodeThrottled)
	if o, _ := tableEntry(rt, sender); o != applying {
		t.Errorf("after a rejected call the table holds object %p for %s, want %p, "+
			"whose runs are still being applied", o, sender, applying)
	}

	// Run 3 sends call 2 once the throttle ends. It must be applied after
	// run 2.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = rt.Send(sender, callhost.Op("sendSeq", "seq", 1))
		if !errors.Is(err, callhost.ErrThrottled) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("caller still throttled after 30s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	waitSentStored(t, rt, sender, 2)

	unblock()
	waitIdle(t, rt)
	checkSeqReceived(t, stats(t, rt, "calc/seq"), 2)
}

// waitSentStored polls the store directly, not through a turn, until the
// "sent" counter of addr reaches n. The run that sent call n has then
// committed.
func waitSentStored(t *testing.T, rt *Runtime, addr callhost.Address, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, ok, err := rt.store.Get(context.Background(), addr, []byte("sent"))
		if err != nil {
			t.Fatal(err)
		}
		var sent int
		if ok {
			if err := callhost.Result(v).Decode(&sent); err != nil {
				t.Fatalf("decode %s sent: %v", addr, err)
			}
		}
		if sent >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s sent = %d after 30s, want %d", addr, sent, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkSeqReceived checks the stats m of calc/seq after the calls of
// sendSeq: the last call received is number last, and none came out of order.
func checkSeqReceived(t *testing.T, m map[string]int, last int) {
	t.Helper()
	if m["last"] != last {
		t.Errorf("calc/seq last received call %d, want %d (stats %v)", m["last"], last, m)
	}
	if m["out_of_order"] != 0 {
		t.Errorf("calc/seq received %d calls out of order (stats %v)", m["out_of_order"], m)
	}
}

// TestCallsKeepOrderAcrossRuns checks that calls from one object to another
// start in the order they were made when the sender makes them in many runs,
// whose effects are applied while its next runs already execute. Runs with
// many calls alternate with runs of one call, which would otherwise be
// applied first.
func TestCallsKeepOrderAcrossRuns(t *testing.T) {
	rt := newRuntime(t, Options{MaxBatch: 1})
	total := sendSeqRounds(t, rt, 20, 2000)
	checkSeqReceived(t, waitStat(t, rt, "calc/seq", "last", total), total)
}

// sendSeqRounds makes the sender caller/seq send calls to calc/seq in runs
// that alternate between many calls and one, and returns how many calls it
// sends in all.
func sendSeqRounds(t *testing.T, rt *Runtime, rounds, many int) int {
	t.Helper()
	sender := callhost.Object("caller", "seq")
	for i := 0; i < rounds; i++ {
		for _, n := range []int{many, 1} {
			if err := rt.Send(sender, callhost.Op("sendSeq", "seq", n)); err != nil {
				t.Fatal(err)
			}
		}
	}
	return rounds * (many + 1)
}

// TestCallOrderWithFailedCommits checks that calls from one sender start in
// the order they were made when some commits fail. A failed run is undone
// and runs again while the sender's earlier committed runs may still be
// waiting to be applied.
func TestCallOrderWithFailedCommits(t *testing.T) {
	st := &flakyStore{Store: store.NewMemory()}
	rt := newRuntime(t, Options{Store: st, MaxBatch: 1})
	st.failing.Store(true)
	// Every failed commit delays its object by 100 ms or more, so the calls
	// are few.
	total := sendSeqRounds(t, rt, 4, 20)
	m := waitStat(t, rt, "calc/seq", "last", total)
	st.failing.Store(false)
	if st.failed.Load() == 0 {
		t.Fatal("no commit failed, so the test proves nothing")
	}
	checkSeqReceived(t, m, total)
}

// TestCallOrderDurable checks that calls from one sender start in the order
// they were made with the bbolt store, whose committer goroutine applies
// committed runs.
func TestCallOrderDurable(t *testing.T) {
	rt := newRuntime(t, Options{DataDir: t.TempDir(), MaxBatch: 1})
	total := sendSeqRounds(t, rt, 5, 300)
	m := waitStat(t, rt, "calc/seq", "last", total)
	checkSeqReceived(t, m, total)
}

// TestShutdownWaitsForPendingApplies checks that Shutdown waits for a
// committed run queued behind another run's apply, and that the call the
// queued run made runs before Shutdown returns.
func TestShutdownWaitsForPendingApplies(t *testing.T) {
	rt := newRuntime(t, Options{Workers: 2, MaxBatch: 1})
	sender := callhost.Object("caller", "seq")
	_, unblock := holdApply(t, rt, sender)

	stopped := make(chan error, 1)
	go func() { stopped <- rt.Shutdown(context.Background()) }()
	select {
	case err := <-stopped:
		t.Fatalf("Shutdown returned %v while a committed run waited to be applied", err)
	case <-time.After(100 * time.Millisecond):
	}
	unblock()
	if err := <-stopped; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// The runtime is stopped, so the memory store shows what calc/seq ran.
	v, ok, err := rt.store.Get(context.Background(), callhost.Object("calc", "seq"),
		[]byte("last"))
	if err != nil {
		t.Fatal(err)
	}
	var last int
	if ok {
		if err := callhost.Result(v).Decode(&last); err != nil {
			t.Fatalf("decode calc/seq last: %v", err)
		}
	}
	if last != 1 {
		t.Errorf("calc/seq last received call %d before Shutdown returned, want 1", last)
	}
}
