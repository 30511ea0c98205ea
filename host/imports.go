package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// DefaultListLimit is the page size kv_list uses when the guest passes limit <= 0.
const DefaultListLimit = 1000

// importModule is the name of the module the guest ABI's imports come from.
const importModule = "callhost"

// Results of imports, as the docs/abi.md contract spells them.
const (
	rcAbsent = -1
	rcError  = -2
)

// Effects receives the host imports a guest makes during one turn. The runtime
// implements it. Byte slices passed in alias guest memory and are valid only
// during the method call: copy what you keep.
//
// An error an Effects method returns reaches the guest through the last_error
// import as [code, message]: the code is that of the first error in its chain
// with an ErrorCode() int method, or 12 (internal). A method that panics fails
// the turn as a [*TrapError].
type Effects interface {
	// Call records an outgoing call envelope (imports call and call_ints) and
	// returns its id.
	Call(envelope []byte) (callID uint64, err error)
	// Get reads a key (import kv_get). The host may keep value until the turn ends.
	Get(key []byte) (value []byte, ok bool, err error)
	// Put stages a write (import kv_put).
	Put(key, value []byte) error
	// Delete stages a deletion (import kv_delete).
	Delete(key []byte) error
	// Add adds delta to the integer stored under key, an absent key counting
	// as 0, stages a write of the sum and returns it (import kv_add).
	Add(key []byte, delta int64) (int64, error)
	// List appends to dst the MessagePack array of [key bin, value bin] pairs
	// whose keys start with prefix and are >= start, at most limit of them
	// (import kv_list). The host passes limit > 0.
	List(prefix, start []byte, limit int, dst []byte) ([]byte, error)
	// Log writes a guest message (import log). The host passes every message
	// whole, so size and volume limits are the implementation's.
	Log(level slog.Level, msg []byte)
	// SetAlarm stages the alarm of an alarm envelope (import alarm_set) and
	// returns its id, which is at least 1.
	SetAlarm(envelope []byte) (alarmID uint64, err error)
	// CancelAlarm stages the cancellation of an alarm of the current object
	// (import alarm_cancel) and reports whether such an alarm existed.
	CancelAlarm(alarmID uint64) (existed bool, err error)
	// ListAlarms appends to dst the MessagePack array of [id uint, at int,
	// handler str] of the object's alarms, earliest first, including the
	// turn's staged changes (import alarm_list).
	ListAlarms(dst []byte) ([]byte, error)
}

// outputOp names an import whose output did not fit the guest's buffer.
type outputOp uint8

const (
	opNone outputOp = iota
	opGet
	opList
	opAlarms
)

// importState is an instance's per-turn state for its host imports. All buffers
// are reused from turn to turn.
type importState struct {
	fx      Effects
	lastErr []byte // encoded [code, message] of the last failed import, or empty

	// The output of the last kv_get, kv_list or alarm_list whose result did not
	// fit the guest's buffer, kept so that the guest's retry does not run it again.
	pending    outputOp
	pendingIn  []byte // the key, or the prefix followed by start
	pendingCut int    // length of the prefix in pendingIn
	pendingLim int
	pendingOut []byte // a Get value (owned by fx); List and ListAlarms output is in listBuf
	listBuf    []byte
	envelope   []byte // the envelope call_ints encodes

	// checked is fx when it stages calls decoded by the host, else nil.
	// view and chk are the call_ints call passed to it. They live in the
	// heap, so that passing them allocates nothing.
	checked checkedCaller
	view    abi.CallView
	chk     abi.CallChecks
}

// checkedCaller is an Effects that stages a call the host has decoded and
// checked already, so that the call_ints import does not decode the envelope
// it has just encoded. The runtime implements it. c and chk are what
// abi.AppendIntCallView gives, and the slices of c alias envelope.
type checkedCaller interface {
	CallChecked(envelope []byte, c *abi.CallView, chk *abi.CallChecks) (callID uint64, err error)
}

