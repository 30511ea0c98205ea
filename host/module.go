package host

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/internal/preempt"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// ABIVersion is the guest ABI version this host implements (docs/abi.md).
const ABIVersion = 1

// Names of the exports of the guest ABI.
const (
	exportMemory  = "memory"
	exportInit    = "_initialize"
	exportVersion = "callhost_abi_version"
	exportBuffer  = "callhost_buffer"
	exportTurn    = "callhost_turn"
)

// Handler is one entry of a module's handler table.
type Handler struct {
	Name string
	// Exposed handlers may be invoked from outside their object; the others only as
	// continuations of the same object.
	Exposed bool
}

// Module is a compiled, checked guest module and its handler table. It is safe
// for concurrent use.
type Module struct {
	e        *Engine
	name     string
	compiled wazero.CompiledModule
	hasInit  bool
	handlers []Handler
	byName   map[string]Handler

	mu     sync.Mutex
	spare  *Instance // the instance that served describe, until a pool takes it
	closed bool
}

// Compile compiles wasm, checks that it implements the guest ABI, instantiates it,
// checks its ABI version and requests its handler table. The instance stays
// with the module and becomes the first instance of its first pool. name
// identifies the module in errors and logs. Errors that are the module's fault
// wrap [ErrBadModule], and so does a panic of the decoder or compiler, which
// Compile recovers.
func (e *Engine) Compile(ctx context.Context, name string, wasm []byte) (*Module, error) {
	if e.isClosed() {
		return nil, ErrClosed
	}
	compiled, err := e.compile(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	m := &Module{e: e, name: name, compiled: compiled}
	if err := m.load(ctx); err != nil {
		return nil, errors.Join(err, compiled.Close(ctx))
	}
	return m, nil
}

// compile checks and instruments wasm, then compiles the instrumented
// module, or wasm unchanged when the engine is uninterruptible.
//
// wazero v1.12.0 panics on some invalid modules instead of returning an
// error. One example is a call to a function whose type index is beyond
// the type section, when the caller comes first in the code section.
// compile recovers such a panic into an error.
//
// NOTE: a ctx that requests for parallel compilation
// (experimental.WithCompilationWorkers) moves compilation to other
// goroutines, where a panic cannot be recovered and ends the process.
func (e *Engine) compile(ctx context.Context, name string, wasm []byte) (
	compiled wazero.CompiledModule, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Warn("host: WebAssembly decoder or compiler panicked, so the module is rejected",
				"module", name, "panic", p, "stack", string(debug.Stack()))
			compiled = nil
			err = &loadError{module: name, bad: true,
				detail: fmt.Sprintf("the WebAssembly decoder or compiler panicked: %v", p)}
		}
	}()
	// Instrument's checks run in both modes: it rejects counts that the
	// module's bytes cannot hold, from which wazero's decoder would size
	// allocations, so a few bytes could make it allocate gigabytes.
	instrumented, err := preempt.Instrument(wasm)
	if err != nil {
		return nil, compileError(name, wasm, "invalid or unsupported WebAssembly", err)
	}
	code := wasm
	if !e.cfg.Uninterruptible {
		code = instrumented
	}
	compiled, err = e.rt.CompileModule(ctx, code)
	if err != nil && e.cache != nil && e.replaceCacheEntry(ctx, name, code, err) {
		compiled, err = e.rt.CompileModule(ctx, code)
	}
	if err != nil {
		step := fmt.Sprintf("compilation with a memory limit of %d pages failed",
			e.cfg.MemoryLimitPages)
		return nil, compileError(name, wasm, step, err)
	}
	return compiled, nil
}

// compileError returns the error of a module that failed to compile in
// step. When the module uses a WebAssembly proposal that the host does not
// support, the message names the proposal first.
func compileError(name string, wasm []byte, step string, err error) error {
	detail := step + ": " + err.Error()
	if feature := unsupportedFeature(wasm, err); feature != "" {
		detail = fmt.Sprintf("it uses %s, which the host does not support: %s", feature, detail)
	}
	return &loadError{module: name, bad: true, detail: detail, err: err}
}

