package calldelay

import (
	"strings"
	"testing"
)

func TestDurableComparisonJudged(t *testing.T) {
	rows := []Row{
		{Mode: ModeCtn, Ops: 100000, Engine: EngineInterruptible, Store: StoreMemory,
			Completed: 100000, OpsPerSec: 100000},
		{Mode: ModeCtn, Ops: 100000, Engine: EngineInterruptible, Store: StoreMemory,
			Comparison: ComparisonDurable, Completed: 100000, OpsPerSec: 120000},
		{Mode: ModeCtn, Ops: 100000, Engine: EngineInterruptible, Store: StoreBolt,
			Comparison: ComparisonDurable, Completed: 100000, OpsPerSec: 54000},
	}
	targets := evaluateDurable(rows)
	if len(targets) != 1 {
		t.Fatalf("got %d targets, want 1", len(targets))
	}
	got := targets[0]
	if got.Met == nil || *got.Met {
		t.Errorf("54000 vs 120000 ops/s judged %v, want not met", got.Met)
	}
	if want := "54000 vs 120000 ops/s: 45%"; got.Measured != want {
		t.Errorf("measured = %q, want %q", got.Measured, want)
	}
	if got.Name != "ctn durable vs memory at 100,000" {
		t.Errorf("name = %q", got.Name)
	}

	rows[2].OpsPerSec = 60000
	if met := evaluateDurable(rows)[0].Met; met == nil || !*met {
		t.Errorf("60000 vs 120000 ops/s judged %v, want met", met)
	}
}

func TestComparisonRowsOutsideSweep(t *testing.T) {
	rows := []Row{
		{Mode: ModeCtn, Ops: 100, Engine: EngineInterruptible, Store: StoreMemory,
			Completed: 100, OpsPerSec: 1000, MSPerOp: 1},
		{Mode: ModeCtn, Ops: 100, Engine: EngineInterruptible, Store: StoreBolt,
			Comparison: ComparisonDurable, Completed: 100, OpsPerSec: 7777, MSPerOp: 2},
	}
	if got := sweepRows(rows); len(got) != 1 || got[0].Comparison != "" {
		t.Errorf("sweepRows kept %+v, want the sweep row only", got)
	}
	page := markdown(&Report{Rows: rows})
	results := page[strings.Index(page, "## Results"):]
	if strings.Contains(results, "7777") {
		t.Errorf("the results table lists a comparison row:\n%s", results)
	}
	if strings.Contains(page, "## Durable store") {
		t.Errorf("a bolt row without its memory row makes a durable section:\n%s", page)
	}
}

// ratioRows returns a sweep's ctn and floor rows at 100,000 operations with
// the given ms per operation, and a ratio pair for each ctn/floor pair given.
func ratioRows(sweepCtn, sweepFloor float64, pairs ...[2]float64) []Row {
	row := func(m Mode, msPerOp float64, comparison string) Row {
		return Row{Mode: m, Ops: targetSpeed, Engine: EngineInterruptible, Store: StoreMemory,
			Completed: targetSpeed, MSPerOp: msPerOp, OpsPerSec: 1000 / msPerOp,
			Comparison: comparison}
	}
	rows := []Row{row(ModeCtn, sweepCtn, ""), row(ModeFloor, sweepFloor, "")}
	for _, p := range pairs {
		rows = append(rows, row(ModeCtn, p[0], ComparisonRatio),
			row(ModeFloor, p[1], ComparisonRatio))
	}
	return rows
}

func floorTarget(t *testing.T, rows []Row) Target {
	t.Helper()
	return targetNamed(t, rows, floorTargetName)
}

// targetNamed returns the target called name that rows are judged by.
func targetNamed(t *testing.T, rows []Row, name string) Target {
	t.Helper()
	for _, tg := range evaluate(rows) {
		if tg.Name == name {
			return tg
		}
	}
	t.Fatalf("no %q target", name)
	return Target{}
}

func TestFloorRatioTakesMedianOfPairs(t *testing.T) {
	// The sweep's own pair is 4x, and the median of the repeated pairs is 2.9x.
	rows := ratioRows(0.004, 0.001, [2]float64{0.0035, 0.001}, [2]float64{0.0029, 0.001},
		[2]float64{0.0028, 0.001})
	got := floorTarget(t, rows)
	if got.Met == nil || !*got.Met {
		t.Errorf("median 2.9x judged %v, want met", got.Met)
	}
	want := "2.90 us vs 1.00 us per operation (medians): 2.90x, pairs 2.80x to 3.50x"
	if got.Measured != want {
		t.Errorf("measured = %q, want %q", got.Measured, want)
	}
	if !strings.Contains(got.Goal, "median of 3 pairs") {
		t.Errorf("goal = %q, want it to name the 3 pairs", got.Goal)
	}

	rows = ratioRows(0.002, 0.001, [2]float64{0.0031, 0.001}, [2]float64{0.0029, 0.001},
		[2]float64{0.0032, 0.001})
	if met := floorTarget(t, rows).Met; met == nil || *met {
		t.Errorf("median 3.1x judged %v, want not met", met)
	}
}

