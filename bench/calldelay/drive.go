package calldelay

import (
	"context"
	"sync"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/bench/internal/load"
	"github.com/callhost/callhost/client"
)

// progressStep returns how many completions the controller lets pass
// between progress reports: about 1% of n, and at least min(n, 10), so that
// small batches are not reported operation by operation.
func progressStep(n int) int {
	return max((n+99)/100, min(n, 10))
}

// startOptions packs the controller's options into the int that its start
// handler takes: fanout in bit 0, the chunk size in bits 8-31 and the call
// timeout in ms in bits 32-63.
func startOptions(fanout bool, chunk int, timeout time.Duration) int {
	opts := min(chunk, 1<<24-1) << 8
	if fanout {
		opts |= 1
	}
	return opts | int(timeout.Milliseconds())<<32
}

// summaryMsg is the controller's summary as its "summary" call carries it.
type summaryMsg struct {
	Completed int64            `msgpack:"completed"`
	Invalid   int64            `msgpack:"invalid"`
	Failed    int64            `msgpack:"failed"`
	Errors    map[string]int64 `msgpack:"errors"`
	WallNS    int64            `msgpack:"wall_ns"`
}

// driveCtn sends the one call that starts a batch on a controller object and
// waits for its summary. The controller reports progress to this client's
// "progress" handler. The returned summary's WallNS is the runner's time from
// sending the start call to receiving the summary; inner is the
// controller's own.
func driveCtn(ctx context.Context, url string, n int, fanout bool, cfg *Config,
	tr *tracker) (sum *load.Summary, inner time.Duration, err error) {
	conn, err := client.Dial(ctx, url, nil)
	if err != nil {
		return nil, 0, err
	}
	defer conn.Close()
	got := make(chan summaryMsg, 1)
	conn.Handle("progress", func(_ context.Context, in *client.Invocation) (any, error) {
		var done, errs int64
		if err := in.Decode(&done, &errs); err != nil {
			return nil, err
		}
		tr.set(done, errs)
		return nil, nil
	})
	conn.Handle("summary", func(_ context.Context, in *client.Invocation) (any, error) {
		var m summaryMsg
		if err := in.Decode(&m); err != nil {
			return nil, err
		}
		got <- m
		return nil, nil
	})
	start := time.Now()
	op := callhost.Op("start", n, classTarget, progressStep(n),
		startOptions(fanout, cfg.Chunk, cfg.CallTimeout))
	if _, err := conn.Call(ctx, callhost.Object(classController, "c"), op); err != nil {
		return nil, 0, err
	}
	select {
	case m := <-got:
		tr.set(m.Completed, m.Failed+m.Invalid)
		return &load.Summary{Completed: m.Completed, Invalid: m.Invalid, Failed: m.Failed,
			Errors: m.Errors, WallNS: time.Since(start).Nanoseconds()}, time.Duration(m.WallNS), nil
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
}

// driveWS makes n calls over one connection with client.CallFunc, keeping
// at most cfg.Window in flight, and waits for every outcome.
func driveWS(ctx context.Context, url string, n int, fanout bool, cfg *Config,
	tr *tracker) (*load.Summary, error) {
	conn, err := client.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var c load.Counter
	var wg sync.WaitGroup
	window := make(chan struct{}, cfg.Window)
	finish := func(i int, res callhost.Result, err error) {
		c.Add(checkDouble(i, res, err))
		tr.set(c.Progress())
		<-window
		wg.Done()
	}
	start := time.Now()
	for i := 0; i < n; i++ {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		wg.Add(1)
		err := conn.CallFunc(targetOf(i, fanout), callhost.Op("double", i),
			func(res callhost.Result, err error) { finish(i, res, err) })
		if err != nil {
			finish(i, nil, err)
		}
	}
	if err := waitGroup(ctx, &wg); err != nil {
		return nil, err
	}
	return c.Summary(time.Since(start)), nil
}

// waitGroup waits for wg or for ctx to end.
func waitGroup(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