func (m *Module) load(ctx context.Context) error {
	if err := m.checkShape(); err != nil {
		return err
	}
	inst, err := m.newInstance(ctx)
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) {
			return m.callFailed(ce.call, ce.err)
		}
		return m.callFailed("instantiation", err)
	}
	if err := m.describe(ctx, inst); err != nil {
		inst.close(ctx)
		return err
	}
	m.spare = inst
	return nil
}

// callFailed returns the load error for a guest call that ended with err.
// The module is at fault unless the call was stopped by ctx or by Close.
func (m *Module) callFailed(call string, err error) error {
	stopped := errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded)
	return &loadError{module: m.name, bad: !stopped, err: err,
		detail: call + " " + failure(err, m.e.cfg.TurnTimeout)}
}

// checkShape checks the module's exports and imports against the ABI.
func (m *Module) checkShape() error {
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	mems := m.compiled.ExportedMemories()
	mem, ok := mems[exportMemory]
	if !ok {
		return m.badf("does not export its memory as %q", exportMemory)
	}
	if limit := m.e.cfg.MemoryLimitPages; mem.Min() > limit {
		return m.badf("needs %d pages of memory at start, over the limit of %d pages",
			mem.Min(), limit)
	}
	fns := m.compiled.ExportedFunctions()
	for _, want := range []struct {
		name            string
		params, results []api.ValueType
	}{
		{exportVersion, nil, []api.ValueType{i32}},
		{exportBuffer, []api.ValueType{i32}, []api.ValueType{i32}},
		{exportTurn, []api.ValueType{i32}, []api.ValueType{i64}},
	} {
		if err := m.checkExport(fns, want.name, want.params, want.results); err != nil {
			return err
		}
	}
	if _, ok := fns[exportInit]; ok {
		if err := m.checkExport(fns, exportInit, nil, nil); err != nil {
			return err
		}
		m.hasInit = true
	}
	return m.checkImports()
}

func (m *Module) checkExport(fns map[string]api.FunctionDefinition, name string,
	params, results []api.ValueType) error {
	fn, ok := fns[name]
	if !ok {
		return m.badf("does not export function %s%s", name, signature(params, results))
	}
	if !slices.Equal(fn.ParamTypes(), params) || !slices.Equal(fn.ResultTypes(), results) {
		return m.badf("exports %s%s, want %s%s", name,
			signature(fn.ParamTypes(), fn.ResultTypes()), name, signature(params, results))
	}
	return nil
}

func signature(params, results []api.ValueType) string {
	return fmt.Sprintf("(%s) -> (%s)", typeNames(params), typeNames(results))
}

func typeNames(ts []api.ValueType) string {
	s := ""
	for k, t := range ts {
		if k > 0 {
			s += ", "
		}
		s += api.ValueTypeName(t)
	}
	return s
}

// knownImports lists the functions of the callhost module.
var knownImports = map[string]bool{
	"call": true, "call_ints": true, "kv_get": true, "kv_put": true, "kv_delete": true,
	"kv_add": true, "kv_list": true, "last_error": true, "log": true,
	"alarm_set": true, "alarm_cancel": true, "alarm_list": true,
}

func (m *Module) checkImports() error {
	if mems := m.compiled.ImportedMemories(); len(mems) > 0 {
		mod, name, _ := mems[0].Import()
		return m.badf("imports memory %s.%s; a guest must define its own", mod, name)
	}
	for _, fn := range m.compiled.ImportedFunctions() {
		mod, name, _ := fn.Import()
		switch {
		case mod == "wasi_snapshot_preview1":
		case mod == importModule && knownImports[name]:
		default:
			return m.badf("imports function %s.%s, which the host does not provide", mod, name)
		}
	}
	return nil
}

func (m *Module) badf(format string, args ...any) error {
	return &loadError{module: m.name, bad: true, detail: fmt.Sprintf(format, args...)}
}