func TestFloorRatioWithoutPairsUsesSweep(t *testing.T) {
	got := floorTarget(t, ratioRows(0.0025, 0.001))
	if got.Met == nil || !*got.Met {
		t.Errorf("sweep ratio 2.5x judged %v, want met", got.Met)
	}
	if want := "2.50 us vs 1.00 us per operation: 2.50x"; got.Measured != want {
		t.Errorf("measured = %q, want %q", got.Measured, want)
	}
}

func TestFloorRatioFailedPairFails(t *testing.T) {
	rows := ratioRows(0.002, 0.001, [2]float64{0.002, 0.001}, [2]float64{0.002, 0.001})
	rows[len(rows)-1].Failure = "child exited"
	got := floorTarget(t, rows)
	if got.Met == nil || *got.Met {
		t.Errorf("a failed floor row judged %v, want not met", got.Met)
	}
	page := markdown(&Report{Rows: rows, Targets: evaluate(rows)})
	if !strings.Contains(page, "## ctn vs floor, repeated") {
		t.Errorf("the page lacks the repeated pairs:\n%s", page)
	}
	if !strings.Contains(page, "| interruptible | 0.00200 | 0.00100 | 2.00x |") {
		t.Errorf("the page lacks the first pair's row:\n%s", page)
	}
	if !strings.Contains(page, "- floor n=100000 fanout no interruptible (ratio comparison): "+
		"child exited") {
		t.Errorf("the failure list does not mark the failed row as a ratio row:\n%s", page)
	}
}

func TestRatioPairsRunAfterSweep(t *testing.T) {
	r := &runner{cfg: Config{Sizes: []int{100}, Modes: []Mode{ModeCtn, ModeFloor},
		Engines: []string{EngineInterruptible, EngineUninterruptible}, RatioPairs: 2}}
	specs := r.specs()
	if len(specs) != 4+8 {
		t.Fatalf("got %d rows, want 4 of the sweep and 8 ratio rows", len(specs))
	}
	for i, s := range specs[4:] {
		wantMode := []Mode{ModeCtn, ModeFloor}[i%2]
		wantEngine := []string{EngineInterruptible, EngineUninterruptible}[i/4]
		if s.mode != wantMode || s.engine != wantEngine || s.ops != targetSpeed ||
			s.comparison != ComparisonRatio {
			t.Errorf("ratio row %d = %+v, want %s %s at %d", i, s, wantMode, wantEngine,
				targetSpeed)
		}
	}

	r.cfg.Modes = []Mode{ModeCtn}
	if n := len(r.specs()); n != 2 {
		t.Errorf("without floor: got %d rows, want the 2 of the sweep", n)
	}
}

func TestThroughputTakesMedianOfPairs(t *testing.T) {
	find := func(rows []Row) Target {
		t.Helper()
		return targetNamed(t, rows, throughputTargetName)
	}
	// The sweep's own row runs at 125,000 ops/s; the repeated runs' median is
	// 250,000.
	rows := ratioRows(0.008, 0.001, [2]float64{0.004, 0.001}, [2]float64{0.0035, 0.001},
		[2]float64{0.005, 0.001})
	got := find(rows)
	if got.Met == nil || !*got.Met {
		t.Errorf("median 250000 ops/s judged %v, want met", got.Met)
	}
	if want := "250000 ops/s, runs 200000 to 285714"; got.Measured != want {
		t.Errorf("measured = %q, want %q", got.Measured, want)
	}
	if want := ">= 200000 ops/s, median of 3 runs"; got.Goal != want {
		t.Errorf("goal = %q, want %q", got.Goal, want)
	}

	rows = ratioRows(0.004, 0.001, [2]float64{0.0055, 0.001}, [2]float64{0.0045, 0.001},
		[2]float64{0.006, 0.001})
	if met := find(rows).Met; met == nil || *met {
		t.Errorf("median 181818 ops/s judged %v, want not met", met)
	}

	rows = ratioRows(0.004, 0.001)
	if got := find(rows); got.Measured != "250000 ops/s" || got.Met == nil || !*got.Met {
		t.Errorf("without pairs: %q judged %v, want the sweep's 250000 ops/s met",
			got.Measured, got.Met)
	}
}
