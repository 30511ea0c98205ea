//go:build !wasip1

package guest

import (
	"encoding/binary"
	"sort"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// fakeHost implements hostImports in memory, with the raw results and the
// copy-out protocol of docs/abi.md.
type fakeHost struct {
	kv       map[string][]byte
	failPut  map[string]*callhost.Error // kv_put of these keys fails
	failCall *callhost.Error            // when set, call fails
	lastErr  []byte                     // encoded error value for last_error
	calls    [][]byte                   // recorded call envelopes
	intCalls int                        // calls made with call_ints
	logs     []logLine
	maxPage  int      // cap on kv_list pages; 0 means none
	starts   []string // start keys kv_list received
	gets     int      // kv_get calls

	alarms     []fakeAlarm     // alarms set and not cancelled
	envelopes  [][]byte        // recorded alarm envelopes
	lastAlarm  int64           // id of the last alarm set
	failAlarms *callhost.Error // when set, every alarm import fails
}

// fakeAlarm is an alarm the fake host holds.
type fakeAlarm struct {
	abi.AlarmEntry
	args []byte
}

type logLine struct {
	level int32
	msg   string
}

func newFakeHost() *fakeHost {
	return &fakeHost{kv: map[string][]byte{}, failPut: map[string]*callhost.Error{}}
}

func (h *fakeHost) fail(e *callhost.Error) int32 {
	h.lastErr = abi.AppendError(nil, e.Code, e.Message)
	return abi.ResultFailed
}

func (h *fakeHost) call(envelope []byte) int64 {
	if h.failCall != nil {
		return int64(h.fail(h.failCall))
	}
	h.calls = append(h.calls, append([]byte(nil), envelope...))
	return int64(100 + len(h.calls))
}

// callInts records the envelope the host encodes for a call_ints call.
func (h *fakeHost) callInts(class, id, handler, cont string, ints []int64, args, contArgs int32,
	placeholders, timeoutMS uint64, flags int32) int64 {
	raw := make([]byte, 0, 8*len(ints))
	for _, v := range ints {
		raw = binary.LittleEndian.AppendUint64(raw, uint64(v))
	}
	h.intCalls++
	return h.call(abi.AppendIntCall(nil, &abi.IntCall{
		Class: []byte(class), ID: []byte(id), Handler: []byte(handler), ContHandler: []byte(cont),
		Ints: raw, Args: int(args), ContArgs: int(contArgs), Placeholders: placeholders,
		TimeoutMS: timeoutMS, Flags: uint64(uint32(flags)),
	}))
}

func (h *fakeHost) kvGet(key string, dst []byte) int64 {
	h.gets++
	v, ok := h.kv[key]
	if !ok {
		return abi.ResultAbsent
	}
	return copyIfFits(dst, v)
}

func copyIfFits(dst, out []byte) int64 {
	if len(out) <= len(dst) {
		copy(dst, out)
	}
	return int64(len(out))
}

func (h *fakeHost) kvAdd(key string, delta int64, sum *int64) int32 {
	if e := h.failPut[key]; e != nil {
		return h.fail(e)
	}
	var n int64
	if v, ok := h.kv[key]; ok {
		r := msgp.NewReader(v)
		var err error
		if n, err = r.ReadInt(); err != nil {
			return h.fail(callhost.Errorf(callhost.CodeBadRequest, "not an integer: %v", err))
		}
	}
	*sum = n + delta
	h.kv[key] = msgp.AppendInt(nil, *sum)
	return 0
}

func (h *fakeHost) kvPut(key string, value []byte) int32 {
	if e := h.failPut[key]; e != nil {
		return h.fail(e)
	}
	h.kv[key] = append([]byte(nil), value...)
	return 0
}

func (h *fakeHost) kvDelete(key string) int32 {
	delete(h.kv, key)
	return 0
}

func (h *fakeHost) kvList(prefix string, start []byte, limit int32, dst []byte) int64 {
	h.starts = append(h.starts, string(start))
	if limit <= 0 {
		limit = 1000
	}
	if h.maxPage > 0 && int(limit) > h.maxPage {
		limit = int32(h.maxPage)
	}
	var keys []string
	for k := range h.kv {
		if strings.HasPrefix(k, prefix) && k >= string(start) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = keys[:min(len(keys), int(limit))]
	out := msgp.AppendArrayHeader(nil, len(keys))
	for _, k := range keys {
		out = msgp.AppendArrayHeader(out, 2)
		out = msgp.AppendBytes(out, []byte(k))
		out = msgp.AppendBytes(out, h.kv[k])
	}
	return copyIfFits(dst, out)
}

func (h *fakeHost) lastError(dst []byte) int32 { return int32(copyIfFits(dst, h.lastErr)) }

func (h *fakeHost) log(level int32, msg []byte) {
	h.logs = append(h.logs, logLine{level: level, msg: string(msg)})
}

// alarmSet records an alarm. Ids start at 201, so they differ from call ids.
func (h *fakeHost) alarmSet(envelope []byte) int64 {
	if h.failAlarms != nil {
		return int64(h.fail(h.failAlarms))
	}
	var a abi.Alarm
	if err := abi.DecodeAlarm(envelope, &a); err != nil {
		return int64(h.fail(badRequest("alarm envelope: %v", err)))
	}
	h.envelopes = append(h.envelopes, append([]byte(nil), envelope...))
	if h.lastAlarm == 0 {
		h.lastAlarm = 200
	}
	h.lastAlarm++
	entry := abi.AlarmEntry{ID: uint64(h.lastAlarm), At: a.At, Handler: a.Handler}
	h.alarms = append(h.alarms, fakeAlarm{AlarmEntry: entry, args: a.Args})
	return h.lastAlarm
}

func (h *fakeHost) alarmCancel(id uint64) int32 {
	if h.failAlarms != nil {
		return h.fail(h.failAlarms)
	}
	for i, a := range h.alarms {
		if a.ID == id {
			h.alarms = append(h.alarms[:i], h.alarms[i+1:]...)
			return 1
		}
	}
	return 0
}

// alarmList lists the alarms earliest first, and by id among equal times.
func (h *fakeHost) alarmList(dst []byte) int64 {
	if h.failAlarms != nil {
		return int64(h.fail(h.failAlarms))
	}
	entries := make([]abi.AlarmEntry, len(h.alarms))
	for i, a := range h.alarms {
		entries[i] = a.AlarmEntry
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].At != entries[j].At {
			return entries[i].At < entries[j].At
		}
		return entries[i].ID < entries[j].ID
	})
	return copyIfFits(dst, abi.AppendAlarmList(nil, entries))
}

