package runtime

import (
	"context"
	"hash/maphash"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/callhost/callhost"
)

// messageKind is the kind of work a queued message runs.
type messageKind uint8

const (
	// msgInvoke runs an operation for a call.
	msgInvoke messageKind = iota + 1
	// msgContinuation runs a continuation with its call's outcome.
	msgContinuation
	// msgAlarm runs an alarm's handler.
	msgAlarm
)

// message is one queued unit of work for an object.
type message struct {
	kind    messageKind
	callID  uint64 // the call served, or the call whose outcome a continuation carries
	replyTo uint64 // pending call that this invoke's outcome completes; 0 for none
	from    callhost.Address
	hops    []callhost.Address

	steps []byte          // msgInvoke: encoded operation
	ext   bool            // msgInvoke: the operation holds nested operations or previous results
	ctx   context.Context // msgInvoke from Submit: Submission.Context; nil otherwise

	handler string // msgContinuation and msgAlarm
	args    []byte // msgContinuation (placeholders already filled) and msgAlarm

	seq     uint64           // key of the message in a durable store; 0 when not stored
	to      callhost.Address // target, kept for messages recovered before their class loads
	attempt int              // msgAlarm: failed attempts so far
}

// object is an activated object: it exists while it has queued messages.
// Every field is guarded by the mutex of its shard in the objectTable.
type object struct {
	addr      callhost.Address
	class     *class
	shard     *objectShard // the shard of addr, which never changes
	queue     []*message
	head      int
	invokes   int  // queued msgInvoke messages
	scheduled bool // in the run queue or running on a worker
	// toApply lists the committed runs of the object whose effects are not
	// applied yet, in commit order. applying is set while a goroutine applies
	// them. The shard's mutex guards both. An object with runs to apply stays
	// in the table, so that its later runs are applied after them.
	toApply  []*runEffects
	applying bool
	// commitFailures counts the object's runs in a row whose commit failed.
	commitFailures atomic.Int32
}

const shardCount = 64

// objectTable maps addresses to activated objects.
type objectTable struct {
	seed   maphash.Seed
	shards [shardCount]objectShard
}

type objectShard struct {
	mu sync.Mutex
	m  map[callhost.Address]*object
}

func (t *objectTable) init() {
	t.seed = maphash.MakeSeed()
	for i := range t.shards {
		t.shards[i].m = make(map[callhost.Address]*object)
	}
}

func (t *objectTable) shard(a callhost.Address) *objectShard {
	return &t.shards[maphash.Comparable(t.seed, a)%shardCount]
}

// enqueue appends msg to the queue of the object at addr, activating it if
// needed. Invokes are checked against the pending-work limits; continuations
// always enter because they carry outcomes of calls already accepted.
func (rt *Runtime) enqueue(addr callhost.Address, c *class, msg *message) error {
	return rt.enqueueMessage(addr, c, msg, false)
}

// enqueueRecovered queues a message that was accepted before a restart; the
// limits do not apply to it.
func (rt *Runtime) enqueueRecovered(addr callhost.Address, c *class, msg *message) {
	_ = rt.enqueueMessage(addr, c, msg, true)
}

func (rt *Runtime) enqueueMessage(addr callhost.Address, c *class, msg *message,
	force bool) error {
	if rejected := rt.enqueueMessages(addr, c, []*message{msg}, force); len(rejected) > 0 {
		return rejected[0].err
	}
	return nil
}

// rejection is an invoke that its target object did not admit.
type rejection struct {
	msg *message
	err error
}

// enqueueMessages appends msgs, all for the object at addr, to its queue
// under one lock, activating the object if needed. Unless force is set,
// invokes are checked against the pending-work limits, and those that fail
// are returned and not queued.
func (rt *Runtime) enqueueMessages(addr callhost.Address, c *class, msgs []*message,
	force bool) []rejection {
	sh := rt.objects.shard(addr)
	sh.mu.Lock()
	o := sh.m[addr]
	if o == nil {
		o = &object{addr: addr, class: c, shard: sh}
		sh.m[addr] = o
	}
	var rejected []rejection
	queued := 0
	for _, msg := range msgs {
		if msg.kind == msgInvoke {
			if force {
				o.invokes++
				o.class.queued.Add(1)
				rt.queued.Add(1)
			} else if err := rt.admit(o); err != nil {
				rejected = append(rejected, rejection{msg: msg, err: err})
				continue
			}
		}
		o.queue = append(o.queue, msg)
		queued++
	}
	if queued == 0 {
		sh.dropIfIdle(o)
		sh.mu.Unlock()
		return rejected
	}
	schedule := !o.scheduled
	o.scheduled = true
	sh.mu.Unlock()

	rt.active.Add(int64(queued))
	if schedule {
		rt.runq.push(o)
	}
	return rejected
}

