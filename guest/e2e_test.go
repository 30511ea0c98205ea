//go:build !wasip1

package guest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// The end-to-end tests build testdata/sdkguest for wasip1 once per test
// binary, compile it once with wazero, and give each test a fresh instance
// whose imports are served by a importState of the test.

var sdkGuest struct {
	once     sync.Once
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sdkGuest.runtime != nil {
		sdkGuest.runtime.Close(context.Background())
	}
	guesttest.Cleanup()
	os.Exit(code)
}

// loadSDKGuest builds and compiles testdata/sdkguest, or skips the test in
// -short mode.
func loadSDKGuest(tb testing.TB) (wazero.Runtime, wazero.CompiledModule) {
	tb.Helper()
	if testing.Short() {
		tb.Skip("skipping the wasm build of testdata/sdkguest in -short mode")
	}
	wasm := guesttest.Build(tb, "testdata/sdkguest")
	sdkGuest.once.Do(func() { sdkGuest.err = compileSDKGuest(wasm) })
	if sdkGuest.err != nil {
		tb.Fatal(sdkGuest.err)
	}
	return sdkGuest.runtime, sdkGuest.compiled
}

// compileSDKGuest creates the runtime shared by all instances, with WASI and
// the test's host module, and compiles wasm in it.
func compileSDKGuest(wasm []byte) error {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	sdkGuest.runtime = rt
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	if err := instantiateHostModule(ctx, rt); err != nil {
		return fmt.Errorf("instantiate host module: %w", err)
	}
	var err error
	sdkGuest.compiled, err = rt.CompileModule(ctx, wasm)
	return err
}

// importState is the state behind the imports of one guest instance.
type importState struct {
	kv      map[string][]byte
	reject  map[string]bool // kv_put of these keys fails with too_large
	maxPage int             // cap on kv_list pages
	calls   [][]byte
	logs    []logLine
	lastErr []byte
	starts  []string

	alarms    []abi.AlarmEntry // set and not cancelled, in the order set
	envelopes [][]byte         // recorded alarm envelopes
}

type hostKey struct{}

func hostOf(ctx context.Context) *importState { return ctx.Value(hostKey{}).(*importState) }

func read(m api.Module, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(fmt.Sprintf("guest range %d+%d out of memory", ptr, n))
	}
	return bytes.Clone(b)
}

// writeIfFits follows the copy-out protocol.
func writeIfFits(m api.Module, dst, dstCap uint32, out []byte) int64 {
	if len(out) <= int(dstCap) {
		m.Memory().Write(dst, out)
	}
	return int64(len(out))
}

func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	fn := func(name string, f any) { b.NewFunctionBuilder().WithFunc(f).Export(name) }
	fn("call", func(ctx context.Context, m api.Module, ptr, n uint32) int64 {
		h := hostOf(ctx)
		h.calls = append(h.calls, read(m, ptr, n))
		return int64(len(h.calls))
	})
	fn("call_ints", func(ctx context.Context, m api.Module, cp, cn, ip, in, hp, hn, kp, kn,
		ints uint32, args, contArgs int32, placeholders, timeoutMS uint64, flags int32) int64 {
		h := hostOf(ctx)
		h.calls = append(h.calls, abi.AppendIntCall(nil, &abi.IntCall{
			Class: read(m, cp, cn), ID: read(m, ip, in), Handler: read(m, hp, hn),
			ContHandler: read(m, kp, kn), Ints: read(m, ints, uint32(8*(args+contArgs))),
			Args: int(args), ContArgs: int(contArgs), Placeholders: placeholders,
			TimeoutMS: timeoutMS, Flags: uint64(uint32(flags)),
		}))
		return int64(len(h.calls))
	})
	fn("kv_get", func(ctx context.Context, m api.Module, kp, kn, dst, dstCap uint32) int64 {
		v, ok := hostOf(ctx).kv[string(read(m, kp, kn))]
		if !ok {
			return abi.ResultAbsent
		}
		return writeIfFits(m, dst, dstCap, v)
	})
	fn("kv_put", func(ctx context.Context, m api.Module, kp, kn, vp, vn uint32) int32 {
		h, key := hostOf(ctx), string(read(m, kp, kn))
		if h.reject[key] {
			h.lastErr = abi.AppendError(nil, callhost.CodeTooLarge, "value of "+key+" too large")
			return abi.ResultFailed
		}
		h.kv[key] = read(m, vp, vn)
		return 0
	})
	fn("kv_delete", func(ctx context.Context, m api.Module, kp, kn uint32) int32 {
		delete(hostOf(ctx).kv, string(read(m, kp, kn)))
		return 0
	})
	fn("kv_list", func(ctx context.Context, m api.Module, pp, pn, sp, sn uint32, limit int32,
		dst, dstCap uint32) int64 {
		page := hostOf(ctx).list(string(read(m, pp, pn)), string(read(m, sp, sn)), int(limit))
		return writeIfFits(m, dst, dstCap, page)
	})
	fn("last_error", func(ctx context.Context, m api.Module, dst, dstCap uint32) int32 {
		return int32(writeIfFits(m, dst, dstCap, hostOf(ctx).lastErr))
	})
	fn("log", func(ctx context.Context, m api.Module, level int32, p, n uint32) {
		h := hostOf(ctx)
		h.logs = append(h.logs, logLine{level: level, msg: string(read(m, p, n))})
	})
	addAlarmImports(fn)
	_, err := b.Instantiate(ctx)
	return err
}

