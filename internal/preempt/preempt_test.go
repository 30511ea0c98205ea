package preempt

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost/internal/guesttest"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	closeGuestRuntimes()
	closeFuzzRuntime()
	benchCache.Close(context.Background())
	guesttest.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// goGuest builds the Go guest in testdata/guest, which exports add, sum and
// spin.
func goGuest(tb testing.TB) []byte {
	return guesttest.Build(tb, "testdata/guest")
}

// guestRuntime is a wazero runtime with WASI and the instrumented Go guest
// compiled. The tests of one engine share it, because compiling the guest
// with the optimizing compiler takes seconds under the race detector.
type guestRuntime struct {
	once     sync.Once
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	err      error
}

var (
	guestRuntimesMu sync.Mutex
	guestRuntimes   = map[string]*guestRuntime{}
)

func closeGuestRuntimes() {
	guestRuntimesMu.Lock()
	defer guestRuntimesMu.Unlock()
	for _, g := range guestRuntimes {
		if g.runtime != nil {
			g.runtime.Close(context.Background())
		}
	}
	guestRuntimes = map[string]*guestRuntime{}
}

// newGuestInstance instantiates the instrumented Go guest on the named
// engine and runs _initialize. The instance is closed when the test ends.
func newGuestInstance(t *testing.T, engine string, config wazero.RuntimeConfig) api.Module {
	t.Helper()
	guestRuntimesMu.Lock()
	g := guestRuntimes[engine]
	if g == nil {
		g = &guestRuntime{}
		guestRuntimes[engine] = g
	}
	guestRuntimesMu.Unlock()

	g.once.Do(func() {
		instrumented, err := Instrument(goGuest(t))
		if err != nil {
			g.err = fmt.Errorf("instrument the Go guest: %w", err)
			return
		}
		ctx := context.Background()
		g.runtime = wazero.NewRuntimeWithConfig(ctx, config)
		wasi_snapshot_preview1.MustInstantiate(ctx, g.runtime)
		if g.compiled, g.err = g.runtime.CompileModule(ctx, instrumented); g.err != nil {
			g.err = fmt.Errorf("compile the instrumented Go guest: %w", g.err)
		}
	})
	if g.err != nil {
		t.Fatal(g.err)
	}
	ctx := context.Background()
	mod, err := g.runtime.InstantiateModule(ctx, g.compiled,
		wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize"))
	if err != nil {
		t.Fatalf("instantiate the instrumented Go guest: %v", err)
	}
	t.Cleanup(func() { mod.Close(context.Background()) })
	return mod
}

func exportedInterrupt(t *testing.T, mod api.Module) api.MutableGlobal {
	t.Helper()
	g, ok := mod.ExportedGlobal(ExportName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("module exports no mutable global %q", ExportName)
	}
	return g
}

func callI32(t *testing.T, mod api.Module, function string, args ...int32) int32 {
	t.Helper()
	params := make([]uint64, len(args))
	for i, a := range args {
		params[i] = api.EncodeI32(a)
	}
	results, err := mod.ExportedFunction(function).Call(context.Background(), params...)
	if err != nil {
		t.Fatalf("%s%v: %v", function, args, err)
	}
	return api.DecodeI32(results[0])
}

// isUnreachableTrap reports whether err is wazero's error for a trap on the
// unreachable instruction.
func isUnreachableTrap(err error) bool {
	return err != nil && strings.Contains(err.Error(), "wasm error: unreachable")
}

// requireInterrupted calls function on another goroutine, sets the
// interrupt global after 50 ms, and fails unless the call then returns the
// unreachable trap within 5 s. Garbage collections run all along: the
// checks exit to Go once per fuel period, where the goroutine can be
// preempted, so a stop-the-world phase does not wait for the guest to
// return.
func requireInterrupted(t *testing.T, engine string, mod api.Module, function string) {
	t.Helper()
	if engine == "interpreter" && raceEnabled {
		t.Skip("the interpreter reads the global as a plain Go variable, " +
			"so the race detector reports the write from another goroutine")
	}

	interrupt := exportedInterrupt(t, mod)
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction(function).Call(context.Background())
		done <- err
	}()

	gcs := 0
	for deadline := time.Now().Add(50 * time.Millisecond); time.Now().Before(deadline); gcs++ {
		runtime.GC()
	}
	select {
	case err := <-done:
		t.Fatalf("%s returned before the interrupt: %v", function, err)
	default:
	}

	interrupt.Set(1)
	setAt := time.Now()
	select {
	case err := <-done:
		if !isUnreachableTrap(err) {
			t.Fatalf("%s returned %v, want the unreachable trap", function, err)
		}
		t.Logf("%d garbage collections ran while %s ran; it trapped %v after the interrupt "+
			"global was set", gcs, function, time.Since(setAt))
	case <-time.After(5 * time.Second):
		// The guest goroutine keeps spinning, so goleak in TestMain reports it too.
		t.Fatalf("%s still runs 5 s after the interrupt global was set", function)
	}
}