func (s *importState) begin(fx Effects) {
	if fx == nil {
		fx = noEffects{}
	}
	s.fx = fx
	s.checked, _ = fx.(checkedCaller)
	s.lastErr = s.lastErr[:0]
	s.pending = opNone
}

// end drops the turn's Effects and everything that aliases its memory.
func (s *importState) end() { s.reset() }

func (s *importState) reset() {
	s.fx, s.checked = noEffects{}, nil
	s.pending = opNone
	s.pendingOut = nil
}

func (s *importState) setError(code int, msg string) {
	b := msgp.AppendArrayHeader(s.lastErr[:0], 2)
	b = msgp.AppendInt(b, int64(code))
	s.lastErr = msgp.AppendString(b, msg)
}

// fromEffects sets last_error to err of import op. The message leaves out the
// code when err reports it apart, since the error value carries the code.
func (s *importState) fromEffects(op string, err error) {
	msg := err.Error()
	if m, ok := err.(interface{ ErrorMessage() string }); ok {
		msg = m.ErrorMessage()
	}
	s.setError(errorCode(err), op+": "+msg)
}

// errOutsideTurn is the error of imports made outside callhost_turn, for example
// during _initialize or describe.
var errOutsideTurn = errors.New("callhost imports are only available during a turn")

// noEffects rejects every import. It serves calls made outside a turn.
type noEffects struct{}

func (noEffects) Call([]byte) (uint64, error)      { return 0, errOutsideTurn }
func (noEffects) Get([]byte) ([]byte, bool, error) { return nil, false, errOutsideTurn }
func (noEffects) Put(_, _ []byte) error            { return errOutsideTurn }
func (noEffects) Delete([]byte) error              { return errOutsideTurn }
func (noEffects) Add([]byte, int64) (int64, error) { return 0, errOutsideTurn }
func (noEffects) Log(slog.Level, []byte)           {}
func (noEffects) List(_, _ []byte, _ int, dst []byte) ([]byte, error) {
	return dst, errOutsideTurn
}
func (noEffects) SetAlarm([]byte) (uint64, error)       { return 0, errOutsideTurn }
func (noEffects) CancelAlarm(uint64) (bool, error)      { return false, errOutsideTurn }
func (noEffects) ListAlarms(dst []byte) ([]byte, error) { return dst, errOutsideTurn }

// hostModule defines the imports of docs/abi.md.
func hostModule(rt wazero.Runtime) wazero.HostModuleBuilder {
	b := rt.NewHostModuleBuilder(importModule)
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	def := func(name string, fn api.GoModuleFunc, params []api.ValueType, result ...api.ValueType) {
		b.NewFunctionBuilder().WithGoModuleFunction(fn, params, result).Export(name)
	}
	def("call", importCall, []api.ValueType{i32, i32}, i64)
	def("call_ints", importCallInts,
		[]api.ValueType{i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i64, i64, i32}, i64)
	def("kv_get", importKVGet, []api.ValueType{i32, i32, i32, i32}, i64)
	def("kv_put", importKVPut, []api.ValueType{i32, i32, i32, i32}, i32)
	def("kv_delete", importKVDelete, []api.ValueType{i32, i32}, i32)
	def("kv_add", importKVAdd, []api.ValueType{i32, i32, i64, i32}, i32)
	def("kv_list", importKVList, []api.ValueType{i32, i32, i32, i32, i32, i32, i32}, i64)
	def("last_error", importLastError, []api.ValueType{i32, i32}, i32)
	def("log", importLog, []api.ValueType{i32, i32, i32})
	def("alarm_set", importAlarmSet, []api.ValueType{i32, i32}, i64)
	def("alarm_cancel", importAlarmCancel, []api.ValueType{i64}, i32)
	def("alarm_list", importAlarmList, []api.ValueType{i32, i32}, i64)
	return b
}