// addAlarmImports adds alarm_set, alarm_cancel and alarm_list, with alarm ids
// counting from 1.
func addAlarmImports(fn func(name string, f any)) {
	fn("alarm_set", func(ctx context.Context, m api.Module, p, n uint32) int64 {
		h, env := hostOf(ctx), read(m, p, n)
		var a abi.Alarm
		if err := abi.DecodeAlarm(env, &a); err != nil {
			h.lastErr = abi.AppendError(nil, callhost.CodeBadRequest, err.Error())
			return abi.ResultFailed
		}
		h.envelopes = append(h.envelopes, env)
		id := uint64(len(h.envelopes))
		h.alarms = append(h.alarms, abi.AlarmEntry{ID: id, At: a.At, Handler: a.Handler})
		return int64(id)
	})
	fn("alarm_cancel", func(ctx context.Context, id uint64) int32 {
		h := hostOf(ctx)
		for i, a := range h.alarms {
			if a.ID == id {
				h.alarms = append(h.alarms[:i], h.alarms[i+1:]...)
				return 1
			}
		}
		return 0
	})
	fn("alarm_list", func(ctx context.Context, m api.Module, dst, dstCap uint32) int64 {
		alarms := append([]abi.AlarmEntry(nil), hostOf(ctx).alarms...)
		sort.Slice(alarms, func(i, j int) bool { return alarms[i].At < alarms[j].At })
		return writeIfFits(m, dst, dstCap, abi.AppendAlarmList(nil, alarms))
	})
}

