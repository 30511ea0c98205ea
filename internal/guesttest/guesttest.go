// Package guesttest builds guest modules for tests with the standard Go
// toolchain (GOOS=wasip1 GOARCH=wasm, -buildmode=c-shared).
package guesttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string][]byte{}
	dir   string
)

// Build compiles the guest package at pkg (a path as `go build` takes it,
// relative to the test's working directory) and returns the module. Results
// are cached for the life of the test binary.
func Build(tb testing.TB, pkg string) []byte {
	tb.Helper()
	wasm, err := build(pkg)
	if err != nil {
		tb.Fatal(err)
	}
	return wasm
}

func build(pkg string) ([]byte, error) {
	mu.Lock()
	defer mu.Unlock()
	abs, err := filepath.Abs(pkg)
	if err != nil {
		return nil, err
	}
	if wasm, ok := built[abs]; ok {
		return wasm, nil
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "callhost-guests-"); err != nil {
			return nil, err
		}
	}
	out := filepath.Join(dir, fmt.Sprintf("%d.wasm", len(built)))
	if err := Compile(abs, out); err != nil {
		return nil, err
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	built[abs] = wasm
	return wasm, nil
}

// Compile runs go build for the guest package in pkgDir and writes out.
func Compile(pkgDir, out string) error {
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build guest %s: %v\n%s", pkgDir, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// Cleanup removes the build directory. Call it from TestMain after m.Run.
func Cleanup() {
	mu.Lock()
	defer mu.Unlock()
	if dir != "" {
		os.RemoveAll(dir)
		dir = ""
	}
}
