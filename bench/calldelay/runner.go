package calldelay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// runner runs a sweep.
type runner struct {
	cfg        Config
	ctlWasm    string // the callhost guest
	extismWasm string // the Extism plugin
	extismExe  string // the child binary of extism rows
	cacheDir   string // wazero compilation cache shared by the children
}

// Run builds the guests, runs every row of the sweep, each in a new child
// process, and writes the results to cfg.Out when it is set.
func Run(cfg Config) (*Report, error) {
	cfg.setDefaults()
	if len(cfg.ChildCmd) == 0 || cfg.Root == "" || cfg.Work == "" {
		return nil, errors.New("calldelay: Config needs ChildCmd, Root and Work")
	}
	r := &runner{cfg: cfg}
	if err := r.build(); err != nil {
		return nil, err
	}
	rep := &Report{Started: time.Now(), Command: cfg.Command, Machine: newMachine(cfg.Root),
		Config: ReportConfig{Chunk: cfg.Chunk, Window: cfg.Window,
			EmbedWorkers: cfg.EmbedWorkers, CallTimeoutMS: cfg.CallTimeout.Milliseconds(),
			StallMS: cfg.Stall.Milliseconds(), GOMAXPROCS: gomaxprocs(),
			PeakRSS: peakRSSMeaning}}
	rep.Machine.LoadBefore = loadAverage()
	for _, spec := range r.specs() {
		row := r.runRow(spec)
		r.logRow(row)
		rep.Rows = append(rep.Rows, row)
	}
	rep.Machine.LoadAfter = loadAverage()
	rep.Duration = time.Since(rep.Started)
	rep.Targets = append(evaluate(rep.Rows), evaluateDurable(rep.Rows)...)
	if cfg.Out != "" {
		if err := writeResults(cfg.Out, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// specs lists the rows: for each size, every engine mode, mode and fan-out
// variant, so that neighbouring rows compare modes under the same load.
func (r *runner) specs() []rowSpec {
	fan := map[Mode]bool{}
	for _, m := range r.cfg.FanoutModes {
		fan[m] = objectModes[m]
	}
	var out []rowSpec
	for _, n := range r.cfg.Sizes {
		for _, e := range r.cfg.Engines {
			for _, m := range r.cfg.Modes {
				out = append(out, rowSpec{mode: m, ops: n, engine: e})
				if fan[m] {
					out = append(out, rowSpec{mode: m, ops: n, engine: e, fanout: true})
				}
			}
		}
	}
	for _, n := range r.cfg.DurableSizes {
		for _, e := range r.cfg.Engines {
			for _, st := range []string{StoreMemory, StoreBolt} {
				out = append(out, rowSpec{mode: ModeCtn, ops: n, engine: e, store: st,
					comparison: ComparisonDurable})
			}
		}
	}
	if r.hasMode(ModeCtn) && r.hasMode(ModeFloor) {
		for _, e := range r.cfg.Engines {
			for i := 0; i < r.cfg.RatioPairs; i++ {
				for _, m := range []Mode{ModeCtn, ModeFloor} {
					out = append(out, rowSpec{mode: m, ops: targetSpeed, engine: e,
						comparison: ComparisonRatio})
				}
			}
		}
	}
	return out
}

func (r *runner) logRow(row Row) {
	args := []any{"mode", row.Mode, "ops", row.Ops, "fanout", row.Fanout,
		"engine", row.Engine, "total_ms", fmt.Sprintf("%.1f", row.TotalMS),
		"ops_per_sec", fmt.Sprintf("%.0f", row.OpsPerSec), "errors", row.Errors,
		"peak_rss_mib", (row.PeakRSSBytes + 1<<19) >> 20, "cpu_ms", fmt.Sprintf("%.0f", row.CPUMS)}
	switch {
	case row.Hang:
		r.cfg.Log.Error("row hung", append(args, "done", row.HangAt, "stall", r.cfg.Stall)...)
	case row.Failure != "":
		r.cfg.Log.Error("row failed", append(args, "error", row.Failure)...)
	default:
		r.cfg.Log.Info("row done", args...)
	}
}

// build compiles the guest modules and, when the sweep has extism rows, the
// extism child, which is a module of its own (bench/extism) so that the
// Extism SDK stays out of the main module.
func (r *runner) build() error {
	w := r.cfg.Work
	r.cacheDir = filepath.Join(w, "cache")
	r.ctlWasm = filepath.Join(w, "ctl.wasm")
	if err := buildGuest(filepath.Join(r.cfg.Root, "bench", "guests", "ctl"),
		r.ctlWasm); err != nil {
		return err
	}
	if !r.hasMode(ModeExtism) {
		return nil
	}
	r.extismWasm = filepath.Join(w, "extism.wasm")
	if err := buildGuest(filepath.Join(r.cfg.Root, "bench", "guests", "extism"),
		r.extismWasm); err != nil {
		return err
	}
	r.extismExe = filepath.Join(w, "extism-child")
	return buildExtismChild(filepath.Join(r.cfg.Root, "bench", "extism"),
		filepath.Join(w, "extism-src"), r.cfg.Root, r.extismExe)
}

// buildExtismChild builds the extism child from a copy of its module in
// work, with the replace directive pointing at root and -mod=mod, so that a
// change to the main module's requirements neither breaks the build nor
// edits the repository's bench/extism/go.mod.
func buildExtismChild(src, work, root, out string) error {
	if err := os.MkdirAll(work, 0o755); err != nil {
		return err
	}
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			return err
		}
		if f == "go.mod" {
			b = []byte(strings.ReplaceAll(string(b), "=> ../..", "=> "+root))
		}
		if err := os.WriteFile(filepath.Join(work, f), b, 0o644); err != nil {
			return err
		}
	}
	return goBuild(work, out, nil, "-mod=mod")
}

func (r *runner) hasMode(m Mode) bool {
	for _, x := range r.cfg.Modes {
		if x == m {
			return true
		}
	}
	return false
}

// buildGuest builds the wasip1 reactor in dir.
func buildGuest(dir, out string) error {
	return goBuild(dir, out, []string{"GOOS=wasip1", "GOARCH=wasm"}, "-buildmode=c-shared")
}

func goBuild(dir, out string, env []string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build in %s failed: %v\n%s", dir, err,
			strings.TrimSpace(string(b)))
	}
	return nil
}

// FindRoot returns the repository root: the nearest directory at or above
// dir whose go.mod declares module github.com/callhost/callhost.
func FindRoot(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/callhost/callhost\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of github.com/callhost/callhost at or above %s", dir)
		}
	}
}
