package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost/internal/msgp"
)

func TestCompileDescribesHandlers(t *testing.T) {
	m, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	if m.Name() != "guest" {
		t.Errorf("Name() = %q", m.Name())
	}
	hs := m.Handlers()
	if len(hs) < 10 || hs[0] != (Handler{"echo", true}) {
		t.Fatalf("Handlers() = %v", hs)
	}
	if h, ok := m.Handler("local"); !ok || h.Exposed {
		t.Errorf(`Handler("local") = %v, %v; want a local handler`, h, ok)
	}
	if _, ok := m.Handler("nope"); ok {
		t.Error(`Handler("nope") found`)
	}
	hs[0].Name = "changed"
	if m.Handlers()[0].Name != "echo" {
		t.Error("Handlers() exposes the module's table")
	}
	if s := p.Stats(); s.Live != 1 || s.Idle != 1 || s.Created != 1 {
		t.Errorf("pool did not adopt the describe instance: %+v", s)
	}
}

func TestEchoRoundTrip(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	long := strings.Repeat("x", 100_000) // larger than the first input buffer
	for _, s := range []string{"hello", long, "again"} {
		val := turnOK(t, p, invoke("echo", argInt(42), argStr(s)), nil)
		want := msgp.AppendString(msgp.AppendInt(msgp.AppendArrayHeader(nil, 2), 42), s)
		if !bytes.Equal(val, want) {
			t.Fatalf("echo of %d bytes returned %d bytes", len(want), len(val))
		}
	}
	if s := p.Stats(); s.Created != 1 {
		t.Errorf("Created = %d, want one instance for all turns", s.Created)
	}
}

func TestCompileRejectsBadModules(t *testing.T) {
	e := newEngine(t, Config{MemoryLimitPages: 16})
	base := tinyModule()
	ret := func(n int64) *wasmFunc {
		return &wasmFunc{results: []byte{i32}, code: sleb([]byte{opI32}, n)}
	}
	big := base
	big.memPages = 17
	noMem := base.withFunc("callhost_turn", &wasmFunc{params: []byte{i32},
		results: []byte{i64}, code: sleb([]byte{opI64}, 0)})
	noMem.noMemory, noMem.data = true, nil
	imports := base
	imports.imports = []wasmImport{{module: "env", name: "abort"}}
	for _, tc := range []struct {
		name string
		mod  wasmModule
		want string
	}{
		{"version", base.withFunc("callhost_abi_version", ret(2)), "version 2"},
		{"missing", base.withFunc("callhost_turn", nil), "does not export function callhost_turn"},
		{"signature", base.withFunc("callhost_turn", &wasmFunc{params: []byte{i32},
			results: []byte{i32}, code: sleb([]byte{opI32}, 0)}), "exports callhost_turn(i32) -> (i32)"},
		{"memory", big, "limit of 16 pages"},
		{"no-memory", noMem, "does not export its memory"},
		{"import", imports, "env.abort"},
		{"describe", base.withFunc("callhost_turn", &wasmFunc{params: []byte{i32},
			results: []byte{i64}, code: sleb([]byte{opI64}, 0)}), "describe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Compile(context.Background(), "bad-"+tc.name, tc.mod.encode())
			if !errors.Is(err, ErrBadModule) {
				t.Fatalf("Compile error = %v, want ErrBadModule", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.want) ||
				!strings.Contains(msg, `"bad-`+tc.name+`"`) {
				t.Errorf("Compile error %q does not name the module and %q", msg, tc.want)
			}
		})
	}
	_, err := e.Compile(context.Background(), "junk", []byte("not wasm"))
	if !errors.Is(err, ErrBadModule) {
		t.Errorf("Compile of junk = %v, want ErrBadModule", err)
	}
}

