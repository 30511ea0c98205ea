package host

import (
	"context"
	"testing"
	"time"
)

// TestSleepAfterContextDone checks a guest's sleep once the context of its
// turn is done. In uninterruptible mode it sleeps the whole time, because
// returning at once would make the guest call it again in a loop. In
// interruptible mode it returns, because the watchdog stops the turn.
func TestSleepAfterContextDone(t *testing.T) {
	for _, uninterruptible := range []bool{true, false} {
		_, p := newGuestPool(t, Config{Uninterruptible: uninterruptible,
			TurnTimeout: time.Minute}, PoolConfig{Max: 1})
		i, err := p.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		close(done)
		i.wmu.Lock()
		i.active, i.start, i.watchDone = true, i.wd.since(), done
		i.wmu.Unlock()
		start := time.Now()
		i.sleep(int64(100 * time.Millisecond))
		slept := time.Since(start)
		i.wmu.Lock()
		i.active, i.watchDone = false, nil
		i.wmu.Unlock()
		p.Put(i)
		if uninterruptible && slept < 90*time.Millisecond {
			t.Errorf("uninterruptible: sleep of 100ms returned after %v", slept)
		}
		if !uninterruptible && slept > 50*time.Millisecond {
			t.Errorf("interruptible: sleep of 100ms took %v after the context was done", slept)
		}
	}
}
