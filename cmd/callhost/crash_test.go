package main

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/guesttest"
)

const (
	crashBatches   = 40
	crashBatchSize = 500 // crashBatches * crashBatchSize calls in all
	crashTargets   = 8
	crashKills     = 5
)

// TestCrashRecovery drives calls with continuations through callhost serve,
// kills it with SIGKILL at random moments, restarts it on the same data
// directory, and checks that every call got exactly one outcome and every
// counter equals the increments its calls made.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test runs several servers")
	}
	modules := t.TempDir()
	for _, class := range []string{"driver", "counter"} {
		err := guesttest.Compile(mustAbs(t, "testdata/crashguest"),
			filepath.Join(modules, class+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
	}
	data := t.TempDir()
	c := &crashCluster{t: t, args: []string{"-modules", modules, "-data-dir", data}}
	c.start()

	c.fireAll()
	if c.recovered < crashKills/2 {
		t.Errorf("%d of %d restarts found work to recover; the kills missed the load",
			c.recovered, crashKills)
	}
	t.Logf("%d of %d restarts recovered queued work", c.recovered, crashKills)

	report := c.waitReport(crashBatches * crashBatchSize)
	if report["calls"] != crashBatches*crashBatchSize {
		t.Errorf("calls with an outcome = %d, want %d", report["calls"],
			crashBatches*crashBatchSize)
	}
	if report["repeated"] != 0 {
		t.Errorf("calls whose continuation ran more than once = %d, want 0", report["repeated"])
	}
	if report["ok"] != crashBatches*crashBatchSize {
		t.Errorf("successful outcomes = %d, want all; report %v", report["ok"], report)
	}
	total := 0
	for i := 0; i < crashTargets; i++ {
		var n int
		c.call(callhost.Object("counter", itoa(i)), callhost.Op("count"), &n)
		total += n
	}
	if total != crashBatches*crashBatchSize {
		t.Errorf("sum of counters = %d, want %d", total, crashBatches*crashBatchSize)
	}
}

func mustAbs(t *testing.T, path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

func itoa(i int) string { return string(rune('0' + i)) }

// crashCluster is one callhost serve that the test kills and restarts.
type crashCluster struct {
	t    *testing.T
	args []string

	mu        sync.Mutex
	proc      *serverProc
	recovered int // restarts that found work to recover
}

func (c *crashCluster) start() {
	p := startServer(c.t, c.args...)
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
}

func (c *crashCluster) killAndRestart() {
	c.mu.Lock()
	p := c.proc
	c.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	<-p.exited
	c.start()
	c.mu.Lock()
	if strings.Contains(c.proc.log(), "recovered from store") {
		c.recovered++
	}
	c.mu.Unlock()
}

func (c *crashCluster) addr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc.addr
}

// call makes one call, retrying across restarts until it succeeds.
func (c *crashCluster) call(to callhost.Address, op callhost.Operation, out any) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if c.try(to, op, out) == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("call %s %s did not succeed within 2 minutes", to, op.Handler())
}

func (c *crashCluster) try(to callhost.Address, op callhost.Operation, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, "ws://"+c.addr()+"/ws", nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	res, err := conn.Call(ctx, to, op)
	if err != nil {
		return err
	}
	if out != nil {
		return res.Decode(out)
	}
	return nil
}

// fireAll fires every batch, and after every few batches kills the server
// a random few milliseconds later, while the batch's calls run. A batch
// whose answer was lost to a kill is fired again; the driver ignores repeats.
func (c *crashCluster) fireAll() {
	driver := callhost.Object("driver", "d")
	every := crashBatches / (crashKills + 1)
	for b := 0; b < crashBatches; b++ {
		c.call(driver, callhost.Op("fire", b, crashBatchSize, crashTargets), nil)
		if b%every == every-1 && b/every < crashKills {
			time.Sleep(time.Duration(rand.IntN(8)) * time.Millisecond)
			c.killAndRestart()
		}
	}
}

func (c *crashCluster) waitReport(want int) map[string]int {
	deadline := time.Now().Add(2 * time.Minute)
	var report map[string]int
	for time.Now().Before(deadline) {
		c.call(callhost.Object("driver", "d"), callhost.Op("report"), &report)
		if report["calls"] >= want {
			return report
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("only %d of %d calls have an outcome after 2 minutes: %v\n%s",
		report["calls"], want, report, c.proc.log())
	return report
}