// instanceOf returns the instance whose export call ctx belongs to. Export calls
// always get the instance's turnCtx, so nil means a call the host did not make.
func instanceOf(ctx context.Context) *Instance {
	if c, ok := ctx.(*turnCtx); ok {
		return c.inst
	}
	return nil
}

// read returns the guest memory range at stack values ptr and n, or sets last_error
// to bad_request and reports false.
func (i *Instance) read(op, field string, ptr, n uint64) ([]byte, bool) {
	b, ok := i.mem.Read(api.DecodeU32(ptr), api.DecodeU32(n))
	if !ok {
		i.badRange(op, field, ptr, n)
	}
	return b, ok
}

func (i *Instance) badRange(op, field string, ptr, n uint64) {
	i.imports.setError(codeBadRequest, fmt.Sprintf("%s: %s of %d bytes at %#x is outside "+
		"guest memory (%d bytes)", op, field, api.DecodeU32(n), api.DecodeU32(ptr), i.mem.Size()))
}

// copyOut writes out to dst when it fits in dstCap bytes, and returns the result
// for the guest: len(out), or rcError when dst is outside memory.
func (i *Instance) copyOut(op string, out []byte, dst, dstCap uint64) int64 {
	if len(out) == 0 || uint64(len(out)) > uint64(api.DecodeU32(dstCap)) {
		return int64(len(out))
	}
	if !i.mem.Write(api.DecodeU32(dst), out) {
		i.badRange(op, "dst", dst, uint64(len(out)))
		return rcError
	}
	return int64(len(out))
}

func setI32(stack []uint64, v int32) { stack[0] = api.EncodeI32(v) }
func setI64(stack []uint64, v int64) { stack[0] = api.EncodeI64(v) }

func importCall(ctx context.Context, _ api.Module, stack []uint64) {
	importEnvelope(ctx, stack, "call", Effects.Call)
}

// importEnvelope runs an import that passes one envelope to fx and returns
// the id fx hands back: call and alarm_set.
func importEnvelope(ctx context.Context, stack []uint64, name string,
	fx func(Effects, []byte) (uint64, error)) {
	i := instanceOf(ctx)
	if i == nil {
		setI64(stack, rcError)
		return
	}
	i.imports.pending = opNone
	env, ok := i.read(name, "envelope", stack[0], stack[1])
	if !ok {
		setI64(stack, rcError)
		return
	}
	id, err := fx(i.imports.fx, env)
	if err != nil {
		i.imports.fromEffects(name, err)
		setI64(stack, rcError)
		return
	}
	setI64(stack, int64(id))
}

