package server_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callhost-server-cache-")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		guesttest.Cleanup()
		os.RemoveAll(dir)
	}))
}

// testClass is the class name the test guest is loaded under.
const testClass = "svc"

// env is a runtime with the test guest loaded, served on 127.0.0.1.
type env struct {
	rt  *runtime.Runtime
	srv *server.Server
	ts  *httptest.Server
	url string // ws:// URL of the endpoint
}

func newEnv(t testing.TB, opts server.Options) *env {
	t.Helper()
	wasm := guesttest.Build(t, "testdata/guest")
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Options{CacheDir: cacheDir, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Load(ctx, testClass, wasm); err != nil {
		t.Fatal(err)
	}
	srv := server.New(rt, opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		ts.Close()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("runtime shutdown: %v", err)
		}
	})
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	return &env{rt: rt, srv: srv, ts: ts, url: url}
}

// waitFor polls cond until it holds or the test times out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
