package calldelay

import (
	"fmt"
	"sort"
)

// Target is one speed or reliability goal and whether a sweep met it.
type Target struct {
	Name     string `json:"name"`
	Engine   string `json:"engine"`
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil when the sweep lacks the rows it needs
}

// Sizes the targets are judged at, and limits.
const (
	targetBatch   = 1000000
	targetSpeed   = 100000
	maxPeakRSS    = 1536 << 20 // 1.5 GiB
	maxFloorRatio = 3          // ctn per operation, in multiples of floor's
)

// evaluate judges the targets for every engine mode of the sweep's rows. The
// ctn vs floor target is judged on the ratio rows when there are any.
func evaluate(all []Row) []Target {
	rows := sweepRows(all)
	var out []Target
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Engine] {
			continue
		}
		seen[r.Engine] = true
		out = append(out, evaluateEngine(rows, ratioPairs(all, r.Engine), r.Engine)...)
	}
	return out
}

// Names of the targets that the ratio pairs judge when a sweep has them.
const (
	floorTargetName      = "ctn per operation vs floor at 100,000"
	throughputTargetName = "ctn throughput at 100,000"
)

// minThroughput is the goal for ctn's operations per second at 100,000.
const minThroughput = 200000

// evaluateEngine judges the targets of one engine mode on the sweep's rows,
// and the ctn vs floor target on pairs when there are any.
func evaluateEngine(rows []Row, pairs []ratioPair, engine string) []Target {
	find := func(m Mode, ops int, fanout bool) *Row {
		for i := range rows {
			r := &rows[i]
			if r.Mode == m && r.Ops == ops && r.Fanout == fanout && r.Engine == engine {
				return r
			}
		}
		return nil
	}
	ctn := find(ModeCtn, targetSpeed, false)
	floor := ratioTarget(floorTargetName, engine, ctn, find(ModeFloor, targetSpeed, false),
		maxFloorRatio)
	throughput := rateTarget(throughputTargetName, engine, ctn, minThroughput)
	if len(pairs) > 0 {
		floor = medianRatioTarget(engine, pairs)
		throughput = medianRateTarget(engine, pairs)
	}
	return []Target{
		batchTarget("ctn, 1,000,000 operations in one batch", engine,
			find(ModeCtn, targetBatch, false)),
		batchTarget("ctn fan-out, 1,000,000 distinct objects", engine,
			find(ModeCtn, targetBatch, true)),
		floor,
		throughput,
		rateTarget("await-ws throughput on one connection at 100,000", engine,
			find(ModeAwaitWS, targetSpeed, false), 50000),
		ratioTarget("ctn per operation vs extism at 100,000", engine, ctn,
			find(ModeExtism, targetSpeed, false), 1),
	}
}

func verdict(ok bool) *bool { return &ok }

func batchTarget(name, engine string, r *Row) Target {
	t := Target{Name: name, Engine: engine,
		Goal: "0 errors, no hang, peak RSS <= 1.5 GiB", Measured: "not run"}
	if r == nil {
		return t
	}
	t.Measured = fmt.Sprintf("%d/%d completed, %d errors, hang %v, peak RSS %s",
		r.Completed, r.Ops, r.Errors, yesNo(r.Hang), fmtRSS(r.PeakRSSBytes))
	if r.Failure != "" {
		t.Measured += ", failed: " + firstLine(r.Failure)
	}
	t.Met = verdict(r.ok() && r.PeakRSSBytes > 0 && r.PeakRSSBytes <= maxPeakRSS)
	return t
}

// ratioTarget checks that a's time per operation is at most limit times b's.
func ratioTarget(name, engine string, a, b *Row, limit float64) Target {
	t := Target{Name: name, Engine: engine, Measured: "not run"}
	if limit == 1 {
		t.Goal = "ctn faster per operation"
	} else {
		t.Goal = fmt.Sprintf("ctn <= %gx per operation", limit)
	}
	if a == nil || b == nil {
		return t
	}
	if !a.ok() || !b.ok() || b.MSPerOp == 0 {
		t.Measured = "a row failed"
		t.Met = verdict(false)
		return t
	}
	ratio := a.MSPerOp / b.MSPerOp
	t.Measured = fmt.Sprintf("%.2f us vs %.2f us per operation: %.2fx",
		a.MSPerOp*1000, b.MSPerOp*1000, ratio)
	if limit == 1 {
		t.Met = verdict(ratio < 1)
	} else {
		t.Met = verdict(ratio <= limit)
	}
	return t
}

