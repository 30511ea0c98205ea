package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost/internal/preempt"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

const (
	minInputBuffer  = 4 << 10 // the input buffer size requested at instantiation
	maxInputGrowth  = 1 << 20 // the most requested beyond a request's size
	keepResponseCap = 1 << 20 // a response buffer beyond this shrinks when mostly unused
)

// Instance is one instantiation of a [Module]: a guest linear memory and the
// state of the guest's language runtime. Instances come from a [Pool].
//
// An Instance is not safe for concurrent use: only the goroutine that got it
// from [Pool.Get] may call its methods, until it gives it back with [Pool.Put].
type Instance struct {
	mod    *Module
	wd     *watchdog
	wm     api.Module
	mem    api.Memory
	fnBuf  api.Function
	fnTurn api.Function
	stack  [1]uint64
	tctx   turnCtx

	inAddr, inCap uint32
	resp          []byte

	imports importState
	stderr  capture

	broken atomic.Bool
	busy   atomic.Bool // inside Turn
	pool   *Pool
	out    atomic.Bool // handed out by pool

	// interrupt is the global that the module's inserted checks read. Setting
	// it to 1 makes the guest trap within one fuel period of checks (see
	// package preempt). It is nil when the engine is uninterruptible.
	interrupt api.MutableGlobal

	// Turn state shared with the watchdog.
	wmu       sync.Mutex
	active    bool
	start     time.Duration   // since the watchdog's epoch
	watchDone <-chan struct{} // Done of the context passed to Turn
	stop      stopReason
	stopped   atomic.Bool // the watchdog set interrupt
}

// newInstance instantiates the module and runs its _initialize export.
func (m *Module) newInstance(ctx context.Context) (*Instance, error) {
	e := m.e
	i := &Instance{mod: m, wd: e.wd}
	i.tctx.inst = i
	i.tctx.parent = context.Background()
	i.imports.reset()
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStderr(&i.stderr).
		WithSysNanotime().
		WithSysWalltime().
		WithNanosleep(i.sleep).
		WithRandSource(rand.Reader)
	wm, err := e.rt.InstantiateModule(withMemoryAllocator(ctx), m.compiled, cfg)
	if err != nil {
		return nil, &callError{module: m.name, call: "instantiation", err: err}
	}
	i.wm, i.mem = wm, wm.Memory()
	i.fnBuf = wm.ExportedFunction(exportBuffer)
	i.fnTurn = wm.ExportedFunction(exportTurn)
	if !e.cfg.Uninterruptible {
		g, ok := wm.ExportedGlobal(preempt.ExportName).(api.MutableGlobal)
		if !ok {
			_ = wm.Close(ctx)
			return nil, &callError{module: m.name, call: "instantiation", err: fmt.Errorf(
				"the instance lacks the mutable global %q that compilation inserts",
				preempt.ExportName)}
		}
		i.interrupt = g
	}
	e.wd.add(i)
	if err := i.initialize(ctx); err != nil {
		i.close(ctx)
		return nil, err
	}
	return i, nil
}

func (i *Instance) initialize(ctx context.Context) error {
	i.stderr.reset()
	// The rewrite turned the module's start section, if any, into this
	// export, so that the watchdog can stop it like any other call.
	if start := i.wm.ExportedFunction(preempt.StartExportName); start != nil {
		if err := i.call(ctx, start); err != nil {
			return i.callError("the start function", err)
		}
	}
	if i.mod.hasInit {
		if err := i.call(ctx, i.wm.ExportedFunction(exportInit)); err != nil {
			return i.callError(exportInit, err)
		}
	}
	if err := i.ensureInput(ctx, minInputBuffer); err != nil {
		return i.callError(exportBuffer, err)
	}
	return nil
}

func (i *Instance) callError(call string, err error) error {
	return &callError{module: i.mod.name, call: call, timeout: i.mod.e.cfg.TurnTimeout, err: err}
}

// close releases the instance's memory. It may be called more than once.
func (i *Instance) close(ctx context.Context) {
	i.broken.Store(true)
	i.wd.remove(i)
	_ = i.wm.Close(ctx) // nothing to flush: a failed close leaves nothing to act on
}

