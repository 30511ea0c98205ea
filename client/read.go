package client

import (
	"context"

	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// readLoop reads frames until the connection ends, then fails every call
// still waiting.
func (c *Conn) readLoop() {
	defer c.workers.Done()
	ctx := context.Background()
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			c.log.Debug("connection ended", "error", err)
			c.end(err)
			return
		}
		if typ != websocket.MessageBinary {
			c.log.Warn("text message from the server ignored", "bytes", len(frame))
			continue
		}
		c.handleFrame(frame)
	}
}

func (c *Conn) handleFrame(frame []byte) {
	h, err := protocol.ReadHeader(frame)
	if err != nil {
		c.log.Warn("malformed frame from the server ignored", "error", err)
		return
	}
	switch h.Type {
	case protocol.TypeResult:
		c.handleResult(frame)
	case protocol.TypeInvoke:
		c.handleInvoke(frame)
	default:
		c.log.Warn("unexpected frame type from the server ignored", "type", uint64(h.Type))
	}
}

// handleResult hands a result to the call that waits for it. A result with
// req_id 0 reports a frame the server could not decode.
func (c *Conn) handleResult(frame []byte) {
	var o protocol.Outcome
	if err := protocol.DecodeResult(frame, &o); err != nil {
		c.log.Warn("malformed result frame ignored", "error", err)
		return
	}
	if o.ID == 0 {
		c.log.Warn("server rejected a frame", "code", o.Err.Code.String(), "error", o.Err.Message)
		return
	}
	w := c.take(o.ID)
	if w == nil {
		if o.Err != nil {
			c.log.Warn("server rejected a request", "req_id", o.ID,
				"code", o.Err.Code.String(), "error", o.Err.Message)
		} else {
			c.log.Debug("result for a call no longer waiting dropped", "req_id", o.ID)
		}
		return
	}
	w.deliver(o.Value, o.Err)
}