// describe checks the ABI version of inst and reads the handler table from it.
func (m *Module) describe(ctx context.Context, inst *Instance) error {
	fn := inst.wm.ExportedFunction(exportVersion)
	if err := inst.call(ctx, fn); err != nil {
		return m.callFailed(exportVersion, err)
	}
	if v := api.DecodeI32(inst.stack[0]); v != ABIVersion {
		return m.badf("implements guest ABI version %d, but this host supports only "+
			"version %d: rebuild it against version %d", v, ABIVersion, ABIVersion)
	}
	resp, err := inst.Turn(ctx, describeRequest(m.name), nil)
	if err != nil {
		return m.callFailed("the describe turn", err)
	}
	handlers, err := parseHandlers(resp)
	if err != nil {
		return m.badf("returned an invalid describe response: %v", err)
	}
	m.handlers = handlers
	m.byName = make(map[string]Handler, len(handlers))
	for _, h := range handlers {
		m.byName[h.Name] = h
	}
	return nil
}

// describeRequest returns the request envelope of kind 0 (describe).
func describeRequest(class string) []byte {
	b := msgp.AppendArrayHeader(nil, 7)
	b = msgp.AppendInt(b, 0)         // kind
	b = msgp.AppendString(b, "")     // handler
	b = msgp.AppendArrayHeader(b, 0) // args
	b = msgp.AppendArrayHeader(b, 2) // self
	b = msgp.AppendString(msgp.AppendString(b, class), "")
	b = msgp.AppendNil(b)            // caller
	b = msgp.AppendArrayHeader(b, 0) // hops
	return msgp.AppendUint(b, 0)     // call id
}

// parseHandlers decodes the response to describe: [0, [[name, flags], ...]].
func parseHandlers(resp []byte) ([]Handler, error) {
	r := msgp.NewReader(resp)
	n, err := r.ReadArrayHeader()
	if err != nil || n < 2 {
		return nil, fmt.Errorf("invalid response envelope (%d fields): %v", n, err)
	}
	code, err := r.ReadInt()
	if err != nil {
		return nil, fmt.Errorf("invalid response code: %w", err)
	}
	if code != 0 {
		msg, _ := r.ReadString()
		return nil, fmt.Errorf("describe failed with code %d: %q", code, msg)
	}

	count, err := r.ReadArrayHeader()
	if err != nil {
		return nil, fmt.Errorf("handler table is not an array: %w", err)
	}
	handlers := make([]Handler, 0, count)
	seen := make(map[string]bool, count)
	for k := range count {
		h, err := readHandler(&r)
		if err != nil {
			return nil, fmt.Errorf("invalid handler entry %d: %w", k, err)
		}
		if seen[h.Name] {
			return nil, fmt.Errorf("duplicate handler %q", h.Name)
		}
		seen[h.Name] = true
		handlers = append(handlers, h)
	}
	return handlers, nil
}

func readHandler(r *msgp.Reader) (Handler, error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return Handler{}, err
	}
	if n < 2 {
		return Handler{}, fmt.Errorf("%d fields, want 2", n)
	}
	name, err := r.ReadString()
	if err != nil {
		return Handler{}, err
	}
	if name == "" {
		return Handler{}, errors.New("empty handler name")
	}
	flags, err := r.ReadUint()
	if err != nil {
		return Handler{}, err
	}
	for range n - 2 {
		if err := r.Skip(); err != nil {
			return Handler{}, err
		}
	}
	return Handler{Name: name, Exposed: flags&1 != 0}, nil
}

// Name returns the name the module was compiled under.
func (m *Module) Name() string { return m.name }

// Handlers returns a copy of the module's handler table, in the guest's order.
func (m *Module) Handlers() []Handler { return slices.Clone(m.handlers) }

// Handler looks a handler up by name.
func (m *Module) Handler(name string) (h Handler, ok bool) {
	h, ok = m.byName[name]
	return h, ok
}

// takeSpare hands over the instance made by Compile, if it is still there.
func (m *Module) takeSpare() *Instance {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := m.spare
	m.spare = nil
	return i
}

// Close releases the module's compiled code and its spare instance. Close the
// module's pools first: they cannot create instances afterwards.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	spare := m.spare
	m.spare = nil
	m.mu.Unlock()
	if spare != nil {
		spare.close(ctx)
	}
	return m.compiled.Close(ctx)
}
