package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost/internal/msgp"
	"go.uber.org/goleak"
)

// testDir holds the built test guest and the compilation cache shared by tests.
var testDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callhost-host-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testDir = dir
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

var guest struct {
	once sync.Once
	wasm []byte
	err  error
}

// guestWasm builds testdata/guest once per test binary.
func guestWasm(tb testing.TB) []byte {
	tb.Helper()
	guest.once.Do(func() {
		out := filepath.Join(testDir, "guest.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/guest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if msg, err := cmd.CombinedOutput(); err != nil {
			guest.err = fmt.Errorf("build test guest: %w\n%s", err, msg)
			return
		}
		guest.wasm, guest.err = os.ReadFile(out)
	})
	if guest.err != nil {
		tb.Fatal(guest.err)
	}
	return guest.wasm
}

// newEngine starts an engine that shares the tests' compilation cache and is
// closed when the test ends.
func newEngine(tb testing.TB, cfg Config) *Engine {
	tb.Helper()
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(testDir, "cache")
	}
	e, err := NewEngine(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return e
}

// newGuestPool compiles the test guest and returns a pool of it.
func newGuestPool(tb testing.TB, cfg Config, pc PoolConfig) (*Module, *Pool) {
	tb.Helper()
	e := newEngine(tb, cfg)
	m, err := e.Compile(context.Background(), "guest", guestWasm(tb))
	if err != nil {
		tb.Fatal(err)
	}
	p, err := m.NewPool(context.Background(), pc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return m, p
}

// invoke encodes an invoke request for handler with the given encoded arguments.
func invoke(handler string, args ...func([]byte) []byte) []byte {
	b := msgp.AppendArrayHeader(nil, 7)
	b = msgp.AppendInt(b, 1)
	b = msgp.AppendString(b, handler)
	b = msgp.AppendArrayHeader(b, len(args))
	for _, a := range args {
		b = a(b)
	}
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendString(msgp.AppendString(b, "test"), "1")
	b = msgp.AppendNil(b)
	b = msgp.AppendArrayHeader(b, 0)
	return msgp.AppendUint(b, 7)
}

func argInt(v int64) func([]byte) []byte {
	return func(b []byte) []byte { return msgp.AppendInt(b, v) }
}
func argStr(s string) func([]byte) []byte {
	return func(b []byte) []byte { return msgp.AppendString(b, s) }
}
func argBin(v []byte) func([]byte) []byte {
	return func(b []byte) []byte { return msgp.AppendBytes(b, v) }
}

// decodeResponse splits a response envelope into its code and raw value.
func decodeResponse(tb testing.TB, resp []byte) (int64, []byte) {
	tb.Helper()
	r := msgp.NewReader(resp)
	if n, err := r.ReadArrayHeader(); err != nil || n != 2 {
		tb.Fatalf("response %x: not a 2-array (%d, %v)", resp, n, err)
	}
	code, err := r.ReadInt()
	if err != nil {
		tb.Fatalf("response %x: code: %v", resp, err)
	}
	val, err := r.ReadRaw()
	if err != nil {
		tb.Fatalf("response %x: value: %v", resp, err)
	}
	return code, val
}

// turnOK runs req on a pooled instance and returns the response value, failing
// the test on any error or non-zero code.
func turnOK(tb testing.TB, p *Pool, req []byte, fx Effects) []byte {
	tb.Helper()
	i, err := p.Get(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	defer p.Put(i)
	resp, err := i.Turn(context.Background(), req, fx)
	if err != nil {
		tb.Fatal(err)
	}
	code, val := decodeResponse(tb, resp)
	if code != 0 {
		tb.Fatalf("response code %d, value %x", code, val)
	}
	return bytes.Clone(val)
}

// codedError is an Effects error with a wire code.
type codedError struct {
	code int
	msg  string
}

func (e *codedError) Error() string  { return e.msg }
func (e *codedError) ErrorCode() int { return e.code }

type logRecord struct {
	level slog.Level
	msg   string
}

// testEffects is an in-memory Effects. Keys starting with "fail" make Put fail
// with too_large (9); a key "boom" makes Get fail with a plain error. An alarm
// envelope starting with "fail" makes SetAlarm fail with bad_request (1), and
// CancelAlarm of id 999 fails with a plain error.
type testEffects struct {
	mu      sync.Mutex
	kv      map[string][]byte
	gets    int
	calls   [][]byte
	callErr error // when set, Call fails with it
	logs    []logRecord

	alarms     []testAlarm // in the order set, which is also the order of their times
	lastAlarm  uint64      // id of the last alarm set
	cancels    []uint64    // ids CancelAlarm received
	alarmLists int         // ListAlarms calls
	listErr    error       // when set, ListAlarms fails with it
}

// testAlarm is an alarm set through testEffects. ListAlarms reports it at
// id*1000 ms and with handler "h<id>".
type testAlarm struct {
	id       uint64
	envelope []byte
}

func newTestEffects() *testEffects { return &testEffects{kv: map[string][]byte{}} }

func (f *testEffects) Call(env []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.callErr != nil {
		return 0, f.callErr
	}
	f.calls = append(f.calls, bytes.Clone(env))
	return uint64(len(f.calls)), nil
}

func (f *testEffects) Get(key []byte) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gets++
	if string(key) == "boom" {
		return nil, false, errors.New("storage exploded")
	}
	v, ok := f.kv[string(key)]
	return v, ok, nil
}

func (f *testEffects) Put(key, val []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(string(key), "fail") {
		return &codedError{9, "value too large"}
	}
	f.kv[string(key)] = bytes.Clone(val)
	return nil
}

func (f *testEffects) Delete(key []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.kv, string(key))
	return nil
}

