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
