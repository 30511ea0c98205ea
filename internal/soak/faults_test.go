package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// faults runs hostile calls and misbehaving clients until its context ends.
type faults struct {
	e         *env
	wg        sync.WaitGroup
	count     atomic.Int64 // faults injected
	hostile   atomic.Int64 // hostile calls that ran and ended with their expected code
	throttled atomic.Int64 // hostile calls rejected because the class was throttled
	mu        sync.Mutex
	errs      []string
}

func startFaults(ctx context.Context, t *testing.T, e *env) *faults {
	f := &faults{e: e}
	for _, fn := range []func(context.Context, int) error{
		f.hostileCall, f.garbage, f.oversized, f.disconnect, f.slowReader,
	} {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if err := fn(ctx, i); err != nil && ctx.Err() == nil {
					f.report(err)
				}
				f.count.Add(1)
			}
		}()
	}
	return f
}

func (f *faults) report(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) < 10 {
		f.errs = append(f.errs, err.Error())
	}
}

// wait waits for the faults to stop and fails t for every fault that did not
// end as expected.
func (f *faults) wait(t *testing.T) {
	f.wg.Wait()
	for _, e := range f.errs {
		t.Errorf("fault: %s", e)
	}
}

// hostileCases are the hostile calls, made in turn, with their codes.
var hostileCases = []struct {
	op   callhost.Operation
	code callhost.Code
	alt  callhost.Code // also accepted: a loaded machine can slow the bomb past the deadline
}{
	{op: callhost.Op("loop"), code: callhost.CodeTurnDeadline},
	{op: callhost.Op("panic"), code: callhost.CodeGuestTrap},
	{op: callhost.Op("bomb"), code: callhost.CodeGuestTrap, alt: callhost.CodeTurnDeadline},
	{op: callhost.Op("nilmap"), code: callhost.CodeGuestTrap},
	{op: callhost.Op("exit", 2), code: callhost.CodeGuestTrap},
	{op: callhost.Op("huge", 2), code: callhost.CodeTooLarge},
	{op: callhost.Op("sleep", 5000), code: callhost.CodeTurnDeadline},
	{op: callhost.Op("flood", 2000, 20), code: callhost.CodeOK},
}

// hostileCall makes one hostile call on a new raw connection, then pauses.
// Every case may also get throttled: the loops, traps and sleeps throttle the
// class for a while.
func (f *faults) hostileCall(ctx context.Context, i int) error {
	conn, err := dialRaw(ctx, f.e.url)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	hc := hostileCases[i%len(hostileCases)]
	steps, _ := hc.op.AppendSteps(nil)
	to := callhost.Object("hostile", fmt.Sprint("h", i%3))
	res, err := roundTrip(ctx, conn, protocol.AppendCall(nil, &protocol.Call{
		ReqID: 1, Target: to, Steps: steps}))
	if err != nil {
		return err
	}
	code := resultCode(res)
	switch {
	case code == callhost.CodeThrottled:
		f.throttled.Add(1)
	case code != hc.code && (hc.alt == 0 || code != hc.alt):
		return fmt.Errorf("hostile %s: code %s, want %s", hc.op.Handler(), code, hc.code)
	default:
		f.hostile.Add(1)
	}
	return pause(ctx, 100*time.Millisecond)
}

// garbage sends bytes that are not a frame and a text message, and expects
// a bad_request result for each on the same connection.
func (f *faults) garbage(ctx context.Context, i int) error {
	conn, err := dialRaw(ctx, f.e.url)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	junk := make([]byte, 1+rand.IntN(200))
	for j := range junk {
		junk[j] = byte(rand.Uint32())
	}
	junk[0] = 0xc1 // never a MessagePack value
	for _, typ := range []websocket.MessageType{websocket.MessageBinary, websocket.MessageText} {
		if err := conn.Write(ctx, typ, junk); err != nil {
			return err
		}
		res, err := read(ctx, conn)
		if err != nil {
			return err
		}
		if code := resultCode(res); code != callhost.CodeBadRequest {
			return fmt.Errorf("garbage frame: code %s, want bad_request", code)
		}
	}
	return pause(ctx, 10*time.Millisecond)
}