// importCallInts runs call_ints: it encodes the call envelope of its
// arguments and records it as the call import would. Its parameters are the
// target's class, its id, the step's handler and the continuation's handler
// as (ptr, len) pairs, then the ints' address, the two argument counts, the
// placeholder mask, the timeout and the flags.
func importCallInts(ctx context.Context, _ api.Module, stack []uint64) {
	const name = "call_ints"
	i := instanceOf(ctx)
	if i == nil {
		setI64(stack, rcError)
		return
	}
	i.imports.pending = opNone

	args, contArgs := api.DecodeI32(stack[9]), api.DecodeI32(stack[10])
	c := abi.IntCall{Args: int(args), ContArgs: int(contArgs), Placeholders: stack[11],
		TimeoutMS: stack[12], Flags: uint64(api.DecodeU32(stack[13]))}
	if msg := checkIntCallCounts(args, contArgs, c.Placeholders); msg != "" {
		i.imports.setError(codeBadRequest, name+": "+msg)
		setI64(stack, rcError)
		return
	}

	// Each read sets last_error when it fails, and the later ones are skipped.
	var ok bool
	c.Class, ok = i.read(name, "class", stack[0], stack[1])
	if ok {
		c.ID, ok = i.read(name, "id", stack[2], stack[3])
	}
	if ok {
		c.Handler, ok = i.read(name, "handler", stack[4], stack[5])
	}
	if ok {
		c.ContHandler, ok = i.read(name, "continuation handler", stack[6], stack[7])
	}
	if ok {
		c.Ints, ok = i.read(name, "ints", stack[8], uint64(8*(args+contArgs)))
	}
	if !ok {
		setI64(stack, rcError)
		return
	}

	if n := len(c.Class) + len(c.ID) + len(c.Handler) + len(c.ContHandler); n > abi.MaxIntCallStrings {
		i.imports.setError(codeTooLarge, fmt.Sprintf("%s: strings of %d bytes, over %d; "+
			"make the call with the call import", name, n, abi.MaxIntCallStrings))
		setI64(stack, rcError)
		return
	}
	if len(c.ContHandler) == 0 && (contArgs > 0 || c.Placeholders != 0) {
		i.imports.setError(codeBadRequest, name+": continuation arguments without a "+
			"continuation handler")
		setI64(stack, rcError)
		return
	}

	s := &i.imports
	var id uint64
	var err error
	if s.checked != nil {
		s.envelope = abi.AppendIntCallView(s.envelope[:0], &c, &s.view, &s.chk)
		id, err = s.checked.CallChecked(s.envelope, &s.view, &s.chk)
	} else {
		s.envelope = abi.AppendIntCall(s.envelope[:0], &c)
		id, err = s.fx.Call(s.envelope)
	}
	if err != nil {
		// The envelope failed the checks that call makes, so the error reads
		// as that import's.
		i.imports.fromEffects("call", err)
		setI64(stack, rcError)
		return
	}
	setI64(stack, int64(id))
}

// checkIntCallCounts returns why the argument counts and placeholder mask of
// call_ints are invalid, or "" when they are valid.
func checkIntCallCounts(args, contArgs int32, placeholders uint64) string {
	switch {
	case args < 0 || args > abi.MaxIntArgs || contArgs < 0 || contArgs > abi.MaxIntArgs:
		return fmt.Sprintf("%d step and %d continuation arguments; each count must be 0 to %d",
			args, contArgs, abi.MaxIntArgs)
	case contArgs < 64 && placeholders>>contArgs != 0:
		return fmt.Sprintf("placeholder mask %#x marks arguments past the continuation's %d",
			placeholders, contArgs)
	}
	return ""
}

func importKVGet(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI64(stack, rcError)
		return
	}
	setI64(stack, i.kvGet(stack[0], stack[1], stack[2], stack[3]))
}

func (i *Instance) kvGet(keyPtr, keyLen, dst, dstCap uint64) int64 {
	s := &i.imports
	key, ok := i.read("kv_get", "key", keyPtr, keyLen)
	if !ok {
		s.pending = opNone
		return rcError
	}
	var val []byte
	if s.pending == opGet && bytes.Equal(s.pendingIn, key) {
		val = s.pendingOut
	} else {
		s.pending = opNone
		var found bool
		var err error
		val, found, err = s.fx.Get(key)
		if err != nil {
			s.fromEffects("kv_get", err)
			return rcError
		}
		if !found {
			return rcAbsent
		}
	}
	n := i.copyOut("kv_get", val, dst, dstCap)
	if n > int64(api.DecodeU32(dstCap)) {
		s.pending, s.pendingOut = opGet, val
		s.pendingIn = append(s.pendingIn[:0], key...)
	} else {
		s.pending, s.pendingOut = opNone, nil
	}
	return n
}

func importKVPut(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI32(stack, rcError)
		return
	}
	i.imports.pending = opNone
	key, ok := i.read("kv_put", "key", stack[0], stack[1])
	if !ok {
		setI32(stack, rcError)
		return
	}
	val, ok := i.read("kv_put", "value", stack[2], stack[3])
	if !ok {
		setI32(stack, rcError)
		return
	}
	if err := i.imports.fx.Put(key, val); err != nil {
		i.imports.fromEffects("kv_put", err)
		setI32(stack, rcError)
		return
	}
	setI32(stack, 0)
}