// testObject is the object every test request runs on.
var testObject = callhost.Object("counter", "c1")

// harness drives a dispatcher with its own registry and a fake host.
type harness struct {
	t    *testing.T
	reg  *registry
	host *fakeHost
	d    *dispatcher
}

func newHarness(t *testing.T) *harness {
	reg := &registry{}
	host := newFakeHost()
	return &harness{t: t, reg: reg, host: host, d: newDispatcher(reg, host)}
}

// request encodes a request envelope for handler with args.
func request(kind int, handler string, args ...any) *abi.Request {
	if args == nil {
		args = []any{}
	}
	enc, err := msgp.Append(nil, args)
	if err != nil {
		panic(err)
	}
	return &abi.Request{
		Kind:    kind,
		Handler: handler,
		Args:    enc,
		Self:    testObject,
		Caller:  callhost.Object("@client", "k7"),
		CallID:  42,
	}
}

// turn runs q and returns the response's value or error.
func (h *harness) turn(q *abi.Request) ([]byte, *callhost.Error) {
	h.t.Helper()
	out := h.d.turn(abi.AppendRequest(nil, q))
	value, failed, err := abi.DecodeOutcome(out)
	if err != nil {
		h.t.Fatalf("decode response % x: %v", out, err)
	}
	return append([]byte(nil), value...), failed
}

// invoke runs an invoke request and fails the test unless it succeeds.
func (h *harness) invoke(handler string, args ...any) []byte {
	h.t.Helper()
	value, failed := h.turn(request(abi.KindInvoke, handler, args...))
	if failed != nil {
		h.t.Fatalf("invoke %s%v: %v", handler, args, failed)
	}
	return value
}

// invokeErr runs an invoke request and returns its error, failing the test
// if it succeeds.
func (h *harness) invokeErr(handler string, args ...any) *callhost.Error {
	h.t.Helper()
	_, failed := h.turn(request(abi.KindInvoke, handler, args...))
	if failed == nil {
		h.t.Fatalf("invoke %s%v succeeded, want an error", handler, args)
	}
	return failed
}

func decodeAs[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := msgp.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode % x into %T: %v", b, v, err)
	}
	return v
}
