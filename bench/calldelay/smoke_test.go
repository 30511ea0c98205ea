package calldelay

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary serve as the sweep's child process.
func TestMain(m *testing.M) {
	if os.Getenv(ChildEnv) == "1" {
		os.Exit(ChildMain(os.Args[1:], os.Stdout))
	}
	os.Exit(m.Run())
}

// TestSmoke runs a small sweep of every mode, fan-out included, and checks
// that every row completes without errors and that the result files are
// written. The full sweep is not part of the tests: run bench/cmd/calldelay.
func TestSmoke(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	rep, err := Run(Config{
		Sizes:        []int{25, 200},
		FanoutModes:  []Mode{ModeCtn, ModeAwaitEmbedded, ModeAwaitWS},
		DurableSizes: []int{200},
		Stall:        time.Minute, // the first rows compile the guest, which is slow under -race
		Root:         root,
		Work:         t.TempDir(),
		ChildCmd:     []string{os.Args[0]},
		Out:          out,
		Command:      "go test ./bench/calldelay -run TestSmoke",
		Log:          slog.New(slog.NewTextHandler(testWriter{t}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	// Two sizes of every mode and fan-out variant, then ctn with each store.
	if want := 2*(len(AllModes)+3) + 2; len(rep.Rows) != want {
		t.Errorf("got %d rows, want %d", len(rep.Rows), want)
	}
	for _, r := range rep.Rows {
		checkRow(t, r)
	}
	if n := len(durablePairs(rep.Rows)); n != 1 {
		t.Errorf("got %d store comparison pairs, want 1", n)
	}
	if last := rep.Targets[len(rep.Targets)-1]; last.Met == nil ||
		last.Name != "ctn durable vs memory at 200" {
		t.Errorf("last target = %+v, want the judged store comparison at 200", last)
	}
	checkFiles(t, out)
}

func checkRow(t *testing.T, r Row) {
	t.Helper()
	name := rowSpec{mode: r.Mode, ops: r.Ops, fanout: r.Fanout, engine: r.Engine}.String()
	if r.Failure != "" {
		t.Errorf("%s failed: %s", name, r.Failure)
	}
	if r.Hang {
		t.Errorf("%s hung at %d operations", name, r.HangAt)
	}
	if r.Completed != int64(r.Ops) {
		t.Errorf("%s completed %d of %d operations", name, r.Completed, r.Ops)
	}
	if r.Errors != 0 {
		t.Errorf("%s had %d errors: %v", name, r.Errors, r.ErrorsByCode)
	}
	if r.OpsPerSec <= 0 {
		t.Errorf("%s has no throughput", name)
	}
	if r.PeakRSSBytes <= 0 {
		t.Errorf("%s has no peak RSS", name)
	}
}

func checkFiles(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"latest.md", "latest.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "latest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("latest.json does not decode: %v", err)
	}
	if rep.Machine.Cores == 0 || rep.Machine.WazeroVersion == "" || rep.Machine.DeflateNS <= 0 {
		t.Errorf("latest.json lacks machine facts: %+v", rep.Machine)
	}
	page, err := os.ReadFile(filepath.Join(dir, "latest.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "- Machine speed: compress/flate compresses") {
		t.Errorf("latest.md lacks the machine speed")
	}
}

// testWriter sends the sweep's log to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestHangReported runs a row whose child reports 3 operations and then
// stops, and checks that the watchdog reports a hang at 3 instead of
// waiting.
func TestHangReported(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	stuck := `echo '{"type":"progress","done":3}'; exec sleep 60`
	start := time.Now()
	rep, err := Run(Config{
		Sizes:    []int{10},
		Modes:    []Mode{ModeFloor},
		Stall:    time.Second,
		Root:     root,
		Work:     t.TempDir(),
		ChildCmd: []string{"sh", "-c", stuck, "sh"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 1 {
		t.Fatalf("got %d rows, want 1", len(rep.Rows))
	}
	r := rep.Rows[0]
	if !r.Hang {
		t.Errorf("row not reported as hung: %+v", r)
	}
	if r.HangAt != 3 {
		t.Errorf("hang at %d operations, want 3", r.HangAt)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("run took %s, want the watchdog to stop it within seconds", d)
	}
}
