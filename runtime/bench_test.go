package runtime

import (
	"context"
	"encoding/binary"
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
// guest: the checks and staging of 1000 calls, adding them to the run, and,
// as apply does after the commit, building their messages and pending
// entries and putting those in the pending table and the deadline wheel. It
// leaves out delivering the invokes, which would run their turns, and takes
// the calls out of the table again as their outcomes would. serial-ns/call
// is the part on the calling object's serial path: the staging and adding to
// the run.
//
// "call" passes envelopes as the call import does. "call_ints" encodes each
// call from its ints and stages it without decoding, as the call_ints import
// does; its figures include the encoding.
func BenchmarkStageCalls(b *testing.B) {
	const calls = 1000
	rt := newBenchRuntime(b, Options{})
	c := rt.class("caller")
	o := &object{addr: callhost.Object("caller", "b"), class: c}
	msg := &message{kind: msgInvoke, callID: 1, from: callhost.Object("@client", "r")}
	envelopes := make([][]byte, calls)
	intCalls := make([]abi.IntCall, calls)
	for i := range envelopes {
		cont := &abi.Continuation{Handler: "gotDouble",
			Args: []any{i, 1 << 40, callhost.Placeholder}}
		env, err := abi.AppendCall(nil, callhost.Object("absent", "t"),
			callhost.Op("double", i), cont, 0, 0)
		if err != nil {
			b.Fatal(err)
		}
		envelopes[i] = env
		ints := binary.LittleEndian.AppendUint64(nil, uint64(i))
		ints = binary.LittleEndian.AppendUint64(ints, uint64(i))
		ints = binary.LittleEndian.AppendUint64(ints, 1<<40)
		intCalls[i] = abi.IntCall{Class: []byte("absent"), ID: []byte("t"),
			Handler: []byte("double"), ContHandler: []byte("gotDouble"), Ints: ints,
			Args: 1, ContArgs: 3, Placeholders: 1 << 2}
	}
	paths := []struct {
		name  string
		stage func(t *turn, i int) error
	}{
		{"call", func(t *turn, i int) error {
			_, err := t.Call(envelopes[i])
			return err
		}},
		{"call_ints", func() func(t *turn, i int) error {
			var buf []byte
			var v abi.CallView
			var chk abi.CallChecks
			return func(t *turn, i int) error {
				buf = abi.AppendIntCallView(buf[:0], &intCalls[i], &v, &chk)
				_, err := t.CallChecked(buf, &v, &chk)
				return err
			}
		}()},
	}
	for _, p := range paths {
		b.Run(p.name, func(b *testing.B) {
			t := newTurn(rt)
			var serial time.Duration
			b.ReportAllocs()
			for b.Loop() {
				run := newRun(rt, o)
				t.reset(nil, o, msg, run)
				start := time.Now()
				for i := range calls {
					if err := p.stage(t, i); err != nil {
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
		})
	}
}
