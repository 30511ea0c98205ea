package host

import "time"

// sleep is the instance's nanosleep, which WASI's poll_oneoff calls for a
// clock subscription, as a Go guest's time.Sleep does. It blocks for ns
// nanoseconds, so a sleeping guest holds its goroutine but no CPU. In
// interruptible mode it wakes by the turn deadline plus one watchdog tick,
// or when the context passed to Turn is done. Once the watchdog has stopped
// the turn it returns at once, so the guest runs through its fuel to the
// next interrupt check and traps there. In uninterruptible mode nothing
// stops the guest, so it sleeps the whole time: returning early would only
// make the guest's scheduler call it again at once, spinning a CPU.
func (i *Instance) sleep(ns int64) {
	d := time.Duration(ns)
	if d <= 0 || i.stopped.Load() {
		return
	}
	i.wmu.Lock()
	active, start, done := i.active, i.start, i.watchDone
	i.wmu.Unlock()
	if !i.wd.interruptible {
		done = nil
	} else if active {
		d = min(d, start+i.wd.limit+i.wd.tick-i.wd.since())
		if d <= 0 {
			return
		}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-done:
	}
}
