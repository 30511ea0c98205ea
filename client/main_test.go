package client_test

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callhost-client-cache-")
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

// env is a server with the test guest loaded, listening on 127.0.0.1.
type env struct {
	rt  *runtime.Runtime
	srv *server.Server
	url string
}

func newEnv(t *testing.T, opts server.Options) *env {
	t.Helper()
	wasm := guesttest.Build(t, "../server/testdata/guest")
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
	return &env{rt: rt, srv: srv, url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

// dial connects a client that the test closes at its end.
func (e *env) dial(t *testing.T, opts *client.Options) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
