// Package load is shared by the call-delay runner and the child processes it
// starts: the events a child writes to its standard output, one JSON object
// per line, and a driver that runs n operations and reports progress.
package load

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost"
)

// Event types.
const (
	// EventReady reports that a child serving callhost listens at URL.
	EventReady = "ready"
	// EventProgress reports Done operations, Errors of them failed or invalid.
	EventProgress = "progress"
	// EventSummary ends a run with its Summary.
	EventSummary = "summary"
	// EventFailed reports that the child could not run, with the reason in
	// Error.
	EventFailed = "failed"
)

// Event is one line a child writes to its standard output.
type Event struct {
	Type    string   `json:"type"`
	URL     string   `json:"url,omitempty"`
	Done    int64    `json:"done,omitempty"`
	Errors  int64    `json:"errors,omitempty"`
	Summary *Summary `json:"summary,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Summary is the outcome of a run of operations.
type Summary struct {
	Completed int64            `json:"completed"` // operations with an outcome
	Invalid   int64            `json:"invalid"`   // successful outcomes with a wrong value
	Failed    int64            `json:"failed"`    // outcomes with an error
	Errors    map[string]int64 `json:"errors"`    // failed outcomes by error code name
	WallNS    int64            `json:"wall_ns"`   // from the first call to the last outcome
}

// Emitter writes events as JSON lines. It is safe for concurrent use.
type Emitter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewEmitter returns an Emitter that writes to w.
func NewEmitter(w io.Writer) *Emitter { return &Emitter{w: w} }

// Emit writes e. Errors are dropped: the runner treats a silent child as
// hung.
func (e *Emitter) Emit(ev Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(append(b, '\n'))
}

// ReadEvents calls fn for each event line of r until r ends.
func ReadEvents(r io.Reader, fn func(Event)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("invalid event line %q: %w", sc.Text(), err)
		}
		fn(ev)
	}
	return sc.Err()
}

// ErrInvalid is returned by an operation whose result has the wrong value.
var ErrInvalid = errors.New("invalid result")

// Counter counts outcomes. It is safe for concurrent use.
type Counter struct {
	done, invalid, failed atomic.Int64

	mu   sync.Mutex
	errs map[string]int64
}

// Add counts the outcome err of one operation: nil, [ErrInvalid], or an
// error whose callhost code names it.
func (c *Counter) Add(err error) {
	switch {
	case err == nil:
	case errors.Is(err, ErrInvalid):
		c.invalid.Add(1)
	default:
		c.failed.Add(1)
		name := callhost.AsError(err).Code.String()
		c.mu.Lock()
		if c.errs == nil {
			c.errs = map[string]int64{}
		}
		c.errs[name]++
		c.mu.Unlock()
	}
	c.done.Add(1)
}

// Progress returns the operations counted and how many of them failed or
// were invalid.
func (c *Counter) Progress() (done, errs int64) {
	return c.done.Load(), c.failed.Load() + c.invalid.Load()
}

// Summary returns the counts with wall time wall.
func (c *Counter) Summary(wall time.Duration) *Summary {
	c.mu.Lock()
	errs := make(map[string]int64, len(c.errs))
	for k, v := range c.errs {
		errs[k] = v
	}
	c.mu.Unlock()
	return &Summary{Completed: c.done.Load(), Invalid: c.invalid.Load(),
		Failed: c.failed.Load(), Errors: errs, WallNS: wall.Nanoseconds()}
}

// ProgressInterval is how often Run reports progress.
const ProgressInterval = 100 * time.Millisecond

// Run runs op for i in [0, n) on workers goroutines, each taking the next i
// until none is left, and counts the outcomes. It emits progress every
// ProgressInterval and returns the summary; it does not emit it.
func Run(n, workers int, op func(i int) error, emit func(Event)) *Summary {
	var c Counter
	var next atomic.Int64
	stop := make(chan struct{})
	ticker := reportProgress(&c, emit, stop)
	start := time.Now()
	var wg sync.WaitGroup
	for range max(1, min(workers, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				c.Add(op(int(i)))
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	<-ticker
	return c.Summary(wall)
}

// reportProgress emits c's progress until stop is closed, and closes the
// returned channel when it has returned.
func reportProgress(c *Counter, emit func(Event), stop <-chan struct{}) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d, e := c.Progress()
				emit(Event{Type: EventProgress, Done: d, Errors: e})
			}
		}
	}()
	return done
}

// PeakRSS returns the peak resident set size of process pid in bytes: VmHWM
// in /proc/PID/status (Linux only).
func PeakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(
			strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid VmHWM line %q: %w", line, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// AwaitRelease blocks until the standard input ends. A child calls it after
// its summary, so that the runner can read the child's peak RSS first.
func AwaitRelease() { _, _ = io.Copy(io.Discard, os.Stdin) }
