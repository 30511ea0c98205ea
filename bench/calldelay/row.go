package calldelay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost/bench/internal/load"
)

// rowSpec is one row of the sweep.
type rowSpec struct {
	mode   Mode
	ops    int
	fanout bool
	engine string
	store  string // the object store, when it differs from Config.Store
	// comparison is ComparisonDurable for the rows of the store comparison.
	comparison string
}

func (s rowSpec) String() string {
	name := string(s.mode)
	if s.fanout {
		name += "+fanout"
	}
	if s.store != "" {
		name += " " + s.store
	}
	return fmt.Sprintf("%s n=%d %s", name, s.ops, s.engine)
}

// tracker is the progress of the running row.
type tracker struct {
	done, errs atomic.Int64
}

// set records progress; reports that arrive out of order never move it back.
func (t *tracker) set(done, errs int64) {
	for {
		old := t.done.Load()
		if done < old || t.done.CompareAndSwap(old, done) {
			break
		}
	}
	for {
		old := t.errs.Load()
		if errs < old || t.errs.CompareAndSwap(old, errs) {
			break
		}
	}
}

// outcome is the end of a row: a summary, or the error that stopped it.
type outcome struct {
	sum   *load.Summary
	inner time.Duration
	err   error
}

// child is a running child process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tailBuffer
	events chan load.Event
}

func (r *runner) startChild(spec rowSpec) (*child, error) {
	a := childArgs{mode: spec.mode, ops: spec.ops, fanout: spec.fanout, engine: spec.engine,
		wasm: r.ctlWasm, cache: r.cacheDir, window: r.cfg.Window,
		workers: r.cfg.EmbedWorkers, callTimeout: r.cfg.CallTimeout, store: r.storeOf(spec),
		data: r.cfg.Work}
	name, args := r.cfg.ChildCmd[0], r.cfg.ChildCmd[1:]
	if spec.mode == ModeExtism {
		name, args, a.wasm = r.extismExe, nil, r.extismWasm
	}

	cmd := exec.Command(name, append(append([]string(nil), args...), a.flags()...)...)
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	c := &child{cmd: cmd, stderr: &tailBuffer{max: 4 << 10}, events: make(chan load.Event, 64)}
	cmd.Stderr = c.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child for %s: %w", spec, err)
	}
	c.stdin = stdin
	go func() {
		defer close(c.events)
		if err := load.ReadEvents(stdout, func(ev load.Event) { c.events <- ev }); err != nil {
			c.events <- load.Event{Type: load.EventFailed, Error: err.Error()}
		}
	}()
	return c, nil
}

// stop releases the child, waits up to 15 s for it to exit, then kills it.
func (c *child) stop() {
	go func() {
		for range c.events { // unblock the reader so that the child can exit
		}
	}()
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = c.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// storeOf returns the object store of the row spec.
func (r *runner) storeOf(spec rowSpec) string {
	if spec.store != "" {
		return spec.store
	}
	return r.cfg.Store
}

// runRow runs one row in a new child process and returns its result.
func (r *runner) runRow(spec rowSpec) Row {
	row := Row{Mode: spec.mode, Ops: spec.ops, Fanout: spec.fanout, Engine: spec.engine,
		Store: r.storeOf(spec), Comparison: spec.comparison,
		LoadAverage: firstField(loadAverage())}
	if !runsRuntime[spec.mode] {
		row.Store = "none"
	}
	c, err := r.startChild(spec)
	if err != nil {
		row.Failure = err.Error()
		return row
	}
	tr := &tracker{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, hang := r.watch(ctx, spec, c, tr)
	if rss, err := load.PeakRSS(c.cmd.Process.Pid); err == nil {
		row.PeakRSSBytes = rss
	}
	if hang {
		_ = c.cmd.Process.Kill()
	}
	cancel()
	c.stop()
	row.fill(res, tr, hang)
	if st := c.cmd.ProcessState; st != nil {
		row.CPUMS = float64((st.UserTime() + st.SystemTime()).Microseconds()) / 1000
	}
	if res.err != nil && !hang {
		row.Failure = strings.TrimSpace(res.err.Error() + "\n" + c.stderr.String())
	}
	return row
}

// watch follows the child's events, starts the runner's driver once a
// serving child is ready, and ends the row when it has a summary, when it
// fails, or when it makes no progress for cfg.Stall (hang).
func (r *runner) watch(ctx context.Context, spec rowSpec, c *child,
	tr *tracker) (outcome, bool) {
	results := make(chan outcome, 4)
	bar := r.newBar(spec, tr)
	defer bar.finish()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last, lastChange := int64(-1), time.Now()
	events := c.events
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				events = nil
				results <- outcome{err: errors.New("child exited before the row finished")}
				continue
			}
			r.handleEvent(ctx, spec, ev, tr, results)
			if ev.Type == load.EventReady {
				lastChange = time.Now() // start-up is progress; progress events may repeat a count
			}
		case res := <-results:
			return res, false
		case <-tick.C:
			if d := tr.done.Load(); d != last {
				last, lastChange = d, time.Now()
			}
			bar.update()
			if time.Since(lastChange) > r.cfg.Stall {
				return outcome{}, true
			}
		}
	}
}

func (r *runner) handleEvent(ctx context.Context, spec rowSpec, ev load.Event,
	tr *tracker, results chan<- outcome) {
	switch ev.Type {
	case load.EventReady:
		go func() { results <- r.drive(ctx, spec, ev.URL, tr) }()
	case load.EventProgress:
		tr.set(ev.Done, ev.Errors)
	case load.EventSummary:
		tr.set(ev.Summary.Completed, ev.Summary.Failed+ev.Summary.Invalid)
		results <- outcome{sum: ev.Summary}
	case load.EventFailed:
		results <- outcome{err: errors.New(ev.Error)}
	}
}

// drive runs the runner's side of a row whose child serves WebSocket.
func (r *runner) drive(ctx context.Context, spec rowSpec, url string, tr *tracker) outcome {
	if spec.mode == ModeCtn {
		sum, inner, err := driveCtn(ctx, url, spec.ops, spec.fanout, &r.cfg, tr)
		return outcome{sum: sum, inner: inner, err: err}
	}
	sum, err := driveWS(ctx, url, spec.ops, spec.fanout, &r.cfg, tr)
	return outcome{sum: sum, err: err}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
