package calldelay

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/bench/internal/load"
	"github.com/callhost/callhost/host"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
)

// ChildEnv is the environment variable that makes the runner's binary run as
// a child: a process that hosts callhost for one row of the sweep.
const ChildEnv = "CALLDELAY_CHILD"

// ProfileEnv names the environment variable that makes a child write
// profiles; see ChildMain.
const ProfileEnv = "CALLDELAY_PROFILE"

// NoTraceEnv names the environment variable that, set to 1, leaves the
// execution trace out of the profiles, and with it the cost of recording
// every scheduling event.
const NoTraceEnv = "CALLDELAY_NO_TRACE"

// Object stores a sweep can run on.
const (
	StoreMemory = "memory" // store.NewMemory: nothing is kept across restarts
	StoreBolt   = "bolt"   // the runtime's default durable bbolt store
)

// Class names of the guest module in the children.
const (
	classController = "ctl"
	classTarget     = "calc"
)

// childArgs are the flags of a child process.
type childArgs struct {
	mode        Mode
	ops         int
	fanout      bool
	engine      string
	wasm        string
	cache       string
	window      int
	workers     int
	callTimeout time.Duration
	store       string // StoreMemory, or StoreBolt in a new directory under data
	data        string
	boltDir     string // the bolt store's directory, removed when the child ends
}

func (a *childArgs) flags() []string {
	return []string{"-mode", string(a.mode), "-ops", strconv.Itoa(a.ops),
		"-fanout=" + strconv.FormatBool(a.fanout), "-engine", a.engine, "-wasm", a.wasm,
		"-cache", a.cache, "-window", strconv.Itoa(a.window),
		"-workers", strconv.Itoa(a.workers), "-call-timeout", a.callTimeout.String(),
		"-store", a.store, "-data", a.data}
}

func parseChildArgs(args []string) (*childArgs, error) {
	var a childArgs
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Func("mode", "mode", func(s string) error { a.mode = Mode(s); return nil })
	fs.IntVar(&a.ops, "ops", 0, "operations")
	fs.BoolVar(&a.fanout, "fanout", false, "one target object per operation")
	fs.StringVar(&a.engine, "engine", EngineInterruptible, "engine mode")
	fs.StringVar(&a.wasm, "wasm", "", "guest module")
	fs.StringVar(&a.cache, "cache", "", "compilation cache directory")
	fs.IntVar(&a.window, "window", DefaultWindow, "max in-flight calls per connection")
	fs.IntVar(&a.workers, "workers", DefaultEmbedWorkers, "goroutines of await-embedded")
	fs.DurationVar(&a.callTimeout, "call-timeout", 0, "call deadline")
	fs.StringVar(&a.store, "store", StoreMemory, "object store")
	fs.StringVar(&a.data, "data", "", "parent directory of a bolt store")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &a, nil
}

// ChildMain runs a child process with args and returns its exit code. It
// writes events to stdout (see package load) and returns after the runner
// closes its standard input.
//
// With CALLDELAY_PROFILE set to a path prefix, the child writes a CPU
// profile to PREFIX-ROW.cpu, an execution trace to PREFIX-ROW.trace and an
// allocation profile to PREFIX-ROW.alloc, where ROW names the row (see
// profileName). CALLDELAY_NO_TRACE=1 leaves the trace out.
func ChildMain(args []string, stdout io.Writer) int {
	em := load.NewEmitter(stdout)
	a, err := parseChildArgs(args)
	if err == nil {
		var stop func()
		if stop, err = startProfiles(os.Getenv(ProfileEnv), a); err == nil {
			err = runChild(a, em)
			stop()
		}
	}
	if err != nil {
		em.Emit(load.Event{Type: load.EventFailed, Error: err.Error()})
		return 1
	}
	return 0
}

func runChild(a *childArgs, em *load.Emitter) error {
	wasm, err := os.ReadFile(a.wasm)
	if err != nil {
		return err
	}
	switch a.mode {
	case ModeCtn, ModeAwaitWS:
		return serveChild(a, wasm, em)
	case ModeAwaitEmbedded:
		return embeddedChild(a, wasm, em)
	case ModeFloor:
		return floorChild(a, wasm, em)
	}
	return fmt.Errorf("mode %q does not run in this binary", a.mode)
}

func newRuntime(a *childArgs, wasm []byte) (*runtime.Runtime, error) {
	ctx := context.Background()
	// Every instance a class may have is created at load, so that no row
	// times the creation of an instance (several ms) on first demand.
	procs := goruntime.GOMAXPROCS(0)
	opts := runtime.Options{
		CacheDir:        a.cache,
		Uninterruptible: a.engine == EngineUninterruptible,
		CallTimeout:     a.callTimeout,
		MaxInstances:    procs,
		WarmInstances:   procs,
	}
	switch a.store {
	case StoreMemory:
		opts.Store = store.NewMemory()
	case StoreBolt:
		dir, err := os.MkdirTemp(a.data, "bolt-")
		if err != nil {
			return nil, err
		}
		a.boltDir = dir
		opts.DataDir = dir // the runtime opens its default store, bbolt, there
	default:
		return nil, fmt.Errorf("unknown store %q: use %s or %s", a.store, StoreMemory, StoreBolt)
	}
	rt, err := runtime.New(ctx, opts)
	if err != nil {
		return nil, err
	}
	for _, class := range []string{classController, classTarget} {
		if err := rt.Load(ctx, class, wasm); err != nil {
			return nil, errors.Join(err, rt.Shutdown(ctx))
		}
	}
	return rt, nil
}

