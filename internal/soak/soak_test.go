// Package soak runs well-behaved clients against a real server while hostile
// guests and misbehaving clients run beside them, and checks that every
// well-behaved call gets its correct outcome.
//
// Under go test it runs a phase with faults between two phases without, of
// 1.5 s each. For the full run, which records its throughput in
// bench/results/soak.json and soak.md, set the time with faults and the
// output directory:
//
//	CALLHOST_SOAK_DURATION=1m CALLHOST_SOAK_OUT=bench/results \
//		go test -run Soak -v -timeout 10m ./internal/soak
//
// The time with faults is split into CALLHOST_SOAK_ROUNDS phases (default 8),
// and a phase without faults comes before, between and after them. A
// relative CALLHOST_SOAK_OUT is taken from the repository root.
// CALLHOST_SOAK_PROFILE=DIR writes a CPU and an allocation profile of each
// phase to DIR. TestFaultCost measures the CPU time of each kind of fault
// alone.
package soak

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { guesttest.Cleanup() }))
}

// Sizes of the well-behaved load and of the server's limits.
const (
	clients      = 4        // well-behaved connections
	callers      = 8        // goroutines calling on each connection
	maxFrameSize = 64 << 10 // the server's frame limit
	blobSize     = 60 << 10 // result size that the slow readers ask for
	turnTimeout  = 500 * time.Millisecond
)

// env is a runtime and a server on 127.0.0.1 with the test guest loaded as
// "calc", and the hostile guest as "hostile" and as "bulk". The slow readers
// call "bulk", so that their load does not depend on whether the runtime
// throttles "hostile".
type env struct {
	rt    *runtime.Runtime
	store *store.Memory
	srv   *server.Server
	url   string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := store.NewMemory()
	rt, err := runtime.New(ctx, runtime.Options{Store: st, TurnTimeout: turnTimeout})
	if err != nil {
		t.Fatal(err)
	}
	load := map[string]string{"calc": "../../runtime/testdata/testguest",
		"hostile": "../../runtime/testdata/hostile", "bulk": "../../runtime/testdata/hostile"}
	for class, pkg := range load {
		if err := rt.Load(ctx, class, guesttest.Build(t, pkg)); err != nil {
			t.Fatal(err)
		}
	}
	srv := server.New(rt, server.Options{MaxFrameSize: maxFrameSize,
		MaxQueuedBytes: 1 << 20})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		ts.Close()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("runtime shutdown: %v", err)
		}
	})
	return &env{rt: rt, store: st, srv: srv,
		url: "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"}
}

func (e *env) dial(t *testing.T) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// roundCount returns the number of phases with faults: CALLHOST_SOAK_ROUNDS,
// or 8 when CALLHOST_SOAK_DURATION is set and 1 otherwise.
func roundCount(t *testing.T) int {
	v := os.Getenv("CALLHOST_SOAK_ROUNDS")
	if v == "" {
		if os.Getenv("CALLHOST_SOAK_DURATION") != "" {
			return 8
		}
		return 1
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("invalid CALLHOST_SOAK_ROUNDS %q: use a positive integer", v)
	}
	return n
}

// phaseLength returns the length of each phase: CALLHOST_SOAK_DURATION, the
// time with faults, divided by the number of rounds. Without the variable
// each phase runs for 1.5 s.
func phaseLength(t *testing.T) time.Duration {
	v := os.Getenv("CALLHOST_SOAK_DURATION")
	if v == "" {
		return 1500 * time.Millisecond
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("invalid CALLHOST_SOAK_DURATION %q: use a positive duration such as 1m", v)
	}
	return d / time.Duration(roundCount(t))
}

// tally counts the outcomes of the well-behaved calls.
type tally struct {
	ok, bad atomic.Int64
	mu      sync.Mutex
	first   []string // the first failures
}

func (c *tally) fail(msg string) {
	c.bad.Add(1)
	c.mu.Lock()
	if len(c.first) < 5 {
		c.first = append(c.first, msg)
	}
	c.mu.Unlock()
}

// wellBehaved runs clients*callers goroutines that call calc/w<k>.double(i)
// and check each result, until ctx ends.
func wellBehaved(ctx context.Context, t *testing.T, e *env, c *tally) {
	var wg sync.WaitGroup
	for k := range clients {
		conn := e.dial(t)
		defer conn.Close()
		for j := range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				callLoop(ctx, conn, callhost.Object("calc", "w"+string(rune('a'+k))), j, c)
			}()
		}
	}
	wg.Wait()
}

func callLoop(ctx context.Context, conn *client.Conn, to callhost.Address, j int, c *tally) {
	for i := j; ctx.Err() == nil; i += callers {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := conn.Call(cctx, to, callhost.Op("double", i))
		cancel()
		var got int
		if err == nil {
			err = res.Decode(&got)
		}
		switch {
		case err != nil:
			c.fail(to.String() + ": " + err.Error())
		case got != 2*i:
			c.fail(to.String() + ": wrong result")
		default:
			c.ok.Add(1)
		}
	}
}