// Add keeps the sum as a MessagePack integer, as the runtime does.
func (f *testEffects) Add(key []byte, delta int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(string(key), "fail") {
		return 0, &codedError{9, "value too large"}
	}
	var n int64
	if v, ok := f.kv[string(key)]; ok {
		r := msgp.NewReader(v)
		var err error
		if n, err = r.ReadInt(); err != nil {
			return 0, err
		}
	}
	f.kv[string(key)] = msgp.AppendInt(nil, n+delta)
	return n + delta, nil
}

func (f *testEffects) List(prefix, start []byte, limit int, dst []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.kv {
		if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	keys = keys[:min(len(keys), limit)]
	dst = msgp.AppendArrayHeader(dst, len(keys))
	for _, k := range keys {
		dst = msgp.AppendBytes(msgp.AppendArrayHeader(dst, 2), []byte(k))
		dst = msgp.AppendBytes(dst, f.kv[k])
	}
	return dst, nil
}

func (f *testEffects) Log(level slog.Level, msg []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, logRecord{level, string(msg)})
}

func (f *testEffects) SetAlarm(env []byte) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if bytes.HasPrefix(env, []byte("fail")) {
		return 0, &codedError{codeBadRequest, "invalid alarm envelope"}
	}
	f.lastAlarm++
	f.alarms = append(f.alarms, testAlarm{id: f.lastAlarm, envelope: bytes.Clone(env)})
	return f.lastAlarm, nil
}

func (f *testEffects) CancelAlarm(id uint64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cancels = append(f.cancels, id)
	if id == 999 {
		return false, errors.New("alarm storage exploded")
	}
	for k, a := range f.alarms {
		if a.id == id {
			f.alarms = append(f.alarms[:k], f.alarms[k+1:]...)
			return true, nil
		}
	}
	return false, nil
}

func (f *testEffects) ListAlarms(dst []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alarmLists++
	if f.listErr != nil {
		return dst, f.listErr
	}
	dst = msgp.AppendArrayHeader(dst, len(f.alarms))
	for _, a := range f.alarms {
		dst = msgp.AppendUint(msgp.AppendArrayHeader(dst, 3), a.id)
		dst = msgp.AppendInt(dst, int64(a.id)*1000)
		dst = msgp.AppendString(dst, fmt.Sprintf("h%d", a.id))
	}
	return dst, nil
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wantTurnError fails t unless err reads `host: module "guest": ` followed
// by detail, with one "host:" prefix.
func wantTurnError(t *testing.T, err error, detail string) {
	t.Helper()
	want := `host: module "guest": ` + detail
	if msg := err.Error(); msg != want {
		t.Errorf("Turn error = %q, want %q", msg, want)
	}
	if n := strings.Count(err.Error(), "host:"); n != 1 {
		t.Errorf("Turn error %q has %d host: prefixes, want 1", err, n)
	}
}
