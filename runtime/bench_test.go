package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// BenchmarkCallContinuation measures one call from an object to another plus
// the continuation that records its outcome in storage.
func BenchmarkCallContinuation(b *testing.B) {
	for _, mode := range []struct {
		name            string
		uninterruptible bool
	}{{"interruptible", false}, {"uninterruptible", true}} {
		b.Run(mode.name, func(b *testing.B) {
			rt := newBenchRuntime(b, Options{Uninterruptible: mode.uninterruptible})
			ctx := context.Background()
			b.ResetTimer()
			_, err := rt.Call(ctx, callhost.Object("caller", "b"),
				callhost.Op("fire", "calc", "t", b.N))
			if err != nil {
				b.Fatal(err)
			}
			for rt.Stats().Active > 0 || rt.Stats().Pending > 0 {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
			var m map[string]int
			res, err := rt.Call(ctx, callhost.Object("caller", "b"), callhost.Op("stats"))
			if err == nil {
				err = res.Decode(&m)
			}
			if err != nil || m["ok"] != b.N {
				b.Fatalf("stats = %v, %v; want ok=%d", m, err, b.N)
			}
		})
	}
}

// BenchmarkCallAndWait measures the embedded call-and-wait path.
func BenchmarkCallAndWait(b *testing.B) {
	rt := newBenchRuntime(b, Options{})
	ctx := context.Background()
	to := callhost.Object("calc", "w")
	op := callhost.Op("double", 21)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := rt.Call(ctx, to, op); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSubmit measures calls submitted from outside the runtime with a
// callback, all in flight at once, as the WebSocket server submits them:
// the runtime's own cost per call around one guest turn.
func BenchmarkSubmit(b *testing.B) {
	for _, mode := range []struct {
		name            string
		uninterruptible bool
	}{{"interruptible", false}, {"uninterruptible", true}} {
		b.Run(mode.name, func(b *testing.B) {
			rt := newBenchRuntime(b, Options{Uninterruptible: mode.uninterruptible})
			steps, err := callhost.Op("double", 21).AppendSteps(nil)
			if err != nil {
				b.Fatal(err)
			}
			var wg sync.WaitGroup
			done := func([]byte, *callhost.Error) { wg.Done() }
			to := callhost.Object("calc", "s")
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				wg.Add(1)
				if _, err := rt.Submit(Submission{To: to, Steps: steps, Done: done}); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}

func newBenchRuntime(b *testing.B, opts Options) *Runtime {
	b.Helper()
	wasm := buildTestGuest(b)
	opts.CacheDir = cacheDir
	if opts.Store == nil && opts.DataDir == "" {
		opts.Store = store.NewMemory()
	}
	rt, err := New(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	for _, name := range testClasses {
		if err := rt.Load(context.Background(), name, wasm); err != nil {
			b.Fatal(err)
		}
	}
	return rt
}

// BenchmarkStageCalls measures the host side of a turn that makes calls with
// continuations, as the call-delay benchmark's controller does, without the
// guest: the call import's checks and staging of 1000 calls, adding them to
// the run, and, as apply does after the commit, building their messages and
// pending entries and putting those in the pending table and the deadline
// wheel. It leaves out delivering the invokes, which would run their turns,
// and takes the calls out of the table again as their outcomes would.
// serial-ns/call is the part on the calling object's serial path: the
// staging and adding to the run.
func BenchmarkStageCalls(b *testing.B) {
	const calls = 1000
	rt := newBenchRuntime(b, Options{})
	c := rt.class("caller")
	o := &object{addr: callhost.Object("caller", "b"), class: c}
	msg := &message{kind: msgInvoke, callID: 1, from: callhost.Object("@client", "r")}
	envelopes := make([][]byte, calls)
	for i := range envelopes {
		cont := &abi.Continuation{Handler: "gotDouble",
			Args: []any{i, 1 << 40, callhost.Placeholder}}
		env, err := abi.AppendCall(nil, callhost.Object("absent", "t"),
			callhost.Op("double", i), cont, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		envelopes[i] = env
	}
	t := newTurn(rt)
	var serial time.Duration
	b.ReportAllocs()
	for b.Loop() {
		run := newRun(rt, o)
		t.reset(nil, o, msg, run)
		start := time.Now()
		for _, env := range envelopes {
			if _, err := t.Call(env); err != nil {
				b.Fatal(err)
			}
		}
		run.addTurn(t)
		serial += time.Since(start)
		run.build()
		for _, p := range run.pendings {
			rt.pending.put(p.id, p)
		}
		rt.wheel.addPending(run.pendings)
		for _, p := range run.pendings {
			rt.pending.take(p.id)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*calls), "ns/call")
	b.ReportMetric(float64(serial.Nanoseconds())/float64(b.N*calls), "serial-ns/call")
}
