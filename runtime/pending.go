package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/callhost/callhost"
)

// pending is a call whose outcome someone waits for: a continuation of an
// object, or a callback of a caller outside the runtime.
type pending struct {
	id      uint64
	target  callhost.Address
	steps   []byte // the encoded operation, for messages
	timeout time.Duration

	caller      callhost.Address // object that runs the continuation
	handler     string
	args        []byte
	placeholder bool
	hops        []callhost.Address // hops of the turn that made the call

	done func(value []byte, err *callhost.Error) // set for callers outside the runtime

	deadline time.Time
	durable  bool // the pending call is kept in the store
}

// pendingTable maps call ids to pending calls. Taking an entry out is the one
// step that decides which outcome a call gets, so each call gets exactly one.
type pendingTable struct {
	shards [shardCount]pendingShard
}

type pendingShard struct {
	mu sync.Mutex
	m  map[uint64]*pending
}

func (t *pendingTable) init() {
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]*pending)
	}
}

func (t *pendingTable) put(id uint64, p *pending) {
	sh := &t.shards[id%shardCount]
	sh.mu.Lock()
	sh.m[id] = p
	sh.mu.Unlock()
}

// peek returns the pending call id without taking it.
func (t *pendingTable) peek(id uint64) *pending {
	sh := &t.shards[id%shardCount]
	sh.mu.Lock()
	p := sh.m[id]
	sh.mu.Unlock()
	return p
}

func (t *pendingTable) take(id uint64) *pending {
	sh := &t.shards[id%shardCount]
	sh.mu.Lock()
	p := sh.m[id]
	if p != nil {
		delete(sh.m, id)
	}
	sh.mu.Unlock()
	return p
}

// len returns the number of pending calls.
func (t *pendingTable) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// failAll completes every pending call with err: callbacks run, continuations
// are dropped because no worker is left to run them. It returns the count.
func (t *pendingTable) failAll(rt *Runtime, err *callhost.Error) int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		entries := sh.m
		sh.m = make(map[uint64]*pending)
		sh.mu.Unlock()
		for _, p := range entries {
			n++
			if p.done != nil {
				p.done(nil, err)
			}
		}
	}
	return n
}

// deadlineWheel fires call deadlines with a resolution of one tick. Entries
// are not removed when a call completes early: expiring a call that is no
// longer pending does nothing.
type deadlineWheel struct {
	tick   time.Duration
	start  time.Time
	expire func(id uint64)

	mu      sync.Mutex
	buckets map[int64][]uint64
	last    int64 // last bucket fired
}

func newDeadlineWheel(tick time.Duration, expire func(uint64)) *deadlineWheel {
	return &deadlineWheel{
		tick:    tick,
		start:   time.Now(),
		expire:  expire,
		buckets: make(map[int64][]uint64),
	}
}

// add schedules expire(id) for the first tick at or after deadline.
func (w *deadlineWheel) add(id uint64, deadline time.Time) {
	w.mu.Lock()
	slot := w.slot(deadline)
	w.buckets[slot] = append(w.buckets[slot], id)
	w.mu.Unlock()
}

// addPending schedules the deadlines of ps as add does, under one lock. The
// calls of one run mostly share a bucket, so it looks each bucket up once
// per stretch of calls that fall into it.
func (w *deadlineWheel) addPending(ps []*pending) {
	if len(ps) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	slot := w.slot(ps[0].deadline)
	bucket := w.buckets[slot]
	for _, p := range ps {
		if s := w.slot(p.deadline); s != slot {
			w.buckets[slot] = bucket
			slot, bucket = s, w.buckets[s]
		}
		bucket = append(bucket, p.id)
	}
	w.buckets[slot] = bucket
}

// slot returns the bucket of deadline: the first tick at or after it, and
// never one that has fired. The caller holds w.mu.
func (w *deadlineWheel) slot(deadline time.Time) int64 {
	slot := int64((deadline.Sub(w.start) + w.tick - 1) / w.tick)
	return max(slot, w.last+1)
}

func (w *deadlineWheel) run(ctx context.Context) {
	ticker := time.NewTicker(w.tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			w.fire(int64(now.Sub(w.start) / w.tick))
		}
	}
}

func (w *deadlineWheel) fire(upTo int64) {
	for {
		w.mu.Lock()
		if w.last >= upTo {
			w.mu.Unlock()
			return
		}
		w.last++
		ids := w.buckets[w.last]
		delete(w.buckets, w.last)
		w.mu.Unlock()
		for _, id := range ids {
			w.expire(id)
		}
	}
}