func TestGuestCallsAfterInstrument(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mod := newGuestInstance(t, e.name, e.config())
			interrupt := exportedInterrupt(t, mod)
			if got := interrupt.Type(); got != api.ValueTypeI32 {
				t.Errorf("interrupt global type = %s, want i32", api.ValueTypeName(got))
			}
			if got := interrupt.Get(); got != 0 {
				t.Errorf("interrupt global = %d, want 0", got)
			}
			if got := callI32(t, mod, "add", 2, 3); got != 5 {
				t.Errorf("add(2, 3) = %d, want 5", got)
			}
			if got := callI32(t, mod, "add", -7, 3); got != -4 {
				t.Errorf("add(-7, 3) = %d, want -4", got)
			}
			if got := callI32(t, mod, "sum", 1000); got != 499500 {
				t.Errorf("sum(1000) = %d, want 499500", got)
			}
		})
	}
}

func TestGuestSpinInterrupted(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mod := newGuestInstance(t, e.name, e.config())
			requireInterrupted(t, e.name, mod, "spin")
		})
	}
}

// TestGuestInterruptAfterFuel checks that a call which makes more checks
// than one fuel period traps once the interrupt global is set, and that a
// set global does nothing before the fuel runs out.
func TestGuestInterruptAfterFuel(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			mod := newGuestInstance(t, e.name, e.config())
			exportedInterrupt(t, mod).Set(1)
			if got := callI32(t, mod, "add", 2, 3); got != 5 {
				t.Errorf("add(2, 3) = %d, want 5", got)
			}
			_, err := mod.ExportedFunction("sum").Call(context.Background(),
				api.EncodeI32(2*fuelPeriod))
			if !isUnreachableTrap(err) {
				t.Fatalf("sum(%d) with the interrupt global set returned %v, want the unreachable trap",
					2*fuelPeriod, err)
			}
		})
	}
}

func TestInstrumentGoGuestDeterministic(t *testing.T) {
	wasm := goGuest(t)
	original := bytes.Clone(wasm)
	first, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Instrument(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("two runs on the same module differ at offset 0x%x", firstDifference(first, second))
	}
	if !bytes.Equal(wasm, original) {
		t.Errorf("Instrument modified its input at offset 0x%x", firstDifference(wasm, original))
	}
	t.Logf("Go guest: %d bytes, instrumented %d bytes (+%d)", len(wasm), len(first), len(first)-len(wasm))
}

// TestHandBuiltLoopInterrupted runs a loop without calls, so the only
// reload of the global is the one at the loop header.
func TestHandBuiltLoopInterrupted(t *testing.T) {
	instrumented, err := Instrument(spinModule())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			ctx := context.Background()
			r := wazero.NewRuntimeWithConfig(ctx, e.config())
			defer r.Close(ctx)
			mod, err := r.Instantiate(ctx, instrumented)
			if err != nil {
				t.Fatal(err)
			}
			requireInterrupted(t, e.name, mod, "spin")
		})
	}
}

// spinModule is a module whose export spin loops without calls, so that the
// only reload of the interrupt global is the one at the loop header.
func spinModule() []byte {
	return wasmModule(
		sec(sectionType, vec(funcType(nil, nil))),
		sec(sectionFunction, vec(uleb(0))),
		sec(sectionExport, vec(export("spin", 0x00, 0))),
		sec(sectionCode, vec(variant{}.body(noLocals,
			0x03, 0x40, // loop
			0x0c, 0x00, // br 0
			0x0b, // end
			0x0b))),
	)
}

// TestBulkFillLoopInterrupted runs a loop whose body is one memory.fill of
// 16 MiB. Each fill takes a millisecond or so, so without the fuel charge of
// bulk instructions a fuel period would last tens of seconds.
func TestBulkFillLoopInterrupted(t *testing.T) {
	instrumented, err := Instrument(fillLoopModule())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	defer r.Close(ctx)
	mod, err := r.Instantiate(ctx, instrumented)
	if err != nil {
		t.Fatal(err)
	}
	requireInterrupted(t, "default", mod, "spin")
}

// fillLoopModule is a module with 16 MiB of memory whose export spin fills
// all of it with zeros in a loop that never ends.
func fillLoopModule() []byte {
	return wasmModule(
		sec(sectionType, vec(funcType(nil, nil))),
		sec(sectionFunction, vec(uleb(0))),
		sec(sectionMemory, vec(cat([]byte{0x00}, uleb(256)))),
		sec(sectionExport, vec(export("spin", 0x00, 0))),
		sec(sectionCode, vec(variant{}.body(noLocals,
			0x03, 0x40, // loop
			i32Const(0), i32Const(0), i32Const(16<<20),
			0xfc, 0x0b, 0x00, // memory.fill
			0x0c, 0x00, // br 0
			0x0b, // end
			0x0b))),
	)
}