func TestTrapReplacesInstance(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 2, Warm: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = i.Turn(context.Background(), invoke("stderr", argStr("earlier turn\n")), nil)
	if err != nil {
		t.Fatal(err)
	}

	_, err = i.Turn(context.Background(), invoke("panic"), nil)
	var trap *TrapError
	if !errors.As(err, &trap) {
		t.Fatalf("Turn error = %v, want a TrapError", err)
	}
	if trap.Module != "guest" || !strings.HasPrefix(trap.Message, "panic: boom") ||
		strings.Contains(trap.Message, "earlier turn") {
		t.Errorf("TrapError = %+v", trap)
	}
	if !strings.Contains(err.Error(), "panic: boom") {
		t.Errorf("Error() = %q", err)
	}
	t.Logf("panic: %v", err)

	if !i.Broken() {
		t.Fatal("instance not broken after a trap")
	}
	_, err = i.Turn(context.Background(), invoke("echo"), nil)
	if !errors.Is(err, ErrBroken) {
		t.Fatalf("Turn on a broken instance = %v, want ErrBroken", err)
	}
	wantTurnError(t, err, "the turn did not run: an earlier turn broke the instance")
	p.Put(i)
	eventually(t, "a replacement instance", func() bool {
		s := p.Stats()
		return s.Discarded == 1 && s.Live == 1 && s.Idle == 1 && s.Created == 2
	})
	turnOK(t, p, invoke("echo"), nil)
}

func TestGuestExitIsTrap(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	_, err = i.Turn(context.Background(), invoke("exit"), nil)
	var trap *TrapError
	if !errors.As(err, &trap) || !i.Broken() {
		t.Fatalf("Turn error = %v, broken %v; want a TrapError", err, i.Broken())
	}
	t.Logf("exit: %v", err)
}

func TestSpinStoppedByDeadline(t *testing.T) {
	_, p := newGuestPool(t, Config{TurnTimeout: 200 * time.Millisecond}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = i.Turn(context.Background(), invoke("spin"), nil)
	took := time.Since(start)
	if !errors.Is(err, ErrTurnDeadline) {
		t.Fatalf("Turn error = %v, want ErrTurnDeadline", err)
	}
	wantTurnError(t, err, "the turn ran past its deadline of 200ms (Config.TurnTimeout)")
	var trap *TrapError
	if errors.As(err, &trap) {
		t.Errorf("deadline error is also a TrapError: %v", err)
	}
	if took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("spin stopped after %v, want about 200ms", took)
	}
	if !i.Broken() {
		t.Error("instance not broken after a deadline")
	}
	p.Put(i)
	turnOK(t, p, invoke("echo"), nil)
	if s := p.Stats(); s.Discarded != 1 || s.Live != 1 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestTurnStoppedByContext(t *testing.T) {
	_, p := newGuestPool(t, Config{TurnTimeout: time.Minute}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = i.Turn(ctx, invoke("spin"), nil)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTurnDeadline) {
		t.Fatalf("Turn error = %v, want the context's error", err)
	}
	wantTurnError(t, err, "the turn was stopped: context deadline exceeded")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("spin stopped after %v", took)
	}
	if !i.Broken() {
		t.Error("instance not broken after a stopped turn")
	}
}

