package preempt

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// benchCache holds the code that the benchmarks compile, because b.Run sets
// up a benchmark again for every round and compiling the Go guest takes
// about a second.
var benchCache = wazero.NewCompilationCache()

func BenchmarkInstrument(b *testing.B) {
	wasm := goGuest(b)
	b.SetBytes(int64(len(wasm)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Instrument(wasm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCall measures calls of the Go guest's exports in three setups:
// the original module with wazero's WithCloseOnContextDone, the
// instrumented module without it, and the original module without it, which
// cannot be stopped at all. add is a call with no loop in its Go code, sum
// runs a loop of 1000 iterations.
func BenchmarkCall(b *testing.B) {
	plain := goGuest(b)
	instrumented, err := Instrument(plain)
	if err != nil {
		b.Fatal(err)
	}
	setups := []struct {
		name               string
		module             []byte
		closeOnContextDone bool
	}{
		{"plain-closeOnContextDone", plain, true},
		{"instrumented", instrumented, false},
		{"plain", plain, false},
	}
	calls := []struct {
		name     string
		function string
		params   []uint64
	}{
		{"add", "add", []uint64{2, 3}},
		{"sum1000", "sum", []uint64{1000}},
	}
	for _, call := range calls {
		for _, setup := range setups {
			b.Run(call.name+"/"+setup.name, func(b *testing.B) {
				config := wazero.NewRuntimeConfig().
					WithCompilationCache(benchCache).
					WithCloseOnContextDone(setup.closeOnContextDone)
				fn := instantiateForBenchmark(b, config, setup.module, call.function)
				// A cancelable context, as the host passes, so that
				// WithCloseOnContextDone has a Done channel to watch.
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				stack := make([]uint64, len(call.params))
				b.ReportAllocs()
				for b.Loop() {
					copy(stack, call.params)
					if err := fn.CallWithStack(ctx, stack); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// instantiateForBenchmark instantiates module with WASI, runs _initialize
// and returns the named export. The runtime is closed when b ends.
func instantiateForBenchmark(b *testing.B, config wazero.RuntimeConfig, module []byte, function string) api.Function {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, config)
	b.Cleanup(func() { r.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, r)
	mod, err := r.InstantiateWithConfig(ctx, module, wazero.NewModuleConfig().WithStartFunctions("_initialize"))
	if err != nil {
		b.Fatal(err)
	}
	return mod.ExportedFunction(function)
}
