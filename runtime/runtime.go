package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/host"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/store"
)

// Runtime runs objects of the classes loaded into it.
type Runtime struct {
	opts     Options
	log      *slog.Logger
	warns    *logLimit // repeated warnings caused by guests and callers
	store    store.Store
	ownStore bool // the runtime opened the store and closes it
	durable  bool // the store keeps messages and pending calls
	engine   *host.Engine
	limits   abi.Limits            // nesting and chain limits of operations
	rules    map[string]*classRule // compiled Options.CallRules; nil when none

	mu      sync.RWMutex
	classes map[string]*class
	peers   map[string]Peer
	parked  map[string][]*message // recovered messages of classes not loaded yet

	alarms alarmScheduler

	objects objectTable
	runq    scheduler
	pending pendingTable
	wheel   *deadlineWheel
	// callBufs recycles the call buffers that runs take from their turns
	// (see runEffects.takeCalls).
	callBufs sync.Pool

	nextID  atomic.Uint64
	queued  atomic.Int64 // calls accepted and not yet started, host-wide
	active  atomic.Int64 // messages queued or running
	closing atomic.Bool
	late    atomic.Int64 // outcomes that arrived after their call completed

	ctx      context.Context // canceled when the workers stop
	cancel   context.CancelFunc
	workers  sync.WaitGroup
	shutdown sync.Once
}

// class is a loaded guest module with its instance pool.
type class struct {
	name   string
	module *host.Module
	pool   *host.Pool
	rule   *classRule   // which classes its objects may call; nil allows all
	queued atomic.Int64 // calls accepted and not yet started on objects of the class
	health *classHealth
	sched  classQueue // guarded by Runtime.runq
	// labels carries the profiler label class=<name>, which a worker sets
	// while it runs the class's objects, so that CPU profiles split the
	// workers' time, wasm included, by class.
	labels context.Context
}

// New starts a runtime with no classes loaded. Call [Runtime.Shutdown] to stop
// it.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	opts = opts.withDefaults()
	rules, err := compileRules(opts.CallRules)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	st, own, err := openStore(opts)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	if limit := store.BoltMaxKeySize(callhost.MaxClassNameSize, opts.MaxIDSize); own &&
		opts.MaxKeySize > limit {
		st.Close()
		return nil, fmt.Errorf("runtime: MaxKeySize %d is too large for the bbolt store, "+
			"which stores keys of at most %d bytes for objects with the longest class name "+
			"and an id of MaxIDSize %d bytes: lower MaxKeySize or MaxIDSize", opts.MaxKeySize,
			limit, opts.MaxIDSize)
	}
	engine, err := host.NewEngine(ctx, host.Config{
		CacheDir:         opts.CacheDir,
		MemoryLimitPages: opts.MemoryLimitPages,
		TurnTimeout:      opts.TurnTimeout,
		Uninterruptible:  opts.Uninterruptible,
		Logger:           opts.Logger,
	})
	if err != nil {
		if own {
			st.Close()
		}
		return nil, fmt.Errorf("runtime: %w", err)
	}
	rt := &Runtime{
		opts:     opts,
		log:      opts.Logger,
		warns:    newLogLimit(opts.Logger, 100),
		store:    st,
		ownStore: own,
		durable:  st.Durable(),
		engine:   engine,
		limits:   abi.Limits{MaxDepth: opts.MaxDepth, MaxSteps: opts.MaxSteps},
		rules:    rules,
		classes:  make(map[string]*class),
		peers:    make(map[string]Peer),
		parked:   make(map[string][]*message),
	}
	if rt.opts.MaxBatch <= 0 {
		rt.opts.MaxBatch = DefaultBatch
		if rt.durable {
			rt.opts.MaxBatch = DefaultDurableBatch
		}
	}
	rt.objects.init()
	rt.runq.init(rt.opts.TurnTimeout)
	rt.pending.init()
	rt.alarms.init()
	rt.ctx, rt.cancel = context.WithCancel(context.Background())
	rt.wheel = newDeadlineWheel(10*time.Millisecond, rt.expire)
	if err := rt.recover(ctx); err != nil {
		rt.cancel()
		engine.Close(ctx)
		if own {
			st.Close()
		}
		return nil, fmt.Errorf("runtime: recover: %w", err)
	}
	rt.startWorkers()
	return rt, nil
}

func openStore(opts Options) (store.Store, bool, error) {
	if opts.Store != nil {
		return opts.Store, false, nil
	}
	st, err := store.OpenBolt(opts.DataDir, store.BoltOptions{Sync: opts.Sync, Logger: opts.Logger})
	if errors.Is(err, store.ErrLocked) {
		dir := opts.DataDir
		if abs, absErr := filepath.Abs(dir); absErr == nil {
			dir = abs
		}
		return nil, false, fmt.Errorf("%w (%s): stop the other process or set "+
			"Options.DataDir to another directory", store.ErrLocked, dir)
	}
	if err != nil {
		return nil, false, err
	}
	return st, true, nil
}

