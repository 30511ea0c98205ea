package fuzzcheck

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// targets lists the fuzz targets of each package, by import path.
var targets = map[string][]string{
	"github.com/callhost/callhost/internal/protocol": {"FuzzDecodeClientFrame"},
	"github.com/callhost/callhost/internal/msgp":     {"FuzzSkip"},
	"github.com/callhost/callhost/internal/preempt":  {"FuzzInstrument"},
	"github.com/callhost/callhost/internal/abi": {"FuzzDecodeRequest", "FuzzDecodeCall",
		"FuzzDecodeOutcome", "FuzzDecodeAlarm", "FuzzCheckOperation", "FuzzContinuationArgs",
		"FuzzDecodeCheckedCall"},
}

// fuzzTime is how long each target runs.
const fuzzTime = "3s"

// TestFuzzTargetsBriefly runs every fuzz target for a few seconds, the
// packages side by side and the targets of one package one after the other.
// A crasher fails the test; go test leaves it in the package's
// testdata/fuzz/<target>/ for a rerun.
func TestFuzzTargetsBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing is skipped with -short")
	}
	for pkg, names := range targets {
		t.Run(pkg[strings.LastIndex(pkg, "/")+1:], func(t *testing.T) {
			t.Parallel()
			for _, name := range names {
				fuzz(t, pkg, name)
			}
		})
	}
}

func fuzz(t *testing.T, pkg, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "XXX", "-fuzz", "^"+name+"$",
		"-fuzztime", fuzzTime, "-parallel", "2", pkg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: %v\n%s", name, err, out)
		return
	}
	t.Logf("%s: ran %v", name, time.Since(start).Round(100*time.Millisecond))
}