// admit counts an invoke against the limits, or returns an overloaded or
// throttled error. The caller holds o's shard lock.
func (rt *Runtime) admit(o *object) error {
	if err := o.class.health.admit(); err != nil {
		return err
	}
	if o.invokes >= rt.opts.MaxPendingPerObject {
		return callhost.Errorf(callhost.CodeOverloaded,
			"object %s has %d pending calls, max %d", o.addr, o.invokes, rt.opts.MaxPendingPerObject)
	}
	if n := o.class.queued.Add(1); n > int64(rt.opts.MaxPendingPerClass) {
		o.class.queued.Add(-1)
		return callhost.Errorf(callhost.CodeOverloaded,
			"class %q has %d pending calls, max %d", o.class.name, n-1, rt.opts.MaxPendingPerClass)
	}
	if n := rt.queued.Add(1); n > int64(rt.opts.MaxPendingTotal) {
		rt.queued.Add(-1)
		o.class.queued.Add(-1)
		return callhost.Errorf(callhost.CodeOverloaded,
			"runtime has %d pending calls, max %d", n-1, rt.opts.MaxPendingTotal)
	}
	o.invokes++
	return nil
}

// pop removes the next message of o, or returns nil when its queue is empty.
func (rt *Runtime) pop(o *object) *message {
	sh := o.shard
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if o.head == len(o.queue) {
		return nil
	}
	msg := o.queue[o.head]
	o.queue[o.head] = nil
	o.head++
	if o.head == len(o.queue) {
		o.queue, o.head = o.queue[:0], 0
	}
	if msg.kind == msgInvoke {
		o.invokes--
		o.class.queued.Add(-1)
		rt.queued.Add(-1)
	}
	return msg
}

// requeue puts msgs, which a run of o consumed, back at the front of o's
// queue in their order. o must still be scheduled: its run has not released
// it.
func (rt *Runtime) requeue(o *object, msgs []*message) {
	sh := o.shard
	sh.mu.Lock()
	q := make([]*message, 0, len(msgs)+len(o.queue)-o.head)
	o.queue = append(append(q, msgs...), o.queue[o.head:]...)
	o.head = 0
	for _, msg := range msgs {
		if msg.kind == msgInvoke {
			o.invokes++
			o.class.queued.Add(1)
			rt.queued.Add(1)
		}
	}
	sh.mu.Unlock()
	rt.active.Add(int64(len(msgs)))
}

// release ends a worker's run of o: o goes back to the run queue if messages
// arrived meanwhile, and otherwise leaves memory.
func (rt *Runtime) release(o *object) {
	sh := o.shard
	sh.mu.Lock()
	more := o.head < len(o.queue)
	if !more {
		o.scheduled = false
		sh.dropIfIdle(o)
	}
	sh.mu.Unlock()
	if more {
		rt.runq.push(o)
	}
}

// applyInOrder releases o, then applies its committed run r after the runs
// of o committed before it. o's next run can so start while this goroutine
// delivers the calls and outcomes of r. A goroutine that finds an apply in
// progress queues r and returns. The goroutine applying takes every run queued
// meanwhile, so deliveries from one object keep their order.
func (rt *Runtime) applyInOrder(o *object, r *runEffects, release func()) {
	sh := o.shard
	sh.mu.Lock()
	o.toApply = append(o.toApply, r)
	first := !o.applying
	o.applying = true
	sh.mu.Unlock()

	release()
	if !first {
		return
	}

	// When o has more messages, release woke a worker for o's next run, and
	// Go usually runs a goroutine woken this way next on this goroutine's
	// processor, once this one yields. Yield now: the run is on o's serial
	// path and the apply is not.
	goruntime.Gosched()

	for {
		sh.mu.Lock()
		if len(o.toApply) == 0 {
			o.applying, o.toApply = false, nil
			sh.dropIfIdle(o)
			sh.mu.Unlock()
			return
		}
		next := o.toApply[0]
		o.toApply[0] = nil
		o.toApply = o.toApply[1:]
		sh.mu.Unlock()
		next.apply(nil)
	}
}

// dropIfIdle removes o from the table when it has no queued message, no
// worker and no runs left to apply. An object with runs left to apply stays,
// so that its next run is applied after them. The caller holds sh.mu.
func (sh *objectShard) dropIfIdle(o *object) {
	if o.head == len(o.queue) && !o.scheduled && !o.applying {
		o.queue = nil
		delete(sh.m, o.addr)
	}
}

// len returns the number of activated objects.
func (t *objectTable) len() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// clear drops every queued message and returns how many there were. It runs
// after the workers stopped.
func (t *objectTable) clear() int {
	n := 0
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for _, o := range sh.m {
			n += len(o.queue) - o.head
		}
		sh.m = make(map[callhost.Address]*object)
		sh.mu.Unlock()
	}
	return n
}
