package host

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawModule assembles a module from a type section of one function type
// () -> (), a function section of the given type indices, and the given
// function bodies, each without its local declarations.
func rawModule(funcTypes []byte, bodies ...[]byte) []byte {
	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	b = section(b, 1, vec(nil, functype(nil, nil)))
	var funcs, codes [][]byte
	for _, t := range funcTypes {
		funcs = append(funcs, uleb(nil, uint64(t)))
	}
	for _, body := range bodies {
		body = append([]byte{0}, body...)
		codes = append(codes, append(uleb(nil, uint64(len(body))), body...))
	}
	b = section(b, 3, vec(nil, funcs...))
	return section(b, 10, vec(nil, codes...))
}

// logBuffer is a log destination that tests read while an engine writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestCompileRecoversDecoderPanic loads a module on which wazero v1.12.0
// panics: function 0 calls function 1, whose type index 5 is beyond the
// type section, and the validator looks the callee's type up before it
// checks the index. A wazero release that returns an error instead makes
// this test fail, and the comment on Engine.compile needs a new example.
func TestCompileRecoversDecoderPanic(t *testing.T) {
	panicking := rawModule([]byte{0, 5},
		[]byte{0x10, 0x01, opEnd}, // call 1
		[]byte{opEnd})
	for _, uninterruptible := range []bool{false, true} {
		var logs logBuffer
		e := newEngine(t, Config{Uninterruptible: uninterruptible, Logger: logs.logger()})
		_, err := e.Compile(context.Background(), "bad-types", panicking)
		if !errors.Is(err, ErrBadModule) {
			t.Fatalf("uninterruptible=%v: Compile error = %v, want ErrBadModule", uninterruptible, err)
		}
		want := `host: bad guest module "bad-types": the WebAssembly decoder or compiler ` +
			`panicked: runtime error: index out of range [5]`
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("uninterruptible=%v: Compile error = %q, want prefix %q",
				uninterruptible, err, want)
		}
		if !strings.Contains(logs.String(), "level=WARN") ||
			!strings.Contains(logs.String(), "module=bad-types") {
			t.Errorf("uninterruptible=%v: no warning names the module:\n%s", uninterruptible, logs.String())
		}
		if _, err := e.Compile(context.Background(), "tiny", tinyModule().encode()); err != nil {
			t.Errorf("uninterruptible=%v: Compile after the panic: %v", uninterruptible, err)
		}
	}
}

// TestCompileRejectsForgedCount loads a module whose code section declares
// 2^28 function bodies in 5 bytes. wazero v1.12.0 sizes an allocation from
// that count before it reads the bodies, about 15 GB, so the host must
// reject the module in both modes before wazero decodes it.
func TestCompileRejectsForgedCount(t *testing.T) {
	forged := section([]byte{0, 'a', 's', 'm', 1, 0, 0, 0}, 10, uleb(nil, 1<<28))
	for _, uninterruptible := range []bool{false, true} {
		e := newEngine(t, Config{Uninterruptible: uninterruptible})
		_, err := e.Compile(context.Background(), "forged", forged)
		if !errors.Is(err, ErrBadModule) {
			t.Fatalf("uninterruptible=%v: Compile error = %v, want ErrBadModule", uninterruptible, err)
		}
		if !strings.Contains(err.Error(), "invalid or unsupported WebAssembly") {
			t.Errorf("uninterruptible=%v: Compile error = %q, want the module check's error",
				uninterruptible, err)
		}
	}
}

// TestLoadErrorsNameModuleOnce checks the messages of modules that fail
// while the host instantiates them, runs their start function or
// _initialize, or calls callhost_abi_version or describe.
func TestLoadErrorsNameModuleOnce(t *testing.T) {
	const timeout = 200 * time.Millisecond
	e := newEngine(t, Config{TurnTimeout: timeout})
	base := tinyModule()
	spin := []byte{0x03, 0x40, 0x0c, 0x00, opEnd} // loop; br 0; end
	trapVersion := &wasmFunc{results: []byte{i32}, code: []byte{0x00}}
	spinVersion := &wasmFunc{results: []byte{i32}, code: append(spin, sleb([]byte{opI32}, 1)...)}
	trapTurn := &wasmFunc{params: []byte{i32}, results: []byte{i64}, code: []byte{0x00}}
	trapInit := base
	trapInit.funcs = append(trapInit.funcs, wasmFunc{export: "_initialize", code: []byte{0x00}})
	trapStart, spinStart := base, base
	trapStart.start = &wasmFunc{code: []byte{0x00}}
	spinStart.start = &wasmFunc{code: spin}

	for _, tc := range []struct {
		name     string
		mod      wasmModule
		want     string
		deadline bool // the error wraps ErrTurnDeadline; otherwise a *TrapError
	}{
		{"version-trap", base.withFunc("callhost_abi_version", trapVersion),
			"callhost_abi_version trapped: wasm error: unreachable", false},
		{"version-spin", base.withFunc("callhost_abi_version", spinVersion),
			"callhost_abi_version did not return within the deadline of 200ms", true},
		{"describe-trap", base.withFunc("callhost_turn", trapTurn),
			"the describe turn trapped: wasm error: unreachable", false},
		{"init-trap", trapInit, "_initialize trapped: wasm error: unreachable", false},
		{"start-trap", trapStart, "the start function trapped: wasm error: unreachable", false},
		{"start-spin", spinStart, "the start function did not return within the deadline", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(context.Background(), tc.name, tc.mod.encode())
			if !errors.Is(err, ErrBadModule) {
				t.Fatalf("Compile error = %v, want ErrBadModule", err)
			}

			msg := err.Error()
			want := `host: bad guest module "` + tc.name + `": ` + tc.want
			if !strings.HasPrefix(msg, want) {
				t.Errorf("Compile error = %q, want prefix %q", msg, want)
			}
			if n := strings.Count(msg, "host:"); n != 1 {
				t.Errorf("Compile error %q has %d host: prefixes, want 1", msg, n)
			}
			if n := strings.Count(msg, tc.name); n != 1 {
				t.Errorf("Compile error %q names the module %d times, want 1", msg, n)
			}

			var trap *TrapError
			if tc.deadline && !errors.Is(err, ErrTurnDeadline) {
				t.Errorf("Compile error %q does not wrap ErrTurnDeadline", msg)
			}
			if !tc.deadline && !errors.As(err, &trap) {
				t.Errorf("Compile error %q does not wrap a *TrapError", msg)
			}
		})
	}
}

