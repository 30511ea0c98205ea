// Package precompile compiles guest modules into a runtime's on-disk
// compilation cache, for the examples test. The examples test builds it with
// `go test -c` and runs the binary as
//
//	precompile.test -cache DIR MODULE.wasm...
//
// It exists because the race detector slows wazero's compiler more than
// tenfold: on a 2-core machine one example module takes 15 s or more to
// compile under `go test -race`, against about 1.4 s without it. Loading a
// module that is already in the cache takes well under a second either way,
// so the examples test compiles each module here, without the race
// detector, and then loads it from the cache.
//
// It is a test binary, and not a command, because wazero names its cache
// directory after its own version, which it reads from the binary's build
// information. Test binaries carry no version for their dependencies, so
// wazero calls itself "dev" in them, and only another test binary shares
// the examples test's cache.
package precompile

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/store"
)

var cacheDir = flag.String("cache", "", "compilation cache directory to fill (required)")

// TestMain does the binary's work instead of running tests.
func TestMain(m *testing.M) {
	flag.Parse()
	if *cacheDir == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: precompile.test -cache DIR MODULE.wasm...")
		os.Exit(2)
	}
	if err := precompile(*cacheDir, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "precompile:", err)
		os.Exit(1)
	}
}

// precompile loads each module into a runtime with the given cache. Options
// that change the compiled code, such as Uninterruptible, must match those of
// the runtime that later reads the cache, so it uses the defaults, as the
// examples test does.
func precompile(cache string, paths []string) (err error) {
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Options{CacheDir: cache, Store: store.NewMemory()})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rt.Shutdown(ctx)) }()
	for _, p := range paths {
		wasm, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		class := strings.TrimSuffix(filepath.Base(p), ".wasm")
		if err := rt.Load(ctx, class, wasm); err != nil {
			return err
		}
	}
	return nil
}
