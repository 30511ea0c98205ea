package calldelay

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseSizes(t *testing.T) {
	got, err := ParseSizes("25, 100k,1m,7")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{25, 100000, 1000000, 7}; !slices.Equal(got, want) {
		t.Errorf("ParseSizes = %v, want %v", got, want)
	}
	for _, bad := range []string{"", "0", "-5", "ten", "5x"} {
		if _, err := ParseSizes(bad); err == nil {
			t.Errorf("ParseSizes(%q) succeeded, want an error", bad)
		}
	}
}

func TestParseModes(t *testing.T) {
	if got, _ := ParseModes("all"); !slices.Equal(got, AllModes) {
		t.Errorf("ParseModes(all) = %v, want %v", got, AllModes)
	}
	if got, err := ParseModes(""); err != nil || got != nil {
		t.Errorf("ParseModes(\"\") = %v, %v, want none", got, err)
	}
	if _, err := ParseModes("ctn,rpc"); err == nil {
		t.Error("ParseModes accepted unknown mode rpc")
	}
}

func TestProgressStep(t *testing.T) {
	for _, c := range []struct{ n, want int }{
		{1, 1}, {25, 10}, {200, 10}, {1000, 10}, {10000, 100}, {1000000, 10000},
	} {
		if got := progressStep(c.n); got != c.want {
			t.Errorf("progressStep(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}

func TestStartOptions(t *testing.T) {
	opts := startOptions(true, 1000, 90*time.Second)
	if opts&1 != 1 {
		t.Error("fanout bit not set")
	}
	if chunk := (opts >> 8) & 0xffffff; chunk != 1000 {
		t.Errorf("chunk = %d, want 1000", chunk)
	}
	if ms := uint64(opts) >> 32; ms != 90000 {
		t.Errorf("timeout = %d ms, want 90000", ms)
	}
}

func TestTrackerMonotonic(t *testing.T) {
	var tr tracker
	tr.set(10, 1)
	tr.set(5, 0)
	if d, e := tr.done.Load(), tr.errs.Load(); d != 10 || e != 1 {
		t.Errorf("after an older report: done %d errors %d, want 10 and 1", d, e)
	}
}

func TestEvaluateTargets(t *testing.T) {
	ok := func(m Mode, ops int, fanout bool, msPerOp float64) Row {
		return Row{Mode: m, Ops: ops, Fanout: fanout, Engine: EngineInterruptible,
			Completed: int64(ops), MSPerOp: msPerOp, OpsPerSec: 1000 / msPerOp,
			PeakRSSBytes: 100 << 20}
	}
	rows := []Row{
		ok(ModeCtn, targetBatch, false, 0.004), ok(ModeCtn, targetBatch, true, 0.004),
		ok(ModeCtn, targetSpeed, false, 0.004), ok(ModeFloor, targetSpeed, false, 0.001),
		ok(ModeAwaitWS, targetSpeed, false, 0.01), ok(ModeExtism, targetSpeed, false, 0.05),
	}
	rows[1].Hang = true
	targets := evaluate(rows)
	if len(targets) != 6 {
		t.Fatalf("got %d targets, want 6", len(targets))
	}
	want := []bool{true, false, false, true, true, true}
	for i, tg := range targets {
		if tg.Met == nil {
			t.Errorf("%s: not measured", tg.Name)
			continue
		}
		if *tg.Met != want[i] {
			t.Errorf("%s: met %v, want %v (%s)", tg.Name, *tg.Met, want[i], tg.Measured)
		}
	}
}

func TestProfileNameNamesTheRow(t *testing.T) {
	cases := []struct {
		args childArgs
		want string
	}{
		{childArgs{mode: ModeCtn, ops: 100000, engine: EngineInterruptible, store: StoreMemory},
			"ctn-100000-interruptible"},
		{childArgs{mode: ModeCtn, ops: 1000, fanout: true, engine: EngineUninterruptible},
			"ctn-fanout-1000-uninterruptible"},
		{childArgs{mode: ModeCtn, ops: 100000, engine: EngineInterruptible, store: StoreBolt},
			"ctn-100000-interruptible-bolt"},
		{childArgs{mode: ModeFloor, ops: 25, engine: EngineInterruptible}, "floor-25-interruptible"},
	}
	for _, tc := range cases {
		if got := profileName(&tc.args); got != tc.want {
			t.Errorf("profileName(%+v) = %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestProfilesLeaveTraceOut(t *testing.T) {
	a := &childArgs{mode: ModeFloor, ops: 25, engine: EngineInterruptible}
	for _, noTrace := range []string{"", "1"} {
		t.Setenv(NoTraceEnv, noTrace)
		prefix := filepath.Join(t.TempDir(), "p")
		stop, err := startProfiles(prefix, a)
		if err != nil {
			t.Fatal(err)
		}
		stop()
		base := prefix + "-" + profileName(a)
		for _, ext := range []string{".cpu", ".alloc"} {
			if _, err := os.Stat(base + ext); err != nil {
				t.Errorf("%s=%q: %s missing: %v", NoTraceEnv, noTrace, ext, err)
			}
		}
		_, err = os.Stat(base + ".trace")
		if traced := err == nil; traced != (noTrace == "") {
			t.Errorf("%s=%q: trace written %v, want %v", NoTraceEnv, noTrace, traced,
				noTrace == "")
		}
	}
}