func (h *importState) list(prefix, start string, limit int) []byte {
	h.starts = append(h.starts, start)
	if limit <= 0 {
		limit = 1000
	}
	if h.maxPage > 0 {
		limit = min(limit, h.maxPage)
	}
	var keys []string
	for k := range h.kv {
		if strings.HasPrefix(k, prefix) && k >= start {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = keys[:min(len(keys), limit)]
	out := msgp.AppendArrayHeader(nil, len(keys))
	for _, k := range keys {
		out = msgp.AppendArrayHeader(out, 2)
		out = msgp.AppendBytes(out, []byte(k))
		out = msgp.AppendBytes(out, h.kv[k])
	}
	return out
}

// guestInstance is one instance of sdkguest.
type guestInstance struct {
	tb     testing.TB
	ctx    context.Context
	host   *importState
	mod    api.Module
	buffer api.Function
	turnFn api.Function
	stderr *bytes.Buffer
}

func newGuestInstance(tb testing.TB) *guestInstance {
	tb.Helper()
	rt, compiled := loadSDKGuest(tb)
	host := &importState{kv: map[string][]byte{}, reject: map[string]bool{}}
	g := &guestInstance{
		tb:     tb,
		ctx:    context.WithValue(context.Background(), hostKey{}, host),
		host:   host,
		stderr: &bytes.Buffer{},
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions(abi.ExportInit).
		WithStderr(g.stderr).WithSysWalltime()
	mod, err := rt.InstantiateModule(g.ctx, compiled, cfg)
	if err != nil {
		tb.Fatalf("instantiate sdkguest: %v", err)
	}
	tb.Cleanup(func() { mod.Close(context.Background()) })
	g.mod = mod
	g.buffer = mod.ExportedFunction(abi.ExportBuffer)
	g.turnFn = mod.ExportedFunction(abi.ExportTurn)
	version, err := mod.ExportedFunction(abi.ExportVersion).Call(g.ctx)
	if err != nil || version[0] != abi.Version {
		tb.Fatalf("%s() = %v, %v, want %d", abi.ExportVersion, version, err, abi.Version)
	}
	return g
}

// turnBytes writes req to the guest's input buffer and runs a turn.
func (g *guestInstance) turnBytes(req []byte) ([]byte, error) {
	ptr, err := g.buffer.Call(g.ctx, uint64(len(req)))
	if err != nil {
		return nil, err
	}
	if !g.mod.Memory().Write(uint32(ptr[0]), req) {
		g.tb.Fatalf("input buffer at %d too small for %d bytes", ptr[0], len(req))
	}
	res, err := g.turnFn.Call(g.ctx, uint64(len(req)))
	if err != nil {
		return nil, err
	}
	return read(g.mod, uint32(res[0]>>32), uint32(res[0])), nil
}

func (g *guestInstance) turn(q *abi.Request) ([]byte, *callhost.Error) {
	g.tb.Helper()
	out, err := g.turnBytes(abi.AppendRequest(nil, q))
	if err != nil {
		g.tb.Fatalf("turn %s: %v\nguest stderr:\n%s", q.Handler, err, g.stderr)
	}
	value, failed, err := abi.DecodeOutcome(out)
	if err != nil {
		g.tb.Fatalf("decode response % x: %v", out, err)
	}
	return value, failed
}

func (g *guestInstance) invoke(handler string, args ...any) []byte {
	g.tb.Helper()
	value, failed := g.turn(request(abi.KindInvoke, handler, args...))
	if failed != nil {
		g.tb.Fatalf("invoke %s%v: %v", handler, args, failed)
	}
	return value
}

func (g *guestInstance) invokeErr(handler string, args ...any) *callhost.Error {
	g.tb.Helper()
	_, failed := g.turn(request(abi.KindInvoke, handler, args...))
	if failed == nil {
		g.tb.Fatalf("invoke %s%v succeeded, want an error", handler, args)
	}
	return failed
}

func TestGuestDescribe(t *testing.T) {
	g := newGuestInstance(t)
	value, failed := g.turn(&abi.Request{Kind: abi.KindDescribe, Self: testObject})
	if failed != nil {
		t.Fatalf("describe: %v", failed)
	}
	table, err := abi.DecodeDescribe(value)
	if err != nil {
		t.Fatalf("decode describe table: %v", err)
	}
	exposed := map[string]bool{}
	for _, h := range table {
		exposed[h.Name] = h.Exposed
	}
	for name, want := range map[string]bool{"echo": true, "start": true, "secret": false,
		"done": false} {
		got, ok := exposed[name]
		if !ok || got != want {
			t.Errorf("describe row %q: present %v, exposed %v, want exposed %v", name, ok,
				got, want)
		}
	}
}

func TestGuestMainDoesNotRun(t *testing.T) {
	g := newGuestInstance(t)
	if decodeAs[bool](t, g.invoke("mainRan")) {
		t.Errorf("main.main ran during _initialize; update the package doc")
	}
}

func TestGuestInvoke(t *testing.T) {
	g := newGuestInstance(t)
	if got := decodeAs[int](t, g.invoke("echo", -1<<40)); got != -1<<40 {
		t.Errorf("echo = %d", got)
	}
	if got := decodeAs[string](t, g.invoke("concat", "wasm", "guest")); got != "wasmguest" {
		t.Errorf("concat = %q", got)
	}
	if got := decodeAs[int](t, g.invoke("sum4", 1, 2, 3, 4)); got != 10 {
		t.Errorf("sum4 = %d", got)
	}
	big := strings.Repeat("x", 100_000) // larger than the initial input buffer
	if got := decodeAs[string](t, g.invoke("concat", big, "!")); got != big+"!" {
		t.Errorf("concat of a %d-byte string returned %d bytes", len(big), len(got))
	}
}

func TestGuestErrorCodes(t *testing.T) {
	g := newGuestInstance(t)
	cases := []struct {
		handler string
		args    []any
		code    callhost.Code
		msg     string
	}{
		{"nope", nil, callhost.CodeNotFound, `handler "nope" not found in class "counter"`},
		{"secret", []any{1}, callhost.CodeNotExposed, `handler "secret" of class "counter"`},
		{"echo", []any{1, 2}, callhost.CodeBadRequest, `handler "echo" takes 1 arguments, got 2`},
		{"echo", []any{"x"}, callhost.CodeBadRequest,
			`handler "echo": argument 0: decode into int: `},
		{"fail", []any{1001, "sold out"}, callhost.CodeApplication + 1, "sold out"},
		{"plainfail", nil, callhost.CodeGuestError, "plain failure"},
	}
	for _, tc := range cases {
		failed := g.invokeErr(tc.handler, tc.args...)
		if failed.Code != tc.code {
			t.Errorf("%s%v: code = %v, want %v", tc.handler, tc.args, failed.Code, tc.code)
		}
		if !strings.HasPrefix(failed.Message, tc.msg) {
			t.Errorf("%s%v: message = %q, want prefix %q", tc.handler, tc.args,
				failed.Message, tc.msg)
		}
	}
}

func TestGuestStorage(t *testing.T) {
	g := newGuestInstance(t)
	g.host.maxPage = 2
	for _, k := range []string{"u/c", "u/a", "u/e", "u/b", "u/d", "v/a"} {
		g.invoke("put", k, "v"+k[2:])
	}
	if got := decodeAs[*string](t, g.invoke("get", "u/c")); got == nil || *got != "vc" {
		t.Errorf("get(u/c) = %v, want vc", got)
	}
	keys := decodeAs[[]string](t, g.invoke("keys", "u/"))
	if fmt.Sprint(keys) != "[u/a=va u/b=vb u/c=vc u/d=vd u/e=ve]" {
		t.Errorf("keys(u/) = %v", keys)
	}
	if len(g.host.starts) != 4 {
		t.Errorf("kv_list called with starts %q, want 3 pages and an empty one",
			g.host.starts)
	}
	g.invoke("del", "u/c")
	if got := decodeAs[*string](t, g.invoke("get", "u/c")); got != nil {
		t.Errorf("get(u/c) after del = %q, want nil", *got)
	}

	g.invoke("storeItem", "pen", 3)
	if got := decodeAs[map[string]any](t, g.invoke("loadItem", "pen")); fmt.Sprint(got) !=
		"map[Count:3 Name:pen]" {
		t.Errorf("loadItem(pen) = %v", got)
	}
	failed := g.invokeErr("loadItem", "ink")
	if failed.Code != callhost.CodeApplication || failed.Message != `item "ink" not found` {
		t.Errorf("loadItem(ink) = %v, want application error: item \"ink\" not found", failed)
	}

	g.host.reject["big"] = true
	failed = g.invokeErr("put", "big", "v")
	if failed.Code != callhost.CodeTooLarge || failed.Message != "value of big too large" {
		t.Errorf("put(big) = %v, want too_large: value of big too large", failed)
	}
}

func TestGuestRequestInfo(t *testing.T) {
	g := newGuestInstance(t)
	q := request(abi.KindInvoke, "info")
	q.Hops = []callhost.Address{callhost.Object("@client", "k7")}
	value, failed := g.turn(q)
	if failed != nil {
		t.Fatalf("info: %v", failed)
	}
	got := fmt.Sprint(decodeAs[map[string]any](t, value))
	want := "map[CallID:42 Caller:@client/k7 Continuation:false HasCaller:true " +
		"Hops:[@client/k7] Self:counter/c1]"
	if got != want {
		t.Errorf("info = %s, want %s", got, want)
	}
}

func TestGuestContinuation(t *testing.T) {
	g := newGuestInstance(t)
	id := decodeAs[uint64](t, g.invoke("start", "p1", 5))
	if id != 1 {
		t.Errorf("start returned call id %d, want 1", id)
	}
	if len(g.host.calls) != 1 {
		t.Fatalf("host recorded %d calls, want 1", len(g.host.calls))
	}
	var call abi.Call
	if err := abi.DecodeCall(g.host.calls[0], &call); err != nil {
		t.Fatalf("decode call envelope: %v", err)
	}
	if call.Target != callhost.Object("peer", "p1") || call.TimeoutMS != 2000 {
		t.Errorf("call to %v with timeout %d ms, want peer/p1 and 2000 ms", call.Target,
			call.TimeoutMS)
	}
	steps := decodeSteps(t, call.Steps)
	if fmt.Sprint(steps) != "[{double 91 05} {inc 91 c7 00 03}]" {
		t.Errorf("steps = %v, want double([5]) then inc([Prev])", steps)
	}
	if call.ContHandler != "done" {
		t.Errorf("continuation handler = %q, want done", call.ContHandler)
	}

	run := func(outcome []byte) ([]byte, *callhost.Error) {
		args, err := abi.FillPlaceholders(nil, call.ContArgs, outcome)
		if err != nil {
			t.Fatalf("fill placeholders: %v", err)
		}
		q := request(abi.KindContinuation, "done")
		q.Args, q.Caller, q.CallID = args, call.Target, id
		return g.turn(q)
	}
	value, failed := run(abi.AppendOK(nil, msgp.AppendInt(nil, 11)))
	if failed != nil {
		t.Fatalf("continuation with a success outcome: %v", failed)
	}
	if got := decodeAs[string](t, value); got != "lbl:11:1:true" {
		t.Errorf("done = %q, want lbl:11:1:true", got)
	}
	_, failed = run(abi.AppendError(nil, callhost.CodeTimeout, "no answer"))
	if failed == nil || failed.Code != callhost.CodeApplication+1 ||
		failed.Message != "lbl: timeout: no answer" {
		t.Errorf("continuation with a timeout outcome = %v, want 1001 lbl: timeout: no answer",
			failed)
	}
}

func TestGuestSendAndForward(t *testing.T) {
	g := newGuestInstance(t)
	g.invoke("send", "p2")
	g.invoke("forward", "p3")
	var send, forward abi.Call
	if len(g.host.calls) != 2 {
		t.Fatalf("host recorded %d calls, want 2", len(g.host.calls))
	}
	if err := abi.DecodeCall(g.host.calls[0], &send); err != nil {
		t.Fatal(err)
	}
	if err := abi.DecodeCall(g.host.calls[1], &forward); err != nil {
		t.Fatal(err)
	}
	if send.HasCont || send.Flags != 0 || send.Target.ID != "p2" {
		t.Errorf("send envelope = %+v, want fire-and-forget to p2", send)
	}
	if forward.HasCont || forward.Flags != abi.FlagForward || forward.Target.ID != "p3" {
		t.Errorf("forward envelope = %+v, want forward flag to p3", forward)
	}
}

func TestGuestAlarms(t *testing.T) {
	g := newGuestInstance(t)
	if id := decodeAs[uint64](t, g.invoke("remindAt", 1_700_000_000_000, "a")); id != 1 {
		t.Errorf("remindAt returned alarm id %d, want 1", id)
	}
	before := time.Now().Add(time.Minute).UnixMilli()
	if id := decodeAs[uint64](t, g.invoke("remindAfter", 60_000, "b")); id != 2 {
		t.Errorf("remindAfter returned alarm id %d, want 2", id)
	}
	after := time.Now().Add(time.Minute).UnixMilli() + 1
	var b abi.Alarm
	if err := abi.DecodeAlarm(g.host.envelopes[1], &b); err != nil {
		t.Fatalf("decode alarm envelope: %v", err)
	}
	if b.At < before || b.At > after || b.Handler != "ring" {
		t.Errorf("alarm at %d ms for %q, want ring between %d and %d", b.At, b.Handler,
			before, after)
	}
	want := fmt.Sprintf("[1@1700000000000:ring 2@%d:ring]", b.At)
	if got := fmt.Sprint(decodeAs[[]string](t, g.invoke("alarms"))); got != want {
		t.Errorf("alarms = %s, want %s", got, want)
	}
	if !decodeAs[bool](t, g.invoke("cancelAlarm", 1)) {
		t.Errorf("cancelAlarm(1) = false, want true")
	}
	if decodeAs[bool](t, g.invoke("cancelAlarm", 1)) {
		t.Errorf("cancelAlarm(1) again = true, want false")
	}

	q := request(abi.KindAlarm, "ring")
	q.Args, q.Caller, q.CallID = b.Args, callhost.Address{}, 2
	value, failed := g.turn(q)
	if failed != nil {
		t.Fatalf("alarm turn: %v", failed)
	}
	wantRing := "b id=2 alarm=true continuation=false caller=false hops=0"
	if got := decodeAs[string](t, value); got != wantRing {
		t.Errorf("ring = %q, want %q", got, wantRing)
	}
}

func TestGuestAlarmRejected(t *testing.T) {
	g := newGuestInstance(t)
	for mistake, code := range map[string]callhost.Code{
		"placeholder": callhost.CodeBadRequest,
		"other":       callhost.CodeForbidden,
	} {
		if failed := g.invokeErr("remindWrong", mistake); failed.Code != code {
			t.Errorf("remindWrong(%s) = %v, want code %v", mistake, failed, code)
		}
	}
	if len(g.host.envelopes) != 0 {
		t.Errorf("host received %d alarm envelopes, want none", len(g.host.envelopes))
	}
}

func TestGuestLogging(t *testing.T) {
	g := newGuestInstance(t)
	g.invoke("log", "hello")
	want := []logLine{
		{-4, "hello object=counter/c1 n=1"},
		{0, "hello object=counter/c1 n=2"},
		{4, "hello object=counter/c1 n=3"},
		{8, "hello object=counter/c1 g.n=4"},
	}
	if fmt.Sprint(g.host.logs) != fmt.Sprint(want) {
		t.Errorf("log lines = %q, want %q", g.host.logs, want)
	}
}

func TestGuestPanicTraps(t *testing.T) {
	g := newGuestInstance(t)
	_, err := g.turnBytes(abi.AppendRequest(nil, request(abi.KindInvoke, "panic")))
	if err == nil {
		t.Fatalf("panicking handler returned a response, want a trap")
	}
	if !strings.Contains(g.stderr.String(), "boom from sdkguest") {
		t.Errorf("guest stderr = %q, want the panic message", g.stderr)
	}
}

// BenchmarkGuestEcho measures one invoke turn of echo(int) through wazero:
// the host writes the request, calls callhost_turn and copies the response
// out. guest-allocs/op is the guest runtime's malloc count per turn.
func BenchmarkGuestEcho(b *testing.B) {
	g := newGuestInstance(b)
	req := abi.AppendRequest(nil, request(abi.KindInvoke, "echo", 123456))
	ptr, err := g.buffer.Call(g.ctx, uint64(len(req)))
	if err != nil {
		b.Fatal(err)
	}
	mem := g.mod.Memory()
	stack := make([]uint64, 1)
	out := make([]byte, 0, 64)
	before := decodeAs[uint64](b, g.invoke("mallocs"))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		mem.Write(uint32(ptr[0]), req)
		stack[0] = uint64(len(req))
		if err := g.turnFn.CallWithStack(g.ctx, stack); err != nil {
			b.Fatal(err)
		}
		res, _ := mem.Read(uint32(stack[0]>>32), uint32(stack[0]))
		out = append(out[:0], res...)
	}
	b.StopTimer()
	if v := decodeAs[int](b, out[2:]); v != 123456 {
		b.Fatalf("echo returned %d", v)
	}
	after := decodeAs[uint64](b, g.invoke("mallocs"))
	b.ReportMetric(float64(after-before)/float64(b.N), "guest-allocs/op")
}
