package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// rawConn speaks the protocol frame by frame, so tests can send anything.
type rawConn struct {
	t  *testing.T
	ws *websocket.Conn
	id string
}

func dialRaw(t *testing.T, url string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	c := &rawConn{t: t, ws: ws}
	var w protocol.Welcome
	if err := protocol.DecodeWelcome(c.read(), &w); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	if w.Version != protocol.Version || w.MaxFrameSize == 0 {
		t.Fatalf("welcome %+v", w)
	}
	c.id = w.ClientID
	return c
}

func (c *rawConn) address() callhost.Address {
	return callhost.Address{Class: callhost.ClassClient, ID: c.id}
}

func (c *rawConn) send(frame []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// call sends a call frame for op on the test class.
func (c *rawConn) call(reqID uint64, id string, op callhost.Operation, flags uint64) {
	c.t.Helper()
	steps, err := op.AppendSteps(nil)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(protocol.AppendCall(nil, &protocol.Call{
		ReqID: reqID, Target: callhost.Object(testClass, id), Steps: steps, Flags: flags,
	}))
}

func (c *rawConn) read() []byte {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if typ != websocket.MessageBinary {
		c.t.Fatalf("message type %v, want binary", typ)
	}
	return b
}

func (c *rawConn) result() protocol.Outcome {
	c.t.Helper()
	var o protocol.Outcome
	if err := protocol.DecodeResult(c.read(), &o); err != nil {
		c.t.Fatalf("result frame: %v", err)
	}
	return o
}

func (c *rawConn) invoke() protocol.Invoke {
	c.t.Helper()
	var v protocol.Invoke
	if err := protocol.DecodeInvoke(c.read(), &v); err != nil {
		c.t.Fatalf("invoke frame: %v", err)
	}
	return v
}

// wantError checks that o is a failure with code for request reqID.
func wantError(t *testing.T, o protocol.Outcome, reqID uint64, code callhost.Code) {
	t.Helper()
	if o.ID != reqID {
		t.Errorf("result req_id %d, want %d", o.ID, reqID)
	}
	if o.Err == nil || o.Err.Code != code {
		t.Fatalf("result %+v (error %v), want code %s", o, o.Err, code)
	}
}

func encode(t *testing.T, v any) []byte {
	t.Helper()
	b, err := msgp.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeInt(t *testing.T, b []byte) int64 {
	t.Helper()
	var n int64
	if err := msgp.Unmarshal(b, &n); err != nil {
		t.Fatalf("decode %x: %v", b, err)
	}
	return n
}
