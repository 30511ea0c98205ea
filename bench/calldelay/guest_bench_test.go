package calldelay

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/host"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// BenchmarkGuestTurn measures the turns of one ctn operation on one
// instance of the benchmark guest, without the runtime: the target's
// "double", the controller's "got" continuation (with storage served from
// memory), and the controller's "fire" turn per call it makes.
func BenchmarkGuestTurn(b *testing.B) {
	wasm := buildCtl(b)
	for _, engine := range []string{EngineInterruptible, EngineUninterruptible} {
		inst := newBenchInstance(context.Background(), b, wasm, engine)
		benchGuestTurns(b, engine, inst, nil)
	}
}

// BenchmarkGuestTurnCalls counts the wasm function calls of the same turns
// (metric wasm-calls/op). In interruptible mode each call costs an exit
// from wasm to Go: wazero checks for a stop at every loop header, and the
// Go compiler wraps every function body of a wasm guest in a loop.
func BenchmarkGuestTurnCalls(b *testing.B) {
	wasm := buildCtl(b)
	calls := &callCounter{}
	ctx := experimental.WithFunctionListenerFactory(context.Background(), calls)
	inst := newBenchInstance(ctx, b, wasm, EngineUninterruptible)
	benchGuestTurns(b, "counted", inst, calls)
}

// benchGuestTurns runs the turns of one ctn operation as sub-benchmarks. With
// calls set, it reports wasm function calls instead of time.
func benchGuestTurns(b *testing.B, engine string, inst *host.Instance, calls *callCounter) {
	// i is an operation index of a batch of 1,000,000 as the controller
	// sends it: above 65535, so it and the result take the uint32 form.
	const i = 500_000
	{
		b.Run(engine+"/double", func(b *testing.B) {
			benchTurn(b, inst, abi.KindInvoke, "double", intArgs(i), nil, calls, 1)
		})
		b.Run(engine+"/got", func(b *testing.B) {
			fx := &memEffects{kv: map[string][]byte{"d": msgp.AppendInt(nil, 1000)}}
			outcome := abi.AppendOK(nil, msgp.AppendInt(nil, 2*i))
			args := msgp.AppendArrayHeader(nil, 3)
			args = msgp.AppendInt(msgp.AppendInt(args, i), 1<<32|1<<40)
			args = append(args, outcome...)
			benchTurn(b, inst, abi.KindContinuation, "got", args, fx, calls, 1)
		})
		b.Run(engine+"/fire-per-call", func(b *testing.B) {
			fx := &memEffects{kv: map[string][]byte{keyStateName: newState(1<<40, 1000),
				"t": []byte("calc")}}
			benchTurn(b, inst, abi.KindInvoke, "fire", []byte{0x90}, fx, calls, 1000)
			if calls == nil {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/call")
			}
		})
	}
}

// callCounter is a wazero function listener that counts calls while on.
type callCounter struct {
	on    bool
	count int
}

func (c *callCounter) NewFunctionListener(api.FunctionDefinition) experimental.FunctionListener {
	return c
}

func (c *callCounter) Before(context.Context, api.Module, api.FunctionDefinition, []uint64,
	experimental.StackIterator) {
	if c.on {
		c.count++
	}
}

func (c *callCounter) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {}

func (c *callCounter) Abort(context.Context, api.Module, api.FunctionDefinition, error) {}

// keyStateName is the guest's key of its firing state.
const keyStateName = "s"

// newState encodes the firing state of a batch of n operations fired in
// chunks of chunk calls, laid out as the guest's firing.encode does.
func newState(n, chunk uint64) []byte {
	b := make([]byte, 0, 8*6+1)
	for _, v := range []uint64{n, chunk, 1 << 40, 0, 0, 0} {
		b = le64(b, v)
	}
	return append(b, 0)
}

func le64(b []byte, v uint64) []byte {
	for i := 0; i < 8; i++ {
		b = append(b, byte(v>>(8*i)))
	}
	return b
}

func intArgs(n int64) []byte {
	return msgp.AppendInt(msgp.AppendArrayHeader(nil, 1), n)
}

// benchTurn runs one request on inst b.N times. With calls set, it reports
// the wasm function calls per turn divided by per.
func benchTurn(b *testing.B, inst *host.Instance, kind int, handler string, args []byte,
	fx host.Effects, calls *callCounter, per int) {
	self := callhost.Object(classController, "c")
	req := abi.AppendRequest(nil, &abi.Request{Kind: kind, Handler: handler, Args: args,
		Self: self, Caller: callhost.Object(classTarget, "t"),
		Hops: []callhost.Address{{Class: callhost.ClassClient, ID: "r"}}, CallID: 7})
	ctx := context.Background()
	b.ReportAllocs()
	if calls != nil {
		calls.on, calls.count = true, 0
		defer func() {
			calls.on = false
			b.ReportMetric(float64(calls.count)/float64(b.N)/float64(per), "wasm-calls/op")
		}()
	}
	for b.Loop() {
		resp, err := inst.Turn(ctx, req, fx)
		if err != nil {
			b.Fatal(err)
		}
		if _, failure, err := abi.DecodeOutcome(resp); err != nil || failure != nil {
			b.Fatalf("%s: %v %v", handler, err, failure)
		}
		if m, ok := fx.(*memEffects); ok {
			m.calls = 0
		}
	}
}

func buildCtl(b testing.TB) []byte {
	wd, _ := os.Getwd()
	root, err := FindRoot(wd)
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(b.TempDir(), "ctl.wasm")
	if err := buildGuest(filepath.Join(root, "bench", "guests", "ctl"), out); err != nil {
		b.Fatal(err)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		b.Fatal(err)
	}
	return wasm
}

func newBenchInstance(ctx context.Context, b testing.TB, wasm []byte,
	engine string) *host.Instance {
	e, err := host.NewEngine(ctx, host.Config{Uninterruptible: engine == EngineUninterruptible})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close(ctx) })
	m, err := e.Compile(ctx, classController, wasm)
	if err != nil {
		b.Fatal(err)
	}
	p, err := m.NewPool(ctx, host.PoolConfig{Max: 1, Warm: 1})
	if err != nil {
		b.Fatal(err)
	}
	inst, err := p.Get(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

// memEffects serves storage from a map and counts calls. The embedded nil
// interface provides the imports the benchmark guest never makes.
type memEffects struct {
	host.Effects
	kv    map[string][]byte
	calls int
}

func (m *memEffects) Call([]byte) (uint64, error) { m.calls++; return uint64(m.calls), nil }
func (m *memEffects) Get(k []byte) ([]byte, bool, error) {
	v, ok := m.kv[string(k)]
	return v, ok, nil
}

// Add returns the stored count plus delta and, like Put, leaves the count
// unchanged so that every turn is alike.
func (m *memEffects) Add(k []byte, delta int64) (int64, error) {
	r := msgp.NewReader(m.kv[string(k)])
	n, _ := r.ReadInt()
	return n + delta, nil
}

func (m *memEffects) Put(k, v []byte) error {
	if string(k) != keyStateName && string(k) != "d" { // keep every turn alike
		m.kv[string(k)] = append([]byte(nil), v...)
	}
	return nil
}
func (m *memEffects) Delete(k []byte) error { delete(m.kv, string(k)); return nil }
func (m *memEffects) List(_, _ []byte, _ int, dst []byte) ([]byte, error) {
	return msgp.AppendArrayHeader(dst, 0), nil
}
func (m *memEffects) Log(slog.Level, []byte) {}