// TestSpinSurvivesGarbageCollection runs garbage collections while a guest
// spins. Go cannot preempt wazero's machine code; the inserted checks exit to
// Go often enough that each collection finishes and the watchdog still stops
// the turn.
func TestSpinSurvivesGarbageCollection(t *testing.T) {
	_, p := newGuestPool(t, Config{TurnTimeout: 300 * time.Millisecond}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	done := make(chan error, 1)
	go func() {
		_, err := i.Turn(context.Background(), invoke("spin"), nil)
		done <- err
	}()
	for gcs := 0; ; gcs++ {
		select {
		case err := <-done:
			if !errors.Is(err, ErrTurnDeadline) {
				t.Fatalf("Turn error = %v, want ErrTurnDeadline", err)
			}
			if gcs == 0 {
				t.Fatal("no garbage collection finished while the guest ran")
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("spin still runs 5 s after it started")
		default:
			runtime.GC()
		}
	}
}

// TestSpinningStartFunctionStopped loads a module whose start section runs a
// loop that never ends. The rewrite turns the start function into an export
// that the host calls under the turn deadline, so Compile fails instead of
// hanging in instantiation.
func TestSpinningStartFunctionStopped(t *testing.T) {
	e := newEngine(t, Config{TurnTimeout: 200 * time.Millisecond})
	m := tinyModule()
	m.start = &wasmFunc{code: []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}} // loop; br 0; end
	_, err := e.Compile(context.Background(), "spinstart", m.encode())
	if !errors.Is(err, ErrTurnDeadline) {
		t.Fatalf("Compile error = %v, want ErrTurnDeadline", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "start function") ||
		!strings.Contains(msg, `"spinstart"`) {
		t.Errorf("Compile error %q does not name the start function and the module", msg)
	}
}

// TestCloseStopsRunningTurn closes the engine while a guest spins with a
// long deadline: Close stops the turn and waits for it.
func TestCloseStopsRunningTurn(t *testing.T) {
	m, p := newGuestPool(t, Config{TurnTimeout: time.Minute}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)

	done := make(chan error, 1)
	go func() {
		_, err := i.Turn(context.Background(), invoke("spin"), nil)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.e.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err = <-done
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("Turn error = %v, want ErrClosed", err)
	}
	wantTurnError(t, err, "the turn was stopped because the engine closed")
}

func TestUninterruptibleDeadline(t *testing.T) {
	cfg := Config{TurnTimeout: 100 * time.Millisecond, Uninterruptible: true}
	_, p := newGuestPool(t, cfg, PoolConfig{Max: 1})
	turnOK(t, p, invoke("busy", argInt(1)), nil)
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	start := time.Now()
	_, err = i.Turn(context.Background(), invoke("busy", argInt(400)), nil)
	if !errors.Is(err, ErrTurnDeadline) {
		t.Fatalf("Turn error = %v, want ErrTurnDeadline", err)
	}
	wantTurnError(t, err, "the turn ran past its deadline of 100ms (Config.TurnTimeout)")
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("uninterruptible turn returned after %v, before the guest did", took)
	}
}

func TestMemoryBombTraps(t *testing.T) {
	_, p := newGuestPool(t, Config{MemoryLimitPages: 256}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = i.Turn(context.Background(), invoke("grow"), nil)
	var trap *TrapError
	if !errors.As(err, &trap) {
		t.Fatalf("Turn error = %v, want a TrapError", err)
	}
	if !strings.Contains(trap.Message, "out of memory") {
		t.Errorf("TrapError.Message = %q", trap.Message)
	}
	t.Logf("memory bomb: %v", err)
	p.Put(i)
	turnOK(t, p, invoke("echo"), nil)
}

func TestGetHonoursContext(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on an exhausted pool = %v, want DeadlineExceeded", err)
	}
}

func TestPutBrokenFreesSlot(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		j, err := p.Get(context.Background())
		if err == nil {
			_, err = j.Turn(context.Background(), invoke("echo"), nil)
			p.Put(j)
		}
		got <- err
	}()
	if _, err := i.Turn(context.Background(), invoke("panic"), nil); err == nil {
		t.Fatal("panic turn succeeded")
	}
	p.Put(i)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waiting Get not woken by the freed slot")
	}
	if s := p.Stats(); s.Live != 1 || s.Discarded != 1 || s.Created != 2 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestPutChecksOwnership(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Put(i)
	defer func() {
		if recover() == nil {
			t.Error("second Put did not panic")
		}
	}()
	p.Put(i)
}

func TestConcurrentTurns(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 3})
	const workers, turns = 8, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- worker(p, w, turns)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if s := p.Stats(); s.Live > 3 || s.Discarded != 0 {
		t.Errorf("Stats = %+v", s)
	}
}

