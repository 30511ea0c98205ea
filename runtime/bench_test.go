package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
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