func (rt *Runtime) startWorkers() {
	rt.workers.Add(rt.opts.Workers + 2)
	for i := 0; i < rt.opts.Workers; i++ {
		go func() {
			defer rt.workers.Done()
			rt.work()
		}()
	}
	go func() {
		defer rt.workers.Done()
		rt.wheel.run(rt.ctx)
	}()
	go func() {
		defer rt.workers.Done()
		rt.alarms.run(rt)
	}()
}

// Load compiles wasm as the class name and makes its objects callable. The
// module must implement the guest ABI (docs/abi.md).
func (rt *Runtime) Load(ctx context.Context, name string, wasm []byte) error {
	if !callhost.ValidClassName(name) {
		return callhost.Errorf(callhost.CodeBadRequest,
			"invalid class name %q: use 1-128 letters, digits, '_', '-' or '.'", name)
	}
	if rt.closing.Load() {
		return callhost.Errorf(callhost.CodeUnavailable, "runtime is shutting down")
	}

	rt.mu.RLock()
	_, exists := rt.classes[name]
	rt.mu.RUnlock()
	if exists {
		return fmt.Errorf("load class %q: already loaded", name)
	}

	mod, err := rt.engine.Compile(ctx, name, wasm)
	if err != nil {
		return fmt.Errorf("load class %q: %w", name, err)
	}
	pool, err := mod.NewPool(ctx, host.PoolConfig{
		Max:  rt.opts.MaxInstances,
		Warm: rt.opts.WarmInstances,
	})
	if err != nil {
		return fmt.Errorf("load class %q: %w", name, err)
	}

	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, exists := rt.classes[name]; exists {
		_ = pool.Close(ctx)
		return fmt.Errorf("load class %q: already loaded", name)
	}
	c := &class{name: name, module: mod, pool: pool, rule: rt.ruleFor(name),
		health: newClassHealth(name, &rt.opts, rt.log),
		labels: pprof.WithLabels(context.Background(), pprof.Labels("class", name))}
	rt.classes[name] = c
	parked := rt.parked[name]
	delete(rt.parked, name)
	rt.log.Info("class loaded", "class", name, "handlers", len(mod.Handlers()),
		"recovered_messages", len(parked))
	for _, msg := range parked {
		rt.enqueueRecovered(msg.to, c, msg)
	}
	return nil
}

// LoadDir loads every *.wasm file in dir as a class named after the file
// without its extension, and returns the names it loaded, sorted.
func (rt *Runtime) LoadDir(ctx context.Context, dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	var names []string
	for _, p := range paths {
		wasm, err := os.ReadFile(p)
		if err != nil {
			return names, err
		}
		name := strings.TrimSuffix(filepath.Base(p), ".wasm")
		if err := rt.Load(ctx, name, wasm); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

// Classes returns the names of the loaded classes, sorted.
func (rt *Runtime) Classes() []string {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	names := make([]string, 0, len(rt.classes))
	for n := range rt.classes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (rt *Runtime) class(name string) *class {
	rt.mu.RLock()
	c := rt.classes[name]
	rt.mu.RUnlock()
	return c
}

// Shutdown stops accepting calls from outside the runtime and waits until every
// queued and running turn has finished. Turns may still make calls among
// objects while it waits. Then it stops the workers, fails every call still
// pending with callhost.CodeUnavailable and releases the instances. If ctx ends
// first, the remaining queued turns are dropped, and Shutdown returns ctx's
// error after releasing everything.
func (rt *Runtime) Shutdown(ctx context.Context) error {
	var err error
	rt.shutdown.Do(func() { err = rt.stop(ctx) })
	return err
}

func (rt *Runtime) stop(ctx context.Context) error {
	rt.closing.Store(true)
	waitErr := rt.drain(ctx)
	rt.cancel()
	rt.runq.close()
	rt.workers.Wait()

	dropped := rt.objects.clear()
	failed := rt.pending.failAll(rt, callhost.Errorf(callhost.CodeUnavailable,
		"runtime shut down before the call completed"))
	if dropped > 0 || failed > 0 {
		rt.log.Warn("shutdown dropped work", "queued_messages", dropped, "pending_calls", failed)
	}
	rt.mu.Lock()
	classes := rt.classes
	rt.classes = map[string]*class{}
	rt.mu.Unlock()
	var errs []error
	for _, c := range classes {
		errs = append(errs, c.pool.Close(context.Background()))
	}
	errs = append(errs, rt.engine.Close(context.Background()))
	if rt.ownStore {
		errs = append(errs, rt.store.Close())
	}
	rt.log.Info("runtime stopped")
	return errors.Join(append([]error{waitErr}, errs...)...)
}

func (rt *Runtime) drain(ctx context.Context) error {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for rt.active.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("runtime: drain: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