// serveChild serves the runtime over WebSocket on a loopback port until the
// runner closes standard input.
func serveChild(a *childArgs, wasm []byte, em *load.Emitter) error {
	rt, err := newRuntime(a, wasm)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return errors.Join(err, rt.Shutdown(context.Background()))
	}
	srv := server.New(rt, server.Options{MaxInFlight: a.window, CallTimeout: a.callTimeout})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	em.Emit(load.Event{Type: load.EventReady, URL: "ws://" + ln.Addr().String() + "/ws"})
	load.AwaitRelease()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(srv.Shutdown(ctx), hs.Shutdown(ctx), rt.Shutdown(ctx), a.removeData())
}

// targetOf returns the target of operation i.
func targetOf(i int, fanout bool) callhost.Address {
	if fanout {
		return callhost.Object(classTarget, "t"+strconv.Itoa(i))
	}
	return callhost.Object(classTarget, "t")
}

// checkDouble returns the outcome of operation i as load.Counter counts it.
func checkDouble(i int, res callhost.Result, err error) error {
	if err != nil {
		return err
	}
	var v int
	if err := res.Decode(&v); err != nil || v != 2*i {
		return load.ErrInvalid
	}
	return nil
}

// embeddedChild runs the operations with runtime.Call on a.workers
// goroutines, each with one call in flight.
func embeddedChild(a *childArgs, wasm []byte, em *load.Emitter) error {
	rt, err := newRuntime(a, wasm)
	if err != nil {
		return err
	}
	ctx := context.Background()
	sum := load.Run(a.ops, a.workers, func(i int) error {
		res, err := rt.Call(ctx, targetOf(i, a.fanout), callhost.Op("double", i))
		return checkDouble(i, res, err)
	}, em.Emit)
	em.Emit(load.Event{Type: load.EventSummary, Summary: sum})
	load.AwaitRelease()
	return errors.Join(rt.Shutdown(ctx), a.removeData())
}

// removeData removes the bolt store's directory, if the child made one.
func (a *childArgs) removeData() error {
	if a.boltDir == "" {
		return nil
	}
	return os.RemoveAll(a.boltDir)
}

// floorChild calls the guest's double handler through host.Instance.Turn on
// one instance: the guest work of one operation with no runtime around it.
func floorChild(a *childArgs, wasm []byte, em *load.Emitter) error {
	ctx := context.Background()
	e, err := host.NewEngine(ctx, host.Config{
		CacheDir: a.cache, Uninterruptible: a.engine == EngineUninterruptible,
	})
	if err != nil {
		return err
	}
	defer e.Close(ctx)
	m, err := e.Compile(ctx, classTarget, wasm)
	if err != nil {
		return err
	}
	p, err := m.NewPool(ctx, host.PoolConfig{Max: 1, Warm: 1})
	if err != nil {
		return err
	}
	inst, err := p.Get(ctx)
	if err != nil {
		return err
	}
	f := newFloor(inst)
	sum := load.Run(a.ops, 1, f.op, em.Emit)
	p.Put(inst)
	em.Emit(load.Event{Type: load.EventSummary, Summary: sum})
	load.AwaitRelease()
	return nil
}

// floor builds the request of each operation as the runtime would and runs
// it on one instance.
type floor struct {
	inst *host.Instance
	req  abi.Request
	buf  []byte
	args []byte
}

func newFloor(inst *host.Instance) *floor {
	caller := callhost.Address{Class: callhost.ClassEmbed, ID: "go"}
	return &floor{inst: inst, req: abi.Request{
		Kind: abi.KindInvoke, Handler: "double", Self: targetOf(0, false),
		Caller: caller, Hops: []callhost.Address{caller},
	}}
}

func (f *floor) op(i int) error {
	f.args = msgp.AppendInt(msgp.AppendArrayHeader(f.args[:0], 1), int64(i))
	f.req.Args, f.req.CallID = f.args, uint64(i)+1
	f.buf = abi.AppendRequest(f.buf[:0], &f.req)
	resp, err := f.inst.Turn(context.Background(), f.buf, nil)
	if err != nil {
		return callhost.AsError(err)
	}
	value, failure, err := abi.DecodeOutcome(resp)
	switch {
	case err != nil:
		return load.ErrInvalid
	case failure != nil:
		return failure
	}
	return checkDouble(i, callhost.Result(value), nil)
}

// startProfiles starts a CPU profile and an execution trace when prefix is
// set, and returns the function that stops both and writes the allocation
// profile.
func startProfiles(prefix string, a *childArgs) (func(), error) {
	if prefix == "" {
		return func() {}, nil
	}
	base := prefix + "-" + profileName(a)
	cpu, err := os.Create(base + ".cpu")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("%s: %w", ProfileEnv, err)
	}
	var tr *os.File
	if os.Getenv(NoTraceEnv) != "1" {
		tr, err = os.Create(base + ".trace")
		if err == nil && trace.Start(tr) != nil {
			tr.Close()
			tr = nil
		}
	}
	return func() {
		pprof.StopCPUProfile()
		cpu.Close()
		if tr != nil {
			trace.Stop()
			tr.Close()
		}
		if f, err := os.Create(base + ".alloc"); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}, nil
}

// profileName names a row's profile files: mode, "fanout" for the fan-out
// variant, operations, engine and, for the bbolt store, "bolt", joined by
// dashes, such as ctn-100000-interruptible or ctn-fanout-1000-uninterruptible.
func profileName(a *childArgs) string {
	parts := []string{string(a.mode)}
	if a.fanout {
		parts = append(parts, "fanout")
	}
	parts = append(parts, strconv.Itoa(a.ops), a.engine)
	if a.store == StoreBolt {
		parts = append(parts, "bolt")
	}
	return strings.Join(parts, "-")
}