// Broken reports whether a turn failed in a way that leaves the guest unusable:
// a trap, a deadline, a canceled turn. A broken instance is already closed; give
// it back to its pool, which frees its slot.
func (i *Instance) Broken() bool { return i.broken.Load() }

// Module returns the module the instance runs.
func (i *Instance) Module() *Module { return i.mod }

// Turn runs one request through the guest's callhost_turn export and returns the
// response envelope. The response is owned by the instance and valid until the
// next Turn. During the turn the guest's host imports go to fx; a nil fx rejects
// them all.
//
// Turn returns a [*TrapError] if the guest trapped, an error wrapping
// [ErrTurnDeadline] if the turn ran past [Config.TurnTimeout], and ctx's error if
// ctx was done while it ran. Each of them leaves the instance broken. When the
// engine is interruptible, a done ctx stops the guest within a watchdog tick.
// Neither the deadline nor ctx interrupts a host import that blocks. Turn panics
// when called on an instance that is already in a turn.
func (i *Instance) Turn(ctx context.Context, req []byte, fx Effects) ([]byte, error) {
	if !i.busy.CompareAndSwap(false, true) {
		panic("host: concurrent Turn on one Instance")
	}
	defer i.busy.Store(false)
	if i.broken.Load() {
		return nil, &turnError{module: i.mod.name,
			detail: "did not run: an earlier turn broke the instance", err: ErrBroken}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	i.stderr.reset()
	if err := i.writeRequest(ctx, req); err != nil {
		return nil, err
	}
	i.imports.begin(fx)
	i.stack[0] = uint64(len(req))
	err := i.call(ctx, i.fnTurn)
	i.imports.end()
	if err != nil {
		return nil, err
	}
	return i.copyResponse(ctx, i.stack[0])
}

// writeRequest puts req into the guest's input buffer, growing it first if needed.
func (i *Instance) writeRequest(ctx context.Context, req []byte) error {
	if len(req) > math.MaxUint32 {
		return fmt.Errorf("host: request of %d bytes exceeds 32-bit guest memory", len(req))
	}
	if err := i.ensureInput(ctx, uint32(len(req))); err != nil {
		return err
	}
	if !i.mem.Write(i.inAddr, req) {
		return i.abiError(ctx, fmt.Sprintf("callhost_buffer returned %#x, and %d bytes there "+
			"are outside memory (%d bytes)", i.inAddr, len(req), i.mem.Size()))
	}
	return nil
}

// ensureInput calls callhost_buffer for an input buffer of at least n bytes,
// unless the cached one is large enough.
func (i *Instance) ensureInput(ctx context.Context, n uint32) error {
	if n <= i.inCap {
		return nil
	}
	want := max(n, minInputBuffer)
	if grown := uint64(i.inCap) * 2; grown > uint64(want) && grown-uint64(n) <= maxInputGrowth {
		want = uint32(grown)
	}
	i.stack[0] = uint64(want)
	if err := i.call(ctx, i.fnBuf); err != nil {
		return err
	}
	i.inAddr, i.inCap = uint32(i.stack[0]), want
	return nil
}

// copyResponse copies the response that callhost_turn described by ret.
func (i *Instance) copyResponse(ctx context.Context, ret uint64) ([]byte, error) {
	addr, n := uint32(ret>>32), uint32(ret)
	view, ok := i.mem.Read(addr, n)
	if !ok {
		return nil, i.abiError(ctx, fmt.Sprintf("callhost_turn returned a response of %d "+
			"bytes at %#x, outside memory (%d bytes)", n, addr, i.mem.Size()))
	}
	if cap(i.resp) > keepResponseCap && len(view) < cap(i.resp)/4 {
		i.resp = nil
	}
	i.resp = append(i.resp[:0], view...)
	return i.resp, nil
}

// call runs one export with the instance's stack under the watchdog. Any failure
// breaks and closes the instance.
func (i *Instance) call(ctx context.Context, fn api.Function) error {
	i.watch(ctx)
	i.tctx.parent = ctx
	err := fn.CallWithStack(&i.tctx, i.stack[:])
	i.tctx.parent = context.Background()
	stop := i.unwatch()
	if stop == stopNone && err == nil {
		return nil
	}
	return i.fail(ctx, stop, err)
}

// fail breaks the instance and returns the error for how its call ended.
func (i *Instance) fail(ctx context.Context, stop stopReason, err error) error {
	i.close(ctx)
	name := i.mod.name
	switch stop {
	case stopDeadline:
		i.mod.e.log.Debug("host: instance discarded", "module", name, "reason", "deadline")
		return &turnError{module: name, err: ErrTurnDeadline, detail: fmt.Sprintf(
			"ran past its deadline of %v (Config.TurnTimeout)", i.mod.e.cfg.TurnTimeout)}
	case stopClosed:
		return &turnError{module: name, detail: "was stopped because the engine closed",
			err: ErrClosed}
	case stopCanceled:
		cause := ctx.Err()
		if cause == nil {
			cause = context.Canceled
		}
		return &turnError{module: name, detail: "was stopped: " + cause.Error(), err: cause}
	}
	i.mod.e.log.Debug("host: instance discarded", "module", name, "reason", "trap")
	return i.trapError(err)
}

func (i *Instance) trapError(err error) *TrapError {
	msg := strings.TrimSpace(i.stderr.String())
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && msg == "":
		msg = fmt.Sprintf("guest exited with code %d", exit.ExitCode())
	case msg == "" && err != nil:
		msg = err.Error()
	}
	return &TrapError{Module: i.mod.name, Message: msg, Err: err}
}

