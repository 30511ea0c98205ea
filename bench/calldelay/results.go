package calldelay

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"time"
)

// Row is the result of one mode at one size.
type Row struct {
	Mode         Mode             `json:"mode"`
	Engine       string           `json:"engine"`
	Ops          int              `json:"ops"`
	Fanout       bool             `json:"fanout"`
	Store        string           `json:"store"`
	TotalMS      float64          `json:"total_ms"`
	MSPerOp      float64          `json:"ms_per_op"`
	OpsPerSec    float64          `json:"ops_per_sec"`
	Completed    int64            `json:"completed"`
	Errors       int64            `json:"errors"` // failed plus invalid outcomes
	Invalid      int64            `json:"invalid"`
	ErrorsByCode map[string]int64 `json:"errors_by_code,omitempty"`
	Hang         bool             `json:"hang"`
	HangAt       int64            `json:"hang_at,omitempty"` // operations done when it hung
	PeakRSSBytes int64            `json:"peak_rss_bytes"`
	InnerMS      float64          `json:"inner_ms,omitempty"` // ctn: the controller's own time
	// CPUMS is the user and system CPU time of the child process over its
	// whole life, start-up included. The client side of await-ws runs in the
	// runner and is not counted.
	CPUMS float64 `json:"cpu_ms"`
	// LoadAverage is the machine's 1-minute load average when the row started.
	LoadAverage string `json:"load_average"`
	Failure     string `json:"failure,omitempty"`
	// Comparison is ComparisonDurable or ComparisonRatio for the rows run
	// after the sweep, which the results table, the chart and the other
	// targets leave out.
	Comparison string `json:"comparison,omitempty"`
}

// Comparisons: the rows of the store comparison, and the ctn and floor rows
// repeated for the ratio target.
const (
	ComparisonDurable = "durable"
	ComparisonRatio   = "ratio"
)

// fill sets the row's figures from how it ended.
func (row *Row) fill(res outcome, tr *tracker, hang bool) {
	if hang {
		row.Hang, row.HangAt = true, tr.done.Load()
		row.Completed, row.Errors = tr.done.Load(), tr.errs.Load()
		return
	}
	if res.sum == nil {
		row.Completed, row.Errors = tr.done.Load(), tr.errs.Load()
		return
	}
	s := res.sum
	row.Completed, row.Invalid = s.Completed, s.Invalid
	row.Errors = s.Failed + s.Invalid
	if len(s.Errors) > 0 {
		row.ErrorsByCode = s.Errors
	}
	row.TotalMS = float64(s.WallNS) / 1e6
	if row.Ops > 0 {
		row.MSPerOp = row.TotalMS / float64(row.Ops)
	}
	if s.WallNS > 0 {
		row.OpsPerSec = float64(row.Ops) / (float64(s.WallNS) / 1e9)
	}
	row.InnerMS = float64(res.inner) / 1e6
}

// ok reports whether every operation of the row completed correctly.
func (row *Row) ok() bool {
	return !row.Hang && row.Failure == "" && row.Errors == 0 && row.Completed == int64(row.Ops)
}

// Machine describes where a sweep ran.
type Machine struct {
	CPU           string `json:"cpu"`
	Cores         int    `json:"cores"`
	GOOS          string `json:"goos"`
	GOARCH        string `json:"goarch"`
	GoVersion     string `json:"go_version"`
	WazeroVersion string `json:"wazero_version"`
	ExtismSDK     string `json:"extism_go_sdk_version"`
	GitCommit     string `json:"git_commit"` // HEAD of the repository, "+dirty" with local edits
	LoadBefore    string `json:"load_average_before"`
	LoadAfter     string `json:"load_average_after"`
	// DeflateNS is the least of five timings, in ns, of compressing a fixed
	// 64 KiB text with compress/flate in the runner: a fixed amount of plain
	// Go work, for comparing the speed of the machine between sweeps.
	DeflateNS int64 `json:"deflate_64k_ns"`
}

// Report is the result of a sweep.
type Report struct {
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Command  string        `json:"command"`
	Machine  Machine       `json:"machine"`
	Config   ReportConfig  `json:"config"`
	Rows     []Row         `json:"rows"`
	Targets  []Target      `json:"targets"`
}

// ReportConfig is the part of the configuration that shapes the numbers.
type ReportConfig struct {
	Chunk         int    `json:"ctn_calls_per_turn"`
	Window        int    `json:"await_ws_window"`
	EmbedWorkers  int    `json:"await_embedded_goroutines"`
	CallTimeoutMS int64  `json:"call_timeout_ms"`
	StallMS       int64  `json:"stall_ms"`
	GOMAXPROCS    int    `json:"gomaxprocs"`
	PeakRSS       string `json:"peak_rss"`
}

const peakRSSMeaning = "VmHWM of the child process that runs the row: for ctn and " +
	"await-ws the callhost server (runtime and WebSocket server), for await-embedded " +
	"the program that embeds the runtime, for floor the wazero host with one instance, " +
	"for extism the Extism SDK with one plugin; one new process per row"

func newMachine(root string) Machine {
	m := Machine{CPU: cpuModel(), Cores: goruntime.NumCPU(), GOOS: goruntime.GOOS,
		GOARCH: goruntime.GOARCH, GoVersion: goruntime.Version()}
	m.WazeroVersion = requiredVersion(filepath.Join(root, "go.mod"),
		"github.com/tetratelabs/wazero")
	m.ExtismSDK = requiredVersion(filepath.Join(root, "bench", "extism", "go.mod"),
		"github.com/extism/go-sdk")
	m.GitCommit = gitCommit(root)
	m.DeflateNS = deflateTime()
	return m
}

// deflateTime returns the least time of five compressions of a fixed 64 KiB
// text with compress/flate, in ns.
func deflateTime() int64 {
	var text bytes.Buffer
	for i := 0; text.Len() < 64<<10; i++ {
		fmt.Fprintf(&text, "operation %d of the call-delay benchmark returned %d\n", i, 2*i)
	}
	best := time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		w, _ := flate.NewWriter(io.Discard, flate.DefaultCompression)
		w.Write(text.Bytes()[:64<<10])
		w.Close()
		best = min(best, time.Since(start))
	}
	return best.Nanoseconds()
}

// gitCommit returns the short hash of HEAD in dir, with "+dirty" when the
// work tree has changes, or "" when git is not available.
func gitCommit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	commit := strings.TrimSpace(string(out))
	status, err := exec.Command("git", "-C", dir, "status", "--porcelain",
		"--untracked-files=no").Output()
	if err == nil && len(strings.TrimSpace(string(status))) > 0 {
		commit += "+dirty"
	}
	return commit
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// requiredVersion returns the version of module path required by the go.mod
// file at gomod, or "".
func requiredVersion(gomod, path string) string {
	f, err := os.Open(gomod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == path {
			return fields[1]
		}
	}
	return ""
}

// writeJSON writes the report to path.
func writeJSON(path string, rep *Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeResults writes latest.json, latest.md and latest.svg to dir.
func writeResults(dir string, rep *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "latest.json"), rep); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(markdown(rep)),
		0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "latest.svg"), []byte(chartSVG(rep)), 0o644)
}

func fmtRSS(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func firstField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func gomaxprocs() int { return goruntime.GOMAXPROCS(0) }
