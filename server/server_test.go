package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/server"
	"github.com/coder/websocket"
)

func TestCallAndWait(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("echo", 42), 0)
	o := c.result()
	if o.ID != 1 || o.Err != nil {
		t.Fatalf("result %+v, error %v", o, o.Err)
	}
	if n := decodeInt(t, o.Value); n != 42 {
		t.Fatalf("echo returned %d, want 42", n)
	}
}

func TestCallerIsClient(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("hops"), 0)
	o := c.result()
	var hops []string
	if err := msgp.Unmarshal(o.Value, &hops); err != nil {
		t.Fatalf("decode %x (error %v): %v", o.Value, o.Err, err)
	}
	want := callhost.ClassClient + "/" + c.id
	if len(hops) < 2 || hops[0] != want || hops[1] != want {
		t.Fatalf("caller and hops %v, want %s as both", hops, want)
	}
}

func TestManyCallsOneConnection(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	const n = 2000
	go func() {
		for i := 1; i <= n; i++ {
			c.call(uint64(i), "obj"+string(rune('a'+i%7)), callhost.Op("echo", i), 0)
		}
	}()
	seen := make(map[uint64]bool, n)
	for len(seen) < n {
		o := c.result()
		if o.Err != nil {
			t.Fatalf("req %d failed: %v", o.ID, o.Err)
		}
		if got := decodeInt(t, o.Value); uint64(got) != o.ID {
			t.Fatalf("req %d returned %d", o.ID, got)
		}
		if seen[o.ID] {
			t.Fatalf("req %d answered twice", o.ID)
		}
		seen[o.ID] = true
	}
}

func TestUnknownClass(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	steps, _ := callhost.Op("echo", 1).AppendSteps(nil)
	c.send(protocol.AppendCall(nil, &protocol.Call{
		ReqID: 5, Target: callhost.Object("nosuch", "a"), Steps: steps,
	}))
	wantError(t, c.result(), 5, callhost.CodeNotFound)
}

func TestGuestError(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	c.call(3, "a", callhost.Op("fail", 1042, "out of stock"), 0)
	o := c.result()
	wantError(t, o, 3, 1042)
	if o.Err.Message != "out of stock" {
		t.Fatalf("message %q, want %q", o.Err.Message, "out of stock")
	}
}

// TestClientHandlerFromObject has an object call a handler of the client
// that called it. The continuation of that call sends the client's reply
// back to the client.
func TestClientHandlerFromObject(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("ask", c.id, "double", 21), 0)

	var v protocol.Invoke
	var askResult *protocol.Outcome
	for v.Handler == "" {
		b := c.read()
		if h, _ := protocol.ReadHeader(b); h.Type == protocol.TypeResult {
			var o protocol.Outcome
			protocol.DecodeResult(b, &o)
			askResult = &o
			continue
		}
		if err := protocol.DecodeInvoke(b, &v); err != nil {
			t.Fatal(err)
		}
	}
	if v.Handler != "double" || v.ReplyTo == 0 || v.From != callhost.Object(testClass, "a") {
		t.Fatalf("invoke %+v", v)
	}
	var arg int
	if err := (&rawArgs{v.Args}).decode(&arg); err != nil || arg != 21 {
		t.Fatalf("invoke args %x: %d, %v", v.Args, arg, err)
	}
	c.send(protocol.AppendReply(nil, v.ReplyTo, encode(t, arg*2), nil))

	for askResult == nil || askResult.Err != nil {
		if askResult != nil {
			t.Fatalf("ask failed: %v", askResult.Err)
		}
		o := c.result()
		askResult = &o
	}
	report := c.invoke()
	if report.Handler != "report" || report.ReplyTo != 0 {
		t.Fatalf("report invoke %+v", report)
	}
	var code, value int
	if err := (&rawArgs{report.Args}).decode(&code, &value); err != nil {
		t.Fatal(err)
	}
	if code != 0 || value != 42 {
		t.Fatalf("continuation reported [%d, %d], want [0, 42]", code, value)
	}
}

// rawArgs decodes an encoded argument array.
type rawArgs struct{ b []byte }

func (a *rawArgs) decode(vals ...any) error {
	r := msgp.NewReader(a.b)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	if n != len(vals) {
		return errors.New("argument count differs")
	}
	for _, v := range vals {
		raw, err := r.ReadRaw()
		if err != nil {
			return err
		}
		if err := msgp.Unmarshal(raw, v); err != nil {
			return err
		}
	}
	return nil
}

