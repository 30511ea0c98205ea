package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

// flakyStore is the memory store with injected commit failures: while
// failing is set, the first commit and every third after it fail and apply
// nothing, as a durable store does when a write to disk fails.
type flakyStore struct {
	store.Store
	failing atomic.Bool
	commits atomic.Int64
	failed  atomic.Int64
}

var errInjected = errors.New("injected write failure")

func (s *flakyStore) Commit(b *store.Batch, done func(error)) {
	if s.failing.Load() && s.commits.Add(1)%3 == 1 {
		s.failed.Add(1)
		done(errInjected)
		return
	}
	s.Store.Commit(b, done)
}

func TestFailedCommitsRetryContinuations(t *testing.T) {
	st := &flakyStore{Store: store.NewMemory()}
	rt := newRuntime(t, Options{Store: st})
	st.failing.Store(true)
	const n = 200
	var fired int
	mustCall(t, rt, "calc/a", callhost.Op("fire", "calc", "b", n), &fired)
	if fired != n {
		t.Fatalf("fire made %d calls, want %d", fired, n)
	}
	var stats map[string]int
	deadline := time.Now().Add(20 * time.Second)
	for {
		mustCall(t, rt, "calc/a", callhost.Op("stats"), &stats)
		if stats["ok"] >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	st.failing.Store(false)
	if st.failed.Load() == 0 {
		t.Fatal("no commit failed, so the test proves nothing")
	}
	if stats["ok"] != n || len(stats) != 1 {
		t.Errorf("continuations recorded %v, want exactly ok=%d", stats, n)
	}
}

func TestFailedCommitsRetryOutsideCalls(t *testing.T) {
	st := &flakyStore{Store: store.NewMemory()}
	rt := newRuntime(t, Options{Store: st})
	st.failing.Store(true)

	const n = 100
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := rt.Call(ctx, callhost.Object("calc", "c"), callhost.Op("incr", 1)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	st.failing.Store(false)

	for err := range errs {
		t.Errorf("incr failed: %v", err)
	}
	if st.failed.Load() == 0 {
		t.Fatal("no commit failed, so the test proves nothing")
	}

	var count int
	mustCall(t, rt, "calc/c", callhost.Op("incr", 0), &count)
	if count != n {
		t.Errorf("count after %d increments = %d, want %d", n, count, n)
	}
}

func TestFailedCommitsRetryAlarms(t *testing.T) {
	st := &flakyStore{Store: store.NewMemory()}
	rt := newRuntime(t, Options{Store: st})
	const n = 60
	for i := 0; i < n; i++ {
		mustCall(t, rt, "calc/al", callhost.Op("alarmIn", 10+i%30, "f"), nil)
	}
	st.failing.Store(true)
	waitStat(t, rt, "calc/al", "alarm.f", n)
	time.Sleep(100 * time.Millisecond)
	st.failing.Store(false)
	if st.failed.Load() == 0 {
		t.Fatal("no commit failed, so the test proves nothing")
	}
	if m := stats(t, rt, "calc/al"); m["alarm.f"] != n {
		t.Errorf("alarms ran %d times, want exactly %d", m["alarm.f"], n)
	}
}