// importKVAdd serves kv_add(key_ptr, key_len, delta, out_ptr): it writes the
// sum to out_ptr as a little-endian i64 and returns 0, or returns -2.
func importKVAdd(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI32(stack, rcError)
		return
	}
	i.imports.pending = opNone
	key, ok := i.read("kv_add", "key", stack[0], stack[1])
	if !ok {
		setI32(stack, rcError)
		return
	}
	// The out range is checked before Add, so that no write is staged
	// when the sum cannot reach the guest.
	if _, ok := i.read("kv_add", "out", stack[3], 8); !ok {
		setI32(stack, rcError)
		return
	}
	sum, err := i.imports.fx.Add(key, int64(stack[2]))
	if err != nil {
		i.imports.fromEffects("kv_add", err)
		setI32(stack, rcError)
		return
	}
	i.mem.WriteUint64Le(api.DecodeU32(stack[3]), uint64(sum))
	setI32(stack, 0)
}

func importKVDelete(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI32(stack, rcError)
		return
	}
	i.imports.pending = opNone
	key, ok := i.read("kv_delete", "key", stack[0], stack[1])
	if !ok {
		setI32(stack, rcError)
		return
	}
	if err := i.imports.fx.Delete(key); err != nil {
		i.imports.fromEffects("kv_delete", err)
		setI32(stack, rcError)
		return
	}
	setI32(stack, 0)
}

func importKVList(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI64(stack, rcError)
		return
	}
	limit := int(api.DecodeI32(stack[4]))
	if limit <= 0 {
		limit = DefaultListLimit
	}
	setI64(stack, i.kvList(stack[0], stack[1], stack[2], stack[3], limit, stack[5], stack[6]))
}

func (i *Instance) kvList(prefixPtr, prefixLen, startPtr, startLen uint64, limit int,
	dst, dstCap uint64) int64 {
	s := &i.imports
	prefix, ok := i.read("kv_list", "prefix", prefixPtr, prefixLen)
	if !ok {
		s.pending = opNone
		return rcError
	}
	start, ok := i.read("kv_list", "start", startPtr, startLen)
	if !ok {
		s.pending = opNone
		return rcError
	}
	if !s.isPendingList(prefix, start, limit) {
		s.pending = opNone
		out, err := s.fx.List(prefix, start, limit, s.listBuf[:0])
		if err != nil {
			s.fromEffects("kv_list", err)
			return rcError
		}
		s.listBuf = out
	}
	n := i.copyOut("kv_list", s.listBuf, dst, dstCap)
	if n > int64(api.DecodeU32(dstCap)) {
		s.pending, s.pendingCut, s.pendingLim = opList, len(prefix), limit
		s.pendingIn = append(append(s.pendingIn[:0], prefix...), start...)
	} else {
		s.pending = opNone
	}
	return n
}

func (s *importState) isPendingList(prefix, start []byte, limit int) bool {
	return s.pending == opList && s.pendingLim == limit && s.pendingCut == len(prefix) &&
		len(s.pendingIn) == len(prefix)+len(start) &&
		bytes.Equal(s.pendingIn[:s.pendingCut], prefix) &&
		bytes.Equal(s.pendingIn[s.pendingCut:], start)
}

func importLastError(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		setI32(stack, rcError)
		return
	}
	out := i.imports.lastErr
	setI32(stack, int32(i.copyOut("last_error", out, stack[0], stack[1])))
}

func importLog(ctx context.Context, _ api.Module, stack []uint64) {
	i := instanceOf(ctx)
	if i == nil {
		return
	}
	msg, ok := i.read("log", "message", stack[1], stack[2])
	if !ok {
		return
	}
	i.imports.fx.Log(slog.Level(api.DecodeI32(stack[0])), msg)
}
