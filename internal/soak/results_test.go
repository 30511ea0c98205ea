package soak

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

// report is the content of soak.json.
type report struct {
	Date      string  `json:"date"`
	GoVersion string  `json:"go_version"`
	CPUs      int     `json:"cpus"`
	Phase     string  `json:"phase_length"`
	Clients   int     `json:"clients"`
	Callers   int     `json:"callers_per_client"`
	Phases    []phase `json:"phases"`
	DropPct   float64 `json:"throughput_drop_percent"`
	// CPUDropPct is how much lower the calls per CPU second are with faults;
	// 0 when CPU time was not measured.
	CPUDropPct float64 `json:"calls_per_cpu_second_drop_percent"`
	TargetPct  float64 `json:"target_drop_percent"`
	MeetTarget bool    `json:"meets_target"`
}

// writeResults writes soak.json and soak.md to dir, relative to the
// repository root unless absolute.
func writeResults(t *testing.T, dir string, d time.Duration, base, faulty phase,
	drop float64) {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	r := report{Date: time.Now().UTC().Format(time.RFC3339), GoVersion: goruntime.Version(),
		CPUs: goruntime.NumCPU(), Phase: d.String(), Clients: clients, Callers: callers,
		Phases: []phase{base, faulty}, DropPct: 100 * drop, TargetPct: 10,
		MeetTarget: drop < 0.10}
	if base.CallsPerCPU > 0 && faulty.CallsPerCPU > 0 {
		r.CPUDropPct = 100 * (1 - faulty.CallsPerCPU/base.CallsPerCPU)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "soak.json"), append(js, '\n'))
	write(t, filepath.Join(dir, "soak.md"), []byte(markdown(r)))
}

func markdown(r report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak test with faults\n\n%s, %s, %d CPUs, phases of %s, "+
		"%d clients x %d callers.\nProduced by `CALLHOST_SOAK_DURATION=%s "+
		"CALLHOST_SOAK_OUT=bench/results go test -run Soak -v ./internal/soak`.\n\n",
		r.Date, r.GoVersion, r.CPUs, r.Phase, r.Clients, r.Callers, r.Phase)
	b.WriteString("| phase | calls | failed | calls/s | faults | hostile calls run | " +
		"hostile calls throttled | slow readers cut | load average | CPU s | " +
		"calls per CPU s |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %d | %d | %d | %d | %s to %s | %.1f | %.0f |\n",
			p.Name, p.Calls, p.Failed, p.PerSec, p.Faults, p.Hostiles, p.Throttled, p.Slow,
			p.LoadBefore, p.LoadAfter, p.CPUSeconds, p.CallsPerCPU)
	}
	fmt.Fprintf(&b, "\nThroughput with faults is %.1f%% lower (target: under %.0f%%).\n",
		r.DropPct, r.TargetPct)
	if r.CPUDropPct != 0 {
		fmt.Fprintf(&b, "Calls per CPU second of the test process are %.1f%% lower with "+
			"faults.\n", r.CPUDropPct)
	}
	return b.String()
}

func write(t *testing.T, path string, b []byte) {
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}

// loadAverage returns the 1-minute load average from /proc/loadavg, or ""
// where the file is missing.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}
