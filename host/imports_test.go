package host

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

func TestImportsReachEffects(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()

	val := turnOK(t, p, invoke("kv", argBin([]byte("k1")), argBin([]byte("value one"))), fx)
	if r := msgp.NewReader(val); !bytes.Equal(mustBytes(t, &r), []byte("value one")) {
		t.Errorf("kv returned %x", val)
	}
	if string(fx.kv["k1"]) != "value one" {
		t.Errorf("store = %q", fx.kv)
	}
	if fx.gets != 1 {
		t.Errorf("Get ran %d times; the retry with a larger buffer must reuse the value", fx.gets)
	}

	env := []byte{0x95, 0xc0, 0xc0, 0xc0, 0, 0}
	val = turnOK(t, p, invoke("call", argBin(env)), fx)
	if r := msgp.NewReader(val); len(fx.calls) != 1 || !bytes.Equal(fx.calls[0], env) ||
		mustInt(t, &r) != 1 {
		t.Errorf("call returned %x, calls %x", val, fx.calls)
	}

	turnOK(t, p, invoke("log", argInt(int64(slog.LevelWarn)), argStr("hello host")), fx)
	if len(fx.logs) != 1 || fx.logs[0] != (logRecord{slog.LevelWarn, "hello host"}) {
		t.Errorf("logs = %v", fx.logs)
	}
}

func TestListCopyOut(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	for _, k := range []string{"a1", "a2", "a3", "b1"} {
		fx.kv[k] = []byte("v-" + k)
	}
	val := turnOK(t, p, invoke("list", argBin([]byte("a")), argBin([]byte("a2")), argInt(0)), fx)
	want, _ := fx.List([]byte("a"), []byte("a2"), DefaultListLimit, nil)
	if !bytes.Equal(val, want) {
		t.Errorf("list returned %x, want %x", val, want)
	}
	val = turnOK(t, p, invoke("list", argBin([]byte("a")), argBin(nil), argInt(1)), fx)
	want, _ = fx.List([]byte("a"), nil, 1, nil)
	if !bytes.Equal(val, want) {
		t.Errorf("list with limit 1 returned %x, want %x", val, want)
	}
}

func TestEffectsErrorsReachGuest(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	for _, tc := range []struct {
		key      string
		wantCode int64
	}{
		{"fail-put", 9}, // a coded error keeps its code
		{"boom", 12},    // a plain error is internal
	} {
		resp := turn(t, p, invoke("kv", argBin([]byte(tc.key)), argBin([]byte("v"))), fx)
		code, val := decodeResponse(t, resp)
		r := msgp.NewReader(val)
		lastErr := mustBytes(t, &r)
		r = msgp.NewReader(lastErr)
		if n, _ := r.ReadArrayHeader(); code != 7 || n != 2 || mustInt(t, &r) != tc.wantCode {
			t.Errorf("key %q: response %d %x, last_error %x", tc.key, code, val, lastErr)
		}
	}
}

func TestBadPointerFromGuest(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	val := turnOK(t, p, invoke("badptr"), fx)
	r := msgp.NewReader(val)
	if n, err := r.ReadArrayHeader(); n != 3 || err != nil {
		t.Fatalf("badptr returned %x", val)
	}
	if rc := mustInt(t, &r); rc != rcError {
		t.Errorf("kv_get with a bad key returned %d", rc)
	}
	for _, what := range []string{"kv_get: key", "log: message"} {
		e := msgp.NewReader(mustBytes(t, &r))
		_, _ = e.ReadArrayHeader()
		code := mustInt(t, &e)
		msg, _ := e.ReadString()
		if code != codeBadRequest || !bytes.Contains([]byte(msg), []byte(what)) {
			t.Errorf("last_error = [%d, %q], want bad_request about %s", code, msg, what)
		}
	}
	if len(fx.logs) != 0 {
		t.Errorf("a bad log message reached Effects: %v", fx.logs)
	}
	turnOK(t, p, invoke("echo"), fx) // the instance still works
}

// turn runs req and returns the raw response.
func turn(tb testing.TB, p *Pool, req []byte, fx Effects) []byte {
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
	return bytes.Clone(resp)
}

func mustBytes(tb testing.TB, r *msgp.Reader) []byte {
	tb.Helper()
	b, err := r.ReadBytes()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustInt(tb testing.TB, r *msgp.Reader) int64 {
	tb.Helper()
	v, err := r.ReadInt()
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestKVAddReachesEffects(t *testing.T) {
	_, p := newGuestPool(t, Config{}, PoolConfig{Max: 1})
	fx := newTestEffects()
	for _, step := range []struct{ delta, want int64 }{{5, 5}, {-7, -2}, {1 << 40, 1<<40 - 2}} {
		val := turnOK(t, p, invoke("kvadd", argBin([]byte("n")), argInt(step.delta)), fx)
		r := msgp.NewReader(val)
		if got := mustInt(t, &r); got != step.want {
			t.Errorf("kv_add of %d returned %d, want %d", step.delta, got, step.want)
		}
	}
	if r := msgp.NewReader(fx.kv["n"]); mustInt(t, &r) != 1<<40-2 {
		t.Errorf("stored value = %x, want the sum as a MessagePack integer", fx.kv["n"])
	}
	// An error of Effects reaches the guest through last_error, which the
	// test guest returns as the value of a failure with code 7.
	resp := turn(t, p, invoke("kvadd", argBin([]byte("fail.n")), argInt(1)), fx)
	want := abi.AppendError(nil, 9, "kv_add: value too large")
	if !bytes.Contains(resp, want) {
		t.Errorf("kv_add of a failing key returned %q, want last_error %q", resp, want)
	}
}

// TestKnownImportsMatchHostModule checks the list that load errors consult
// against the functions the host module exports.
func TestKnownImportsMatchHostModule(t *testing.T) {
	e := newEngine(t, Config{})
	compiled, err := hostModule(e.rt).Compile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	exported := compiled.ExportedFunctions()
	for name := range exported {
		if !knownImports[name] {
			t.Errorf("host module exports %s, which knownImports lacks", name)
		}
	}
	for name := range knownImports {
		if exported[name] == nil {
			t.Errorf("knownImports lists %s, which the host module does not export", name)
		}
	}
}