// oversized sends a call frame just over the frame limit, which gets
// too_large, then one over the read limit, which ends the connection with
// status 1009.
func (f *faults) oversized(ctx context.Context, i int) error {
	conn, err := dialRaw(ctx, f.e.url)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	big := func(n int) []byte {
		steps, _ := callhost.Op("double", strings.Repeat("x", n)).AppendSteps(nil)
		return protocol.AppendCall(nil, &protocol.Call{ReqID: 7,
			Target: callhost.Object("calc", "big"), Steps: steps})
	}
	res, err := roundTrip(ctx, conn, big(maxFrameSize))
	if err != nil {
		return err
	}
	if code := resultCode(res); code != callhost.CodeTooLarge {
		return fmt.Errorf("oversized frame: code %s, want too_large", code)
	}
	_, err = roundTrip(ctx, conn, big(4*maxFrameSize))
	if s := websocket.CloseStatus(err); s != websocket.StatusMessageTooBig {
		return fmt.Errorf("frame over the read limit: %v, want close status 1009", err)
	}
	return pause(ctx, 50*time.Millisecond)
}

// disconnect starts a call that runs for 2 ms and drops the connection
// without a close frame right after sending it, so the call is still
// running when the server detects the closed connection.
func (f *faults) disconnect(ctx context.Context, i int) error {
	conn, err := dialRaw(ctx, f.e.url)
	if err != nil {
		return err
	}
	steps, _ := callhost.Op("spin", 2).AppendSteps(nil)
	frame := protocol.AppendCall(nil, &protocol.Call{ReqID: 1,
		Target: callhost.Object("calc", fmt.Sprint("d", i%4)), Steps: steps})
	err = conn.Write(ctx, websocket.MessageBinary, frame)
	conn.CloseNow()
	if err != nil {
		return err
	}
	return pause(ctx, 50*time.Millisecond)
}

// slowReader requests 200 results of 60 KiB and never reads them, until the
// server closes the connection or two seconds pass.
func (f *faults) slowReader(ctx context.Context, i int) error {
	conn, err := dialRaw(ctx, f.e.url)
	if err != nil {
		return err
	}
	defer conn.CloseNow()
	steps, _ := callhost.Op("blob", blobSize).AppendSteps(nil)
	for id := uint64(1); id <= 200; id++ {
		frame := protocol.AppendCall(nil, &protocol.Call{ReqID: id,
			Target: callhost.Object("bulk", fmt.Sprint("s", id%4)), Steps: steps})
		if err := conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
			return nil // the server cut the connection: the expected end
		}
	}
	return pause(ctx, 2*time.Second)
}

// dialRaw opens a WebSocket connection and reads the welcome frame.
func dialRaw(ctx context.Context, url string) (*websocket.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, url, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(-1)
	if _, err := read(dctx, conn); err != nil {
		conn.CloseNow()
		return nil, err
	}
	return conn, nil
}

// roundTrip sends frame and returns the next frame the server sends.
func roundTrip(ctx context.Context, conn *websocket.Conn, frame []byte) ([]byte, error) {
	if err := conn.Write(ctx, websocket.MessageBinary, frame); err != nil {
		return nil, err
	}
	return read(ctx, conn)
}

// read returns the next frame, waiting at most 10 s even after ctx ends, so
// that a fault in progress still checks the server's response.
func read(ctx context.Context, conn *websocket.Conn) ([]byte, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, b, err := conn.Read(rctx)
	return b, err
}

// resultCode returns the code of a result frame, or -1 when it is not one.
func resultCode(frame []byte) callhost.Code {
	var o protocol.Outcome
	if err := protocol.DecodeResult(frame, &o); err != nil {
		return -1
	}
	if o.Err == nil {
		return callhost.CodeOK
	}
	return o.Err.Code
}

// pause waits for d or for ctx.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
	return nil
}