// worker runs turns kv turns with payloads of its own and checks each result.
func worker(p *Pool, w, turns int) error {
	fx := newTestEffects()
	for k := range turns {
		i, err := p.Get(context.Background())
		if err != nil {
			return err
		}
		s := fmt.Sprintf("w%d-%d-%s", w, k, strings.Repeat("y", k*100))
		resp, err := i.Turn(context.Background(), invoke("kv", argBin([]byte(s)), argBin([]byte(s))), fx)
		if err != nil {
			p.Put(i)
			return err
		}
		r := msgp.NewReader(resp)
		_, _ = r.ReadArrayHeader()
		code, _ := r.ReadInt()
		val, err := r.ReadBytes()
		if code != 0 || err != nil || string(val) != s {
			p.Put(i)
			return fmt.Errorf("worker %d turn %d: code %d, %q, %v", w, k, code, val, err)
		}
		p.Put(i)
	}
	return nil
}

func TestPoolClose(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 2, Warm: 2})
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if s := p.Stats(); s.Live != 1 || s.Idle != 0 {
		t.Errorf("Stats after Close = %+v, want only the instance in use", s)
	}
	p.Put(i)
	if s := p.Stats(); s.Live != 0 {
		t.Errorf("Stats after Put = %+v", s)
	}
}

func TestEngineCloseClosesPools(t *testing.T) {
	e, err := NewEngine(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), PoolConfig{Max: 2, Warm: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Engine.Close = %v, want ErrClosed", err)
	}
	_, err = e.Compile(context.Background(), "tiny", tinyModule().encode())
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Compile after Close = %v, want ErrClosed", err)
	}
}

func TestTinyModuleManyInstances(t *testing.T) {
	e := newEngine(t, Config{})
	m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
	if err != nil {
		t.Fatal(err)
	}
	if h, ok := m.Handler("echo"); !ok || !h.Exposed {
		t.Fatalf("tiny module handlers: %v", m.Handlers())
	}
	p, err := m.NewPool(context.Background(), PoolConfig{Max: 16, Warm: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	var wg sync.WaitGroup
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 100 {
				req := invoke("echo", argInt(int64(w*1000+k)))
				i, err := p.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				resp, err := i.Turn(context.Background(), req, nil)
				if err != nil || !bytes.Equal(resp, req) {
					t.Errorf("tiny echo: %v", err)
				}
				p.Put(i)
			}
		}()
	}
	wg.Wait()
	if s := p.Stats(); s.Live > 16 || s.Created > 16 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestBadResponsePointerIsTrap(t *testing.T) {
	e := newEngine(t, Config{})
	mod := tinyModule()
	// Serve describe as usual, then return a response far outside memory.
	bad := tinyTurn(sleb([]byte{opI64}, 0x7fff0000<<32|16))
	mod = mod.withFunc("callhost_turn",
		&wasmFunc{params: []byte{i32}, results: []byte{i64}, code: bad})
	m, err := e.Compile(context.Background(), "badresp", mod.encode())
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), PoolConfig{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	i, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(i)
	_, err = i.Turn(context.Background(), invoke("echo"), nil)
	var trap *TrapError
	if !errors.As(err, &trap) || !strings.Contains(trap.Message, "outside memory") || !i.Broken() {
		t.Fatalf("Turn error = %v, want a TrapError about memory", err)
	}
}

func TestTurnAllocatesNothing(t *testing.T) {
	e := newEngine(t, Config{Uninterruptible: true})
	m, err := e.Compile(context.Background(), "tiny", tinyModule().encode())
	if err != nil {
		t.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), PoolConfig{Max: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	req := invoke("echo", argStr("hello"))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		i, err := p.Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Turn(ctx, req, nil); err != nil {
			t.Fatal(err)
		}
		p.Put(i)
	})
	if allocs != 0 {
		t.Errorf("Get, Turn and Put allocate %v times per turn", allocs)
	}
}
