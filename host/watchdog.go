package host

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Bounds of the watchdog's tick. A late turn is stopped between TurnTimeout and
// TurnTimeout plus one tick after it started, plus any scheduling delay.
const (
	minTick = time.Millisecond
	maxTick = 100 * time.Millisecond
)

// stopReason is the cause for which the watchdog ended a turn.
type stopReason uint8

const (
	stopNone     stopReason = iota
	stopDeadline            // the turn ran past the turn timeout
	stopCanceled            // the context passed to Turn was done
	stopClosed              // the engine closed
)

// watchdog is the engine's one goroutine that enforces turn deadlines. A turn
// records its start time instead of arming a timer, and on each tick the watchdog
// checks every instance in a turn. In interruptible
// mode it stops a late or canceled turn by setting the instance's interrupt
// global, which the guest's inserted checks read. In uninterruptible mode it
// only marks the turn late, so that the turn fails when it returns.
type watchdog struct {
	tick          time.Duration
	limit         time.Duration // the turn timeout
	interruptible bool
	log           *slog.Logger
	epoch         time.Time // origin of the start times of turns

	mu    sync.Mutex
	insts map[*Instance]struct{}

	stop chan struct{}
	done chan struct{}
}

func startWatchdog(timeout time.Duration, interruptible bool, log *slog.Logger) *watchdog {
	tick := min(max(timeout/16, minTick), maxTick)
	w := &watchdog{
		tick:          tick,
		limit:         timeout,
		epoch:         time.Now(),
		interruptible: interruptible,
		log:           log,
		insts:         map[*Instance]struct{}{},
		stop:          make(chan struct{}),
		done:          make(chan struct{}),
	}
	go w.run()
	return w
}

func (w *watchdog) run() {
	defer close(w.done)
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.scan(w.since())
		}
	}
}

// since returns the monotonic time elapsed since the watchdog started.
func (w *watchdog) since() time.Duration { return time.Since(w.epoch) }

func (w *watchdog) scan(now time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.insts {
		if r := i.check(now, w.limit, w.interruptible); r != stopNone {
			w.logStop(i, r)
		}
	}
}

func (w *watchdog) logStop(i *Instance, r stopReason) {
	switch {
	case r == stopCanceled:
		w.log.Debug("host: stopping canceled turn", "module", i.mod.name)
	case w.interruptible:
		w.log.Warn("host: stopping turn past its deadline", "module", i.mod.name,
			"timeout", w.limit)
	default:
		w.log.Warn("host: uninterruptible turn is past its deadline and cannot be stopped",
			"module", i.mod.name, "timeout", w.limit)
	}
}

func (w *watchdog) add(i *Instance) {
	w.mu.Lock()
	w.insts[i] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(i *Instance) {
	w.mu.Lock()
	delete(w.insts, i)
	w.mu.Unlock()
}

// stopAll stops every running turn, then waits until none runs or
// ctx is done. In uninterruptible mode it only waits.
func (w *watchdog) stopAll(ctx context.Context) error {
	w.mu.Lock()
	for i := range w.insts {
		i.stopForClose(w.interruptible)
	}
	w.mu.Unlock()
	for {
		if w.running() == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("host: %d turns still running at close: %w", w.running(), ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// running returns the number of instances in an export call.
func (w *watchdog) running() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i := range w.insts {
		if i.isActive() {
			n++
		}
	}
	return n
}

func (w *watchdog) close() {
	close(w.stop)
	<-w.done
}
