package soak

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
)

// TestFaultCost runs each kind of fault alone, without the well-behaved
// load, and logs the CPU time of the process per fault. Set
// CALLHOST_SOAK_COST to the time per kind, such as 10s, to run it.
func TestFaultCost(t *testing.T) {
	v := os.Getenv("CALLHOST_SOAK_COST")
	if v == "" {
		t.Skip("set CALLHOST_SOAK_COST to the time per fault kind, such as 10s")
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("invalid CALLHOST_SOAK_COST %q: %v", v, err)
	}
	e := newEnv(t)
	f := &faults{e: e}
	kinds := []struct {
		name string
		fn   func(context.Context, int) error
	}{
		// idle injects nothing: it measures the CPU time of the idle process.
		{"idle", func(ctx context.Context, _ int) error { return pause(ctx, time.Second) }},
		{"hostile", f.hostileCall},
		{"garbage", f.garbage},
		{"oversized", f.oversized},
		{"disconnect", f.disconnect},
		{"slow reader", f.slowReader},
	}
	prof := newProfiler(t)
	for i, k := range kinds {
		prof.start(t, i, k.name)
		ctx, cancel := context.WithTimeout(context.Background(), d)
		cpu := processCPU()
		start := time.Now()
		n := 0
		for ; ctx.Err() == nil; n++ {
			if err := k.fn(ctx, n); err != nil && ctx.Err() == nil {
				t.Errorf("%s: %v", k.name, err)
			}
		}
		secs := time.Since(start).Seconds()
		used := (processCPU() - cpu).Seconds()
		cancel()
		prof.stop(t, i, k.name)
		t.Logf("%-11s %5d faults in %.1fs, %6.1f/s, CPU %.2fs (%.1f%% of one core), "+
			"%.3f ms CPU per fault; hostile run %d, throttled %d", k.name, n, secs,
			float64(n)/secs, used, 100*used/secs, 1000*used/float64(n),
			f.hostile.Swap(0), f.throttled.Swap(0))
	}
}

// TestHostileCallCost makes each hostile call twice on an idle server and
// logs its outcome, wall time and the CPU time of the process. It waits
// 1.5 s between calls, so that most calls find the class not throttled. Set
// CALLHOST_SOAK_COST to run it.
func TestHostileCallCost(t *testing.T) {
	if os.Getenv("CALLHOST_SOAK_COST") == "" {
		t.Skip("set CALLHOST_SOAK_COST to run it")
	}
	e := newEnv(t)
	ctx := context.Background()
	for i, hc := range hostileCases {
		for range 2 {
			time.Sleep(1500 * time.Millisecond)
			conn, err := dialRaw(ctx, e.url)
			if err != nil {
				t.Fatal(err)
			}
			steps, err := hc.op.AppendSteps(nil)
			if err != nil {
				t.Fatal(err)
			}
			frame := protocol.AppendCall(nil, &protocol.Call{ReqID: 1,
				Target: callhost.Object("hostile", fmt.Sprint("c", i)), Steps: steps})
			cpu := processCPU()
			start := time.Now()
			res, err := roundTrip(ctx, conn, frame)
			wall := time.Since(start)
			used := processCPU() - cpu
			conn.CloseNow()
			if err != nil {
				t.Fatalf("%s: %v", hc.op.Handler(), err)
			}
			t.Logf("%-7s %-14s wall %7.1f ms, CPU %7.1f ms", hc.op.Handler(),
				resultCode(res), float64(wall.Microseconds())/1000,
				float64(used.Microseconds())/1000)
		}
	}
}