func TestFireAndForget(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("relay", c.id, "note", "hi"), protocol.FlagNoReply)
	// relay forwards the call it serves, and no one waits for that call.
	v := c.invoke()
	if v.Handler != "note" || v.ReplyTo != 0 {
		t.Fatalf("invoke %+v, want handler note and reply_to 0", v)
	}
	// A fire-and-forget call to an unknown class gets no result either; the
	// next frame is the result of the call below.
	steps, _ := callhost.Op("echo", 1).AppendSteps(nil)
	c.send(protocol.AppendCall(nil, &protocol.Call{
		ReqID: 2, Target: callhost.Object("nosuch", "a"), Steps: steps,
		Flags: protocol.FlagNoReply,
	}))
	c.call(3, "a", callhost.Op("echo", 3), 0)
	if o := c.result(); o.ID != 3 || o.Err != nil {
		t.Fatalf("result %+v, want req 3 to succeed (error %v)", o, o.Err)
	}
}

func TestMalformedFrames(t *testing.T) {
	e := newEnv(t, server.Options{MaxFrameSize: 4096, MaxInFlight: 1})
	c := dialRaw(t, e.url)
	obj := callhost.Object(testClass, "a")
	steps, _ := callhost.Op("echo", 1).AppendSteps(nil)
	callFrame := func(reqID uint64, steps []byte) []byte {
		return protocol.AppendCall(nil, &protocol.Call{ReqID: reqID, Target: obj, Steps: steps})
	}
	badOp := msgp.AppendArrayHeader(nil, 0)
	cases := []struct {
		name  string
		frame []byte
		text  bool
		reqID uint64
		code  callhost.Code
		want  string
	}{
		{"not msgpack", []byte{0xc1, 0x00}, false, 0, callhost.CodeBadRequest,
			"not a MessagePack array"},
		{"not an array", encode(t, "hello"), false, 0, callhost.CodeBadRequest,
			"not a MessagePack array"},
		{"text message", callFrame(11, steps), true, 11, callhost.CodeBadRequest, "binary"},
		{"unknown type", encode(t, []any{9, 1}), false, 0, callhost.CodeBadRequest,
			"unexpected frame type 9"},
		{"result from client", encode(t, []any{2, 1, 0, nil}), false, 0,
			callhost.CodeBadRequest, "unexpected frame type 2"},
		{"wrong shape", encode(t, []any{1, 12, "svc/a", []any{}, 0, 0}), false, 12,
			callhost.CodeBadRequest, "target"},
		{"zero req_id", callFrame(0, steps), false, 0, callhost.CodeBadRequest, "req_id is 0"},
		{"empty operation", callFrame(13, badOp), false, 13, callhost.CodeBadRequest,
			"no steps"},
		{"oversized", callFrame(14, mustSteps(t, callhost.Op("echo", make([]byte, 5000)))),
			false, 14, callhost.CodeTooLarge, "exceeds the max frame size of 4096"},
		{"unknown reply_to", protocol.AppendReply(nil, 99, nil, nil), false, 0,
			callhost.CodeBadRequest, "reply_to 99"},
		{"bad reply", encode(t, []any{3, 1, "x", nil}), false, 0, callhost.CodeBadRequest,
			"code"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			typ := websocket.MessageBinary
			if tc.text {
				typ = websocket.MessageText
			}
			if err := c.ws.Write(context.Background(), typ, tc.frame); err != nil {
				t.Fatal(err)
			}
			o := c.result()
			wantError(t, o, tc.reqID, tc.code)
			if !strings.Contains(o.Err.Message, tc.want) {
				t.Fatalf("message %q does not contain %q", o.Err.Message, tc.want)
			}
		})
	}
	c.call(20, "a", callhost.Op("echo", 20), 0)
	if o := c.result(); o.ID != 20 || o.Err != nil {
		t.Fatalf("call after bad frames: %+v (error %v)", o, o.Err)
	}
}

