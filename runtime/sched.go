package runtime

import (
	"sync"
	"time"
)

// scheduler hands objects with queued messages to the workers. It keeps a
// FIFO of objects per class and gives each class an equal share of the
// workers' time. Every run of an object charges its wall time to the class's
// virtual time, and a free worker takes the next object of the class with the
// least virtual time, as in fair queueing and Linux's CFS. A class whose turns
// run long therefore waits behind classes whose turns are short. The lead of
// a class over the least served active class is capped at maxLag, so one long
// burst does not keep the class waiting for long afterwards.
//
// A class also runs at most classHealth.maxRunning objects at once: its
// instance cap normally, one while it is throttled, and none while it waits
// for its instance refill budget. So a worker never blocks on a class's pool.
//
// NOTE: pop scans the ready classes, so its cost grows with the number of
// classes that have queued work at once. That suits tens of classes.
type scheduler struct {
	mu     sync.Mutex
	cond   *sync.Cond
	ready  []*class // classes with objects that wait for a worker
	active []*class // ready classes and classes with objects on workers
	closed bool
	maxLag time.Duration

	// A timer wakes the workers when a class that waits for its refill
	// budget may run again.
	timer  *time.Timer
	wakeAt time.Time
}

// classQueue is a class's state in the scheduler, guarded by scheduler.mu.
type classQueue struct {
	objects []*object
	head    int
	running int           // objects of the class on workers
	vtime   time.Duration // turn time charged to the class; see scheduler
	ready   bool          // in scheduler.ready
	active  bool          // in scheduler.active
}

func (s *scheduler) init(maxLag time.Duration) {
	s.cond = sync.NewCond(&s.mu)
	s.maxLag = maxLag
}

// push queues o, which has messages and no worker.
func (s *scheduler) push(o *object) {
	c := o.class
	q := &c.sched
	s.mu.Lock()
	q.objects = append(q.objects, o)
	if !q.active {
		// A class that was idle starts level with the least served active
		// class: idle time earns no credit.
		if low, ok := s.minVtime(nil); ok && q.vtime < low {
			q.vtime = low
		}
		q.active = true
		s.active = append(s.active, c)
	}
	if !q.ready {
		q.ready = true
		s.ready = append(s.ready, c)
	}
	s.mu.Unlock()
	s.cond.Signal()
}

// pop waits for an object that may run, marks its class as running one
// more, and returns it. It returns nil once the scheduler is closed.
func (s *scheduler) pop() *object {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return nil
		}
		if o := s.take(); o != nil {
			return o
		}
		s.cond.Wait()
	}
}

// take returns the next object of the ready class with the least virtual
// time among those below their limit of running objects, or nil.
func (s *scheduler) take() *object {
	var best *class
	var now time.Time
	var wake time.Time
	for _, c := range s.ready {
		if best != nil && c.sched.vtime >= best.sched.vtime {
			continue
		}
		limit, until := c.health.maxRunning(&now)
		if c.sched.running >= limit {
			if !until.IsZero() && (wake.IsZero() || until.Before(wake)) {
				wake = until
			}
			continue
		}
		best = c
	}

	if best == nil {
		if !wake.IsZero() {
			s.wakeLater(wake)
		}
		return nil
	}

	q := &best.sched
	o := q.objects[q.head]
	q.objects[q.head] = nil
	q.head++
	if q.head == len(q.objects) {
		q.objects, q.head = q.objects[:0], 0
		q.ready = false
		s.ready = remove(s.ready, best)
	}
	q.running++
	return o
}

// wakeLater wakes every waiting worker at t, unless a wake-up is set for
// no later than t. The caller holds s.mu.
func (s *scheduler) wakeLater(t time.Time) {
	if !s.wakeAt.IsZero() && !s.wakeAt.After(t) {
		return
	}
	s.wakeAt = t
	d := time.Until(t)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.wake)
		return
	}
	s.timer.Reset(d)
}

func (s *scheduler) wake() {
	s.mu.Lock()
	s.wakeAt = time.Time{}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// done ends a run of an object of c that took elapsed: the class runs one
// object fewer and is charged elapsed.
func (s *scheduler) done(c *class, elapsed time.Duration) {
	q := &c.sched
	s.mu.Lock()
	q.running--
	q.vtime += elapsed
	if low, ok := s.minVtime(c); ok && q.vtime > low+s.maxLag {
		q.vtime = low + s.maxLag
	}
	if !q.ready && q.running == 0 {
		q.active = false
		s.active = remove(s.active, c)
	}
	s.mu.Unlock()
	// The class may have been at its limit with objects ready.
	s.cond.Signal()
}

// minVtime returns the least virtual time of the active classes other than
// except, and false when there is none. The caller holds s.mu.
func (s *scheduler) minVtime(except *class) (time.Duration, bool) {
	var low time.Duration
	found := false
	for _, c := range s.active {
		if c == except {
			continue
		}
		if !found || c.sched.vtime < low {
			low, found = c.sched.vtime, true
		}
	}
	return low, found
}

func (s *scheduler) close() {
	s.mu.Lock()
	s.closed = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	s.cond.Broadcast()
}

// remove returns list without c, keeping the order of the others.
func remove(list []*class, c *class) []*class {
	for i, x := range list {
		if x == c {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}