// abiError breaks the instance for a guest that broke the ABI.
func (i *Instance) abiError(ctx context.Context, msg string) error {
	i.close(ctx)
	return &TrapError{Module: i.mod.name, Message: msg}
}

// watch marks the start of a call for the watchdog.
func (i *Instance) watch(ctx context.Context) {
	i.wmu.Lock()
	i.active = true
	i.start = i.wd.since()
	i.watchDone = ctx.Done()
	i.wmu.Unlock()
}

// unwatch marks the end of the call and returns the watchdog's verdict on it.
func (i *Instance) unwatch() stopReason {
	i.wmu.Lock()
	i.active = false
	i.watchDone = nil
	r := i.stop
	i.wmu.Unlock()
	return r
}

// check runs on the watchdog at time now. It returns the reason for which it
// stopped the running call, or stopNone when it did not stop it now.
func (i *Instance) check(now, limit time.Duration, interruptible bool) stopReason {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if !i.active || i.stop != stopNone {
		return stopNone
	}
	switch {
	case now-i.start > limit:
		i.stopLocked(stopDeadline, interruptible)
	case interruptible && isDone(i.watchDone):
		i.stopLocked(stopCanceled, interruptible)
	default:
		return stopNone
	}
	return i.stop
}

// stopForClose stops the running call, if any, because the engine closes.
func (i *Instance) stopForClose(interruptible bool) {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	if i.active && i.stop == stopNone {
		i.stopLocked(stopClosed, interruptible)
	}
}

// stopLocked records why the running call stops and, when the engine is
// interruptible, sets the interrupt global. The caller holds i.wmu.
func (i *Instance) stopLocked(r stopReason, interruptible bool) {
	i.stop = r
	if interruptible {
		i.stopped.Store(true)
		i.interrupt.Set(1)
	}
}

// isActive reports whether the instance is in an export call.
func (i *Instance) isActive() bool {
	i.wmu.Lock()
	defer i.wmu.Unlock()
	return i.active
}

func isDone(c <-chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// turnCtx is the context of every export call on one instance, allocated with the
// instance. Host imports find their instance in it. It is never done: the
// watchdog stops a guest through its interrupt global, not through the context,
// so that wazero needs no goroutine per call. Err reports a stopped turn to host
// imports that check it. Values come from the context passed to Turn.
type turnCtx struct {
	inst   *Instance
	parent context.Context
}

func (c *turnCtx) Deadline() (time.Time, bool) { return c.parent.Deadline() }
func (c *turnCtx) Done() <-chan struct{}       { return nil }
func (c *turnCtx) Value(key any) any           { return c.parent.Value(key) }

func (c *turnCtx) Err() error {
	if c.inst.stopped.Load() {
		return context.DeadlineExceeded
	}
	return nil
}