func mustSteps(t *testing.T, op callhost.Operation) []byte {
	t.Helper()
	b, err := op.AppendSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInFlightLimits holds a call open through a client handler, then checks
// the per-connection limit and the duplicate req_id check.
func TestInFlightLimits(t *testing.T) {
	e := newEnv(t, server.Options{MaxInFlight: 1})
	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("relay", c.id, "hold", 0), 0)
	v := c.invoke()

	c.call(1, "b", callhost.Op("echo", 1), 0)
	o := c.result()
	wantError(t, o, 0, callhost.CodeBadRequest)
	if !strings.Contains(o.Err.Message, "req_id 1 is already in flight") {
		t.Fatalf("duplicate req_id message %q", o.Err.Message)
	}
	c.call(2, "b", callhost.Op("echo", 2), 0)
	o = c.result()
	wantError(t, o, 2, callhost.CodeOverloaded)
	if !strings.Contains(o.Err.Message, "1 calls in flight, max 1") {
		t.Fatalf("overloaded message %q", o.Err.Message)
	}

	c.send(protocol.AppendReply(nil, v.ReplyTo, encode(t, 7), nil))
	if o := c.result(); o.ID != 1 || o.Err != nil || decodeInt(t, o.Value) != 7 {
		t.Fatalf("relayed result %+v (error %v)", o, o.Err)
	}
	// The client replied to reply_to already, so a second reply is rejected.
	c.send(protocol.AppendReply(nil, v.ReplyTo, encode(t, 8), nil))
	wantError(t, c.result(), 0, callhost.CodeBadRequest)
}