func rateTarget(name, engine string, r *Row, min float64) Target {
	t := Target{Name: name, Engine: engine, Goal: fmt.Sprintf(">= %.0f ops/s", min),
		Measured: "not run"}
	if r == nil {
		return t
	}
	t.Measured = fmt.Sprintf("%.0f ops/s", r.OpsPerSec)
	t.Met = verdict(r.ok() && r.OpsPerSec >= min)
	return t
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func firstLine(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

// minDurableShare is the goal for the durable store: ctn with bbolt keeps at
// least this share of the memory store's throughput.
const minDurableShare = 0.5

// sweepRows returns the rows of the sweep itself, without the comparison
// rows.
func sweepRows(rows []Row) []Row {
	var out []Row
	for _, r := range rows {
		if r.Comparison == "" {
			out = append(out, r)
		}
	}
	return out
}

// durablePair is a row of the store comparison with each store.
type durablePair struct{ mem, bolt Row }

func (p durablePair) ok() bool {
	return p.mem.ok() && p.bolt.ok() && p.mem.OpsPerSec > 0
}

func (p durablePair) ratioText() string {
	if !p.ok() {
		return "a row failed"
	}
	return fmt.Sprintf("%.0f%%", 100*p.bolt.OpsPerSec/p.mem.OpsPerSec)
}

// durablePairs matches the memory and bolt rows of the store comparison by
// size and engine, in the order they ran.
func durablePairs(rows []Row) []durablePair {
	var out []durablePair
	for i, m := range rows {
		if m.Comparison != ComparisonDurable || m.Store != StoreMemory {
			continue
		}
		for _, b := range rows[i+1:] {
			if b.Comparison == ComparisonDurable && b.Store == StoreBolt &&
				b.Ops == m.Ops && b.Engine == m.Engine {
				out = append(out, durablePair{mem: m, bolt: b})
				break
			}
		}
	}
	return out
}

// evaluateDurable judges the durable store's share of the memory store's
// throughput for each pair of comparison rows.
func evaluateDurable(rows []Row) []Target {
	var out []Target
	for _, p := range durablePairs(rows) {
		t := Target{Name: fmt.Sprintf("ctn durable vs memory at %s", commas(p.mem.Ops)),
			Engine: p.mem.Engine, Goal: fmt.Sprintf("bolt >= %.0f%% of memory ops/s",
				100*minDurableShare), Measured: p.ratioText()}
		if p.ok() {
			t.Measured = fmt.Sprintf("%.0f vs %.0f ops/s: %s", p.bolt.OpsPerSec,
				p.mem.OpsPerSec, p.ratioText())
		}
		t.Met = verdict(p.ok() && p.bolt.OpsPerSec >= minDurableShare*p.mem.OpsPerSec)
		out = append(out, t)
	}
	return out
}

// commas formats n with thousands separators, as in 100,000.
func commas(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// ratioPair is a ctn row and the floor row run after it for the ratio target.
type ratioPair struct{ ctn, floor Row }

func (p ratioPair) ok() bool { return p.ctn.ok() && p.floor.ok() && p.floor.MSPerOp > 0 }

func (p ratioPair) ratio() float64 { return p.ctn.MSPerOp / p.floor.MSPerOp }

// ratioPairs matches each ctn ratio row of engine with the floor row that
// follows it.
func ratioPairs(rows []Row, engine string) []ratioPair {
	var out []ratioPair
	for i, c := range rows {
		if c.Comparison != ComparisonRatio || c.Mode != ModeCtn || c.Engine != engine {
			continue
		}
		for _, f := range rows[i+1:] {
			if f.Comparison == ComparisonRatio && f.Mode == ModeFloor && f.Engine == engine {
				out = append(out, ratioPair{ctn: c, floor: f})
				break
			}
		}
	}
	return out
}

// medianRatioTarget judges the ctn vs floor target on the median ratio of
// the pairs. A failed row fails the target.
func medianRatioTarget(engine string, pairs []ratioPair) Target {
	t := Target{Name: floorTargetName, Engine: engine,
		Goal: fmt.Sprintf("ctn <= %dx per operation, median of %d pairs", maxFloorRatio,
			len(pairs))}
	ratios := make([]float64, len(pairs))
	var ctn, floor []float64
	for i, p := range pairs {
		if !p.ok() {
			t.Measured = "a row failed"
			t.Met = verdict(false)
			return t
		}
		ratios[i] = p.ratio()
		ctn = append(ctn, p.ctn.MSPerOp)
		floor = append(floor, p.floor.MSPerOp)
	}
	m := median(ratios)
	t.Measured = fmt.Sprintf("%.2f us vs %.2f us per operation (medians): %.2fx, "+
		"pairs %.2fx to %.2fx", median(ctn)*1000, median(floor)*1000, m, ratios[0],
		ratios[len(ratios)-1])
	t.Met = verdict(m <= maxFloorRatio)
	return t
}

// medianRateTarget judges the ctn throughput target on the median rate of
// the ctn rows of the pairs, which repeat the same run. A failed row fails
// the target.
func medianRateTarget(engine string, pairs []ratioPair) Target {
	t := Target{Name: throughputTargetName, Engine: engine,
		Goal: fmt.Sprintf(">= %d ops/s, median of %d runs", minThroughput, len(pairs))}
	rates := make([]float64, len(pairs))
	for i, p := range pairs {
		if !p.ctn.ok() {
			t.Measured = "a row failed"
			t.Met = verdict(false)
			return t
		}
		rates[i] = p.ctn.OpsPerSec
	}
	m := median(rates)
	t.Measured = fmt.Sprintf("%.0f ops/s, runs %.0f to %.0f", m, rates[0], rates[len(rates)-1])
	t.Met = verdict(m >= minThroughput)
	return t
}

// median returns the median of v, which it sorts.
func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
