package soak

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
)

// profiler writes a CPU profile and an allocation profile of each phase to
// the directory in CALLHOST_SOAK_PROFILE. Without the variable it does
// nothing.
type profiler struct {
	dir string
	cpu *os.File
}

func newProfiler(t *testing.T) *profiler {
	dir := os.Getenv("CALLHOST_SOAK_PROFILE")
	if dir == "" {
		return &profiler{}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("create the profile directory CALLHOST_SOAK_PROFILE=%q: %v", dir, err)
	}
	return &profiler{dir: dir}
}

// fileName returns the path of a profile of phase number i.
func (p *profiler) fileName(i int, name, kind string) string {
	return filepath.Join(p.dir, fmt.Sprintf("%02d-%s.%s.pprof", i,
		strings.ReplaceAll(name, " ", "-"), kind))
}

// start starts the CPU profile of phase number i.
func (p *profiler) start(t *testing.T, i int, name string) {
	if p.dir == "" {
		return
	}
	f, err := os.Create(p.fileName(i, name, "cpu"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p.cpu = f
}

// stop ends the CPU profile of phase number i and writes the allocation
// profile. The allocation profile counts from the start of the process, so
// compare two phases with go tool pprof -base.
func (p *profiler) stop(t *testing.T, i int, name string) {
	if p.dir == "" {
		return
	}
	pprof.StopCPUProfile()
	if err := p.cpu.Close(); err != nil {
		t.Error(err)
	}
	f, err := os.Create(p.fileName(i, name, "allocs"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		t.Error(err)
	}
}
