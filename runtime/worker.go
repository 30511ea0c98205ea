package runtime

import (
	"context"
	"fmt"
	"runtime/pprof"
	"time"

	"github.com/callhost/callhost"
)

// work runs objects from the scheduler until it closes.
func (rt *Runtime) work() {
	t := newTurn(rt)
	for {
		o := rt.runq.pop()
		if o == nil {
			return
		}
		pprof.SetGoroutineLabels(o.class.labels)
		rt.runObject(t, o)
		pprof.SetGoroutineLabels(context.Background())
	}
}

// runObject runs up to Options.MaxBatch queued messages of o on one instance,
// charges the time to o's class, then releases o. A broken instance ends the
// batch early so the next one starts on a fresh instance, and counts as a
// strike against the class.
func (rt *Runtime) runObject(t *turn, o *object) {
	start := time.Now()
	inst, err := o.class.pool.Get(rt.ctx)
	if err != nil {
		msg := fmt.Sprintf("class %q has no instance: %v", o.class.name, err)
		if rt.ctx.Err() != nil {
			msg = "the runtime shut down before the call ran"
		}
		rt.failQueued(o, &callhost.Error{Code: callhost.CodeUnavailable, Message: msg})
		rt.runq.done(o.class, time.Since(start))
		rt.release(o)
		return
	}
	run := newRun(rt, o)
	for i := 0; i < rt.opts.MaxBatch; i++ {
		msg := rt.pop(o)
		if msg == nil {
			break
		}
		if msg.ctx != nil && msg.ctx.Err() != nil {
			rt.skipAbandoned(msg, run)
			continue
		}
		err := t.run(inst, o, msg, run)
		if inst.Broken() {
			if err != nil && rt.ctx.Err() == nil {
				o.class.health.strike(err)
			}
			break
		}
	}
	t.detach()
	o.class.pool.Put(inst)
	rt.runq.done(o.class, time.Since(start))
	run.commit(func() { rt.release(o) })
}

// failQueued fails every queued message of o without running it.
func (rt *Runtime) failQueued(o *object, err *callhost.Error) {
	for msg := rt.pop(o); msg != nil; msg = rt.pop(o) {
		if msg.kind == msgInvoke {
			rt.answerNow(msg, nil, err)
		} else {
			rt.log.Warn("continuation dropped", "object", o.addr, "call_id", msg.callID,
				"handler", msg.handler, "error", err)
		}
		rt.active.Add(-1)
	}
}

// skipAbandoned consumes an invoke whose caller's context ended before the
// turn started, and fails the call without running it.
func (rt *Runtime) skipAbandoned(msg *message, run *runEffects) {
	run.consume(msg)
	run.answer(msg, nil, callhost.Errorf(callhost.CodeUnavailable,
		"call %d not run: its caller stopped waiting before the turn started (%v)",
		msg.callID, context.Cause(msg.ctx)))
}