// phase is the outcome of one phase of well-behaved load.
type phase struct {
	Name       string  `json:"name"`
	WithFaults bool    `json:"with_faults"`
	Seconds    float64 `json:"seconds"`
	Calls      int64   `json:"calls"`
	Failed     int64   `json:"failed"`
	PerSec     float64 `json:"calls_per_second"`
	Faults     int64   `json:"faults"`
	Slow       int64   `json:"slow_readers_disconnected"`
	Hostiles   int64   `json:"hostile_calls"`
	// Throttled counts the hostile calls rejected with throttled because
	// earlier hostile calls ran past the turn deadline or trapped.
	Throttled int64 `json:"hostile_calls_throttled"`
	// LoadBefore and LoadAfter are the machine's 1-minute load average at
	// the start and the end of the phase, empty where /proc/loadavg is
	// missing. Other processes' load changes the throughput a lot.
	LoadBefore string `json:"load_average_before"`
	LoadAfter  string `json:"load_average_after"`
	// CPUSeconds is the CPU time that the test process used during the
	// phase, server, runtime, clients and faults together, and CallsPerCPU
	// the well-behaved calls per CPU second. Unlike calls per second, the
	// ratio depends little on how much CPU other processes leave free,
	// though contention still changes it. Both are 0 where the CPU time
	// cannot be read.
	CPUSeconds  float64 `json:"cpu_seconds"`
	CallsPerCPU float64 `json:"calls_per_cpu_second"`
	// Weight is the share of the phase in the sums of its condition: 0.5
	// for the first and the last baseline phase, 1 for the others.
	Weight float64 `json:"weight"`
	// After is the state of the process once the phase has ended, to show
	// growth from phase to phase.
	After snapshot `json:"after"`
}

// run runs phase number i, the well-behaved load for d, with the faults
// when withFaults.
func run(t *testing.T, e *env, prof *profiler, i int, name string, d time.Duration,
	withFaults bool) phase {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var c tally
	var f *faults
	slowBefore := e.srv.Stats().SlowReaders
	loadBefore := loadAverage()
	prof.start(t, i, name)
	cpuBefore := processCPU()
	if withFaults {
		f = startFaults(ctx, t, e)
	}
	start := time.Now()
	wellBehaved(ctx, t, e, &c)
	secs := time.Since(start).Seconds()
	cpu := (processCPU() - cpuBefore).Seconds()
	prof.stop(t, i, name)
	p := phase{Name: name, WithFaults: withFaults, Seconds: secs, Calls: c.ok.Load(),
		Failed: c.bad.Load(), PerSec: float64(c.ok.Load()) / secs, LoadBefore: loadBefore,
		LoadAfter: loadAverage(), CPUSeconds: cpu}
	if cpu > 0 {
		p.CallsPerCPU = float64(p.Calls) / cpu
	}
	if f != nil {
		f.wait(t)
		p.Faults, p.Hostiles, p.Throttled = f.count.Load(), f.hostile.Load(), f.throttled.Load()
	}
	p.Slow = e.srv.Stats().SlowReaders - slowBefore
	p.After = takeSnapshot(e)
	if p.Failed > 0 {
		t.Errorf("%s: %d well-behaved calls failed, first: %v", name, p.Failed, c.first)
	}
	if p.Calls == 0 {
		t.Errorf("%s: no well-behaved call completed", name)
	}
	t.Logf("%s: %d calls in %.1fs, %.0f/s, %.0f per CPU second; %d faults, %d hostile "+
		"calls, %d throttled, %d slow readers cut; after: %+v", name, p.Calls, secs, p.PerSec,
		p.CallsPerCPU, p.Faults, p.Hostiles, p.Throttled, p.Slow, p.After)
	return p
}

// TestSoak alternates phases without and with faults, starting and ending
// without: B1 F1 B2 F2 ... Bn Fn Bn+1. The comparison weighs B1 and Bn+1 by
// half, so that a drift of the machine or the process that is linear in
// time weighs on both sides alike. Phases of at most 10 s (the runtime's
// default strike window) keep the hostile class's throttle state from one
// phase with faults to the next, as if the faults ran without a break.
func TestSoak(t *testing.T) {
	e := newEnv(t)
	d, rounds := phaseLength(t), roundCount(t)
	prof := newProfiler(t)
	var phases []phase
	for r := 1; r <= rounds+1; r++ {
		weight := 1.0
		if r == 1 || r == rounds+1 {
			weight = 0.5
		}
		p := run(t, e, prof, len(phases)+1, fmt.Sprintf("baseline %d", r), d, false)
		p.Weight = weight
		phases = append(phases, p)
		if r <= rounds {
			p := run(t, e, prof, len(phases)+1, fmt.Sprintf("faults %d", r), d, true)
			p.Weight = 1
			phases = append(phases, p)
		}
	}
	r := summarize(phases)
	if r.Faults.Faults == 0 || r.Faults.Hostiles == 0 {
		t.Errorf("faults did not run: %+v", r.Faults)
	}
	t.Logf("throughput with faults is %.1f%% lower", r.DropPct)
	if r.CPUDropPct != 0 {
		t.Logf("calls per CPU second with faults are %.1f%% lower", r.CPUDropPct)
	}
	if out := os.Getenv("CALLHOST_SOAK_OUT"); out != "" {
		r.Phase, r.Rounds = d.String(), rounds
		writeResults(t, out, r)
	}
}
