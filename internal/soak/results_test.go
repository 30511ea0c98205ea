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
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	CPUs      int    `json:"cpus"`
	Phase     string `json:"phase_length"`
	Rounds    int    `json:"rounds"`
	Clients   int    `json:"clients"`
	Callers   int    `json:"callers_per_client"`
	// Phases are in the order they ran.
	Phases []phase `json:"phases"`
	// Baseline and Faults sum the phases without and with faults, with the
	// first and the last baseline phase at half weight.
	Baseline total   `json:"baseline"`
	Faults   total   `json:"with_faults"`
	DropPct  float64 `json:"throughput_drop_percent"`
	// CPUDropPct is how much lower the calls per CPU second are with faults;
	// 0 when CPU time was not measured.
	CPUDropPct float64 `json:"calls_per_cpu_second_drop_percent"`
	TargetPct  float64 `json:"target_drop_percent"`
	MeetTarget bool    `json:"meets_target"`
}

// total sums the phases of one condition, each multiplied by its weight.
type total struct {
	Phases      int     `json:"phases"`
	Seconds     float64 `json:"seconds"`
	Calls       float64 `json:"calls"`
	Failed      int64   `json:"failed"`
	PerSec      float64 `json:"calls_per_second"`
	CPUSeconds  float64 `json:"cpu_seconds"`
	CallsPerCPU float64 `json:"calls_per_cpu_second"`
	Faults      float64 `json:"faults"`
	// FaultsPerSec is the rate of injected faults of all kinds.
	FaultsPerSec float64 `json:"faults_per_second"`
	Hostiles     int64   `json:"hostile_calls"`
	Throttled    int64   `json:"hostile_calls_throttled"`
	Slow         int64   `json:"slow_readers_disconnected"`
}

func (s *total) add(p phase) {
	w := p.Weight
	s.Phases++
	s.Seconds += w * p.Seconds
	s.Calls += w * float64(p.Calls)
	s.Failed += p.Failed
	s.CPUSeconds += w * p.CPUSeconds
	s.Faults += w * float64(p.Faults)
	s.Hostiles += p.Hostiles
	s.Throttled += p.Throttled
	s.Slow += p.Slow
	s.PerSec = s.Calls / s.Seconds
	s.FaultsPerSec = s.Faults / s.Seconds
	if s.CPUSeconds > 0 {
		s.CallsPerCPU = s.Calls / s.CPUSeconds
	}
}

// summarize sums the phases of each condition and compares the sums.
func summarize(phases []phase) report {
	r := report{Phases: phases, TargetPct: 10}
	for _, p := range phases {
		if p.WithFaults {
			r.Faults.add(p)
		} else {
			r.Baseline.add(p)
		}
	}
	if r.Baseline.PerSec > 0 {
		r.DropPct = 100 * (1 - r.Faults.PerSec/r.Baseline.PerSec)
	}
	if r.Baseline.CallsPerCPU > 0 && r.Faults.CallsPerCPU > 0 {
		r.CPUDropPct = 100 * (1 - r.Faults.CallsPerCPU/r.Baseline.CallsPerCPU)
	}
	r.MeetTarget = r.DropPct < r.TargetPct
	return r
}

// writeResults writes soak.json and soak.md to dir, relative to the
// repository root unless absolute.
func writeResults(t *testing.T, dir string, r report) {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", "..", dir)
	}
	r.Date = time.Now().UTC().Format(time.RFC3339)
	r.GoVersion, r.CPUs = goruntime.Version(), goruntime.NumCPU()
	r.Clients, r.Callers = clients, callers
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "soak.json"), append(js, '\n'))
	write(t, filepath.Join(dir, "soak.md"), []byte(markdown(r)))
}

func markdown(r report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Soak test with faults\n\n%s, %s, %d CPUs, %d clients x %d callers, "+
		"phases of %s: %d with faults between %d without.\n"+
		"Produced by `CALLHOST_SOAK_DURATION=%s CALLHOST_SOAK_OUT=bench/results "+
		"go test -run Soak -v -timeout 10m ./internal/soak`.\n\n",
		r.Date, r.GoVersion, r.CPUs, r.Clients, r.Callers, r.Phase, r.Rounds, r.Rounds+1,
		totalDuration(r))
	b.WriteString("| phase | calls | failed | calls/s | faults | hostile calls run | " +
		"hostile calls throttled | slow readers cut | load average | CPU s | " +
		"calls per CPU s | heap after (MiB) | RSS after (MiB) | goroutines after | " +
		"instances after |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %d | %d | %.0f | %d | %d | %d | %d | %s to %s | %.1f | %.0f "+
			"| %.1f | %.1f | %d | %d |\n",
			p.Name, p.Calls, p.Failed, p.PerSec, p.Faults, p.Hostiles, p.Throttled, p.Slow,
			p.LoadBefore, p.LoadAfter, p.CPUSeconds, p.CallsPerCPU, p.After.HeapMiB,
			p.After.RSSMiB, p.After.Goroutines, p.After.Instances)
	}
	b.WriteString("\nSums of each condition, with the first and the last baseline " +
		"phase at half weight:\n\n" +
		"| condition | seconds | calls | calls/s | CPU s | calls per CPU s | " +
		"faults | faults/s |\n|---|---|---|---|---|---|---|---|\n")
	for _, c := range []struct {
		name string
		s    total
	}{{"baseline", r.Baseline}, {"with faults", r.Faults}} {
		fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.0f | %.1f | %.0f | %.0f | %.1f |\n", c.name,
			c.s.Seconds, c.s.Calls, c.s.PerSec, c.s.CPUSeconds, c.s.CallsPerCPU, c.s.Faults,
			c.s.FaultsPerSec)
	}
	met := "met"
	if !r.MeetTarget {
		met = "not met"
	}
	change := fmt.Sprintf("%.2f%% lower", r.DropPct)
	if r.DropPct < 0 {
		change = fmt.Sprintf("%.2f%% higher", -r.DropPct)
	}
	fmt.Fprintf(&b, "\nThroughput with faults is %s (target: under %.0f%% lower, %s).\n",
		change, r.TargetPct, met)
	if r.CPUDropPct != 0 {
		fmt.Fprintf(&b, "Calls per CPU second of the test process are %.1f%% lower with "+
			"faults.\n", r.CPUDropPct)
	}
	return b.String()
}

// totalDuration returns the time with faults, as passed in
// CALLHOST_SOAK_DURATION.
func totalDuration(r report) string {
	d, err := time.ParseDuration(r.Phase)
	if err != nil {
		return r.Phase
	}
	return (d * time.Duration(r.Rounds)).String()
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