func TestFrameOverReadLimit(t *testing.T) {
	e := newEnv(t, server.Options{MaxFrameSize: 1024})
	c := dialRaw(t, e.url)
	big := mustSteps(t, callhost.Op("echo", make([]byte, server.ReadLimitFactor*1024+10)))
	c.send(protocol.AppendCall(nil, &protocol.Call{
		ReqID: 1, Target: callhost.Object(testClass, "a"), Steps: big,
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err := c.ws.Read(ctx)
	if status := websocket.CloseStatus(err); status != websocket.StatusMessageTooBig {
		t.Fatalf("read error %v (status %d), want close status 1009", err, status)
	}
}

func TestClientIDs(t *testing.T) {
	e := newEnv(t, server.Options{})
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, e.url+"?client_id=alice", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	_, frame, err := ws.Read(ctx)
	var w protocol.Welcome
	if err != nil || protocol.DecodeWelcome(frame, &w) != nil || w.ClientID != "alice" {
		t.Fatalf("welcome %+v, %v", w, err)
	}

	_, resp, err := websocket.Dial(ctx, e.url+"?client_id=alice", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("second dial as alice: response %v, error %v; want HTTP 409", resp, err)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `client id "alice" is already connected`) {
		t.Fatalf("409 body %q", body)
	}

	_, resp, err = websocket.Dial(ctx, e.url+"?client_id=a%20b", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("dial with an invalid id: response %v, error %v; want HTTP 400", resp, err)
	}
}

func TestDisconnectMidCall(t *testing.T) {
	e := newEnv(t, server.Options{})
	ctx := context.Background()
	ws, _, err := websocket.Dial(ctx, e.url+"?client_id=gone", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawConn{t: t, ws: ws, id: "gone"}
	c.read() // welcome
	c.call(1, "a", callhost.Op("relay", "gone", "never", 0), 0)
	c.invoke()
	for i := uint64(2); i < 500; i++ {
		c.call(i, "b", callhost.Op("blob", 1000), 0)
	}
	ws.CloseNow()

	// The server fails the invoke that got no reply, so nothing stays pending, and
	// the id is free again.
	waitFor(t, "pending calls to end", func() bool { return e.rt.Stats().Pending == 0 })
	waitFor(t, "client id to be released", func() bool {
		ws, _, err := websocket.Dial(ctx, e.url+"?client_id=gone", nil)
		if err != nil {
			return false
		}
		ws.CloseNow()
		return true
	})
	other := dialRaw(t, e.url)
	other.call(1, "a", callhost.Op("echo", 1), 0)
	if o := other.result(); o.Err != nil {
		t.Fatalf("call after a disconnect failed: %v", o.Err)
	}
}

func TestSlowReaderDisconnected(t *testing.T) {
	e := newEnv(t, server.Options{WriteQueue: 8})
	c := dialRaw(t, e.url)
	const calls, size = 2000, 64 << 10
	for i := uint64(1); i <= calls; i++ {
		c.call(i, "a", callhost.Op("blob", size), 0)
	}
	// Reading nothing, the client lets the server's write queue fill.
	time.Sleep(500 * time.Millisecond)
	received := 0
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		_, _, err := c.ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation {
				t.Fatalf("read error %v, want close status 1008", err)
			}
			if want := "write queue full (8 frames)"; !strings.Contains(ce.Reason, want) {
				t.Fatalf("close reason %q does not contain %q", ce.Reason, want)
			}
			break
		}
		received++
	}
	if received >= calls {
		t.Fatalf("received all %d results; want the connection closed before", received)
	}
	t.Logf("received %d of %d results before close status 1008", received, calls)
}

// TestSlowReaderByteBudget has a client that reads nothing request results
// far larger in total than the byte budget of its write queue, but too few
// to reach the frame limit. The server must close the connection with
// status 1008 without ever queuing more bytes than the budget.
func TestSlowReaderByteBudget(t *testing.T) {
	const frameSize, budget = 256 << 10, 1 << 20
	e := newEnv(t, server.Options{MaxFrameSize: frameSize, MaxQueuedBytes: budget})
	c := dialRaw(t, e.url)
	// 300 results of 200 KiB, about 60 MiB, exceed the budget plus the
	// loopback socket buffers, which Linux sizes at a few MiB by default.
	const calls, size = 300, 200 << 10
	for i := uint64(1); i <= calls; i++ {
		c.call(i, "a", callhost.Op("blob", size), 0)
	}
	waitFor(t, "the server to close the slow reader", func() bool {
		return e.srv.Stats().SlowReaders == 1
	})

	// The client reads at once, within the 5 s that the server waits to
	// send its close frame.

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	received := 0
	var err error
	for err == nil {
		if _, _, err = c.ws.Read(ctx); err == nil {
			received++
		}
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation {
		t.Fatalf("read error %v, want close status 1008", err)
	}
	if want := fmt.Sprintf("max %d): client reads too slowly", budget); !strings.Contains(ce.Reason, want) {
		t.Fatalf("close reason %q does not contain %q", ce.Reason, want)
	}
	if received >= calls {
		t.Fatalf("received all %d results; want the connection closed before", received)
	}
	// The frame that did not fit would have raised the queue above the
	// budget, so the queue held more than the budget less one frame.
	peak := e.srv.Stats().PeakQueuedBytes
	if peak > budget || peak <= budget-frameSize {
		t.Fatalf("peak queued bytes %d, want in (%d, %d]", peak, budget-frameSize, budget)
	}
	t.Logf("received %d of %d results; peak queue %d bytes", received, calls, peak)
}

func TestHealthAndDrain(t *testing.T) {
	e := newEnv(t, server.Options{})
	status, h := getHealth(t, e.ts.URL)
	if status != http.StatusOK || h.Status != "ok" || len(h.Classes) != 1 ||
		h.Classes[0] != testClass {
		t.Fatalf("health %d %+v, want 200 ok [%s]", status, h, testClass)
	}

	c := dialRaw(t, e.url)
	c.call(1, "a", callhost.Op("relay", c.id, "hold", 0), 0)
	v := c.invoke()

	var wg sync.WaitGroup
	var shutdownErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdownErr = e.srv.Shutdown(ctx)
	}()
	waitFor(t, "health to report draining", func() bool {
		status, h := getHealth(t, e.ts.URL)
		return status == http.StatusServiceUnavailable && h.Status == "draining"
	})
	_, resp, err := websocket.Dial(context.Background(), e.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial while draining: response %v, error %v; want HTTP 503", resp, err)
	}
	c.call(2, "a", callhost.Op("echo", 2), 0)
	wantError(t, c.result(), 2, callhost.CodeUnavailable)

	// The in-flight call completes once the client replies, then the server
	// closes the connection with 1001.
	c.send(protocol.AppendReply(nil, v.ReplyTo, encode(t, 5), nil))
	if o := c.result(); o.ID != 1 || o.Err != nil || decodeInt(t, o.Value) != 5 {
		t.Fatalf("in-flight result %+v (error %v)", o, o.Err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = c.ws.Read(ctx)
	if status := websocket.CloseStatus(err); status != websocket.StatusGoingAway {
		t.Fatalf("read error %v (status %d), want close status 1001", err, status)
	}
	wg.Wait()
	if shutdownErr != nil {
		t.Fatalf("shutdown: %v", shutdownErr)
	}
}

type health struct {
	Status  string   `json:"status"`
	Classes []string `json:"classes"`
}

func getHealth(t *testing.T, base string) (int, health) {
	t.Helper()
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var h health
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&h); err != nil {
		t.Fatalf("health body %q: %v", body, err)
	}
	return resp.StatusCode, h
}