// TestLoadErrorOfCanceledContext loads a module whose start function spins
// under a canceled context. Compile runs it anyway, and the watchdog stops it.
func TestLoadErrorOfCanceledContext(t *testing.T) {
	e := newEngine(t, Config{})
	m := tinyModule()
	m.start = &wasmFunc{code: []byte{0x03, 0x40, 0x0c, 0x00, opEnd}} // loop; br 0; end
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := e.Compile(ctx, "spin", m.encode())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Compile error = %v, want context.Canceled", err)
	}
	if errors.Is(err, ErrBadModule) {
		t.Errorf("Compile error %q blames the module for the canceled context", err)
	}
	want := `host: load module "spin": the start function was stopped: context canceled`
	if err.Error() != want {
		t.Errorf("Compile error = %q, want %q", err, want)
	}
}

// TestCompileNamesUnsupportedFeature loads modules that use WebAssembly
// proposals outside WebAssembly 2.0, with and without instrumentation,
// which reject them at different stages.
func TestCompileNamesUnsupportedFeature(t *testing.T) {
	header := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	memory64 := section(section(header, 1, vec(nil, functype(nil, nil))),
		5, vec(nil, []byte{0x04, 1})) // flags 0x04: 64-bit limits, minimum 1
	importedMemory64 := section(header, 2,
		vec(nil, append(wname(wname(nil, "env"), "memory"), 0x02, 0x05, 1, 2)))
	structType := section(header, 1, vec(nil, []byte{0x5f, 1, i32, 0})) // struct (field i32)
	gcOpcode := rawModule([]byte{0}, []byte{0xfb, 0x00, 0x00, opEnd})   // struct.new 0
	for _, tc := range []struct {
		name    string
		wasm    []byte
		feature string
	}{
		{"memory64", memory64, "64-bit memory (the memory64 proposal)"},
		{"import-memory64", importedMemory64, "64-bit memory (the memory64 proposal)"},
		{"struct-type", structType, "the GC proposal (garbage-collected structs and arrays)"},
		{"gc-opcode", gcOpcode, "the GC proposal (garbage-collected structs and arrays)"},
	} {
		for _, uninterruptible := range []bool{false, true} {
			e := newEngine(t, Config{Uninterruptible: uninterruptible})
			_, err := e.Compile(context.Background(), tc.name, tc.wasm)
			if !errors.Is(err, ErrBadModule) {
				t.Fatalf("%s, uninterruptible=%v: Compile error = %v, want ErrBadModule",
					tc.name, uninterruptible, err)
			}
			want := `host: bad guest module "` + tc.name + `": it uses ` + tc.feature +
				", which the host does not support: "
			msg := err.Error()
			if !strings.HasPrefix(msg, want) || len(msg) <= len(want) {
				t.Errorf("%s, uninterruptible=%v: Compile error = %q, want %q and the detail",
					tc.name, uninterruptible, msg, want)
			}
		}
	}
}

func TestUnsupportedFeatureIgnoresSupportedModules(t *testing.T) {
	tiny := tinyModule()
	tiny.imports = []wasmImport{{module: "callhost", name: "log", params: []byte{i32, i32, i32}}}
	if f := unsupportedFeature(tiny.encode(), errors.New("some failure")); f != "" {
		t.Errorf("unsupportedFeature(tiny module) = %q, want none", f)
	}
	if f := unsupportedFeature(guestWasm(t), nil); f != "" {
		t.Errorf("unsupportedFeature(Go test guest) = %q, want none", f)
	}
}
