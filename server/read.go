package server

import (
	"bytes"
	"context"
	"io"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// maxKeptBuffer is the largest read buffer a connection keeps between
// frames; a larger one, grown for a large frame, is released.
const maxKeptBuffer = 64 << 10

// readLoop reads and handles frames until the connection fails or closes,
// and returns the error that ended it.
func (c *conn) readLoop() error {
	ctx := context.Background()
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			return err
		}
		size, err := c.readFrame(r)
		if err != nil {
			return err
		}
		c.handleMessage(typ, size)
		if c.buf.Cap() > maxKeptBuffer {
			c.buf = bytes.Buffer{}
		}
	}
}

// readFrame reads one message into c.buf, keeping at most one byte more than
// the frame limit, and returns the message's full size. The WebSocket read
// limit bounds the bytes it discards.
func (c *conn) readFrame(r io.Reader) (int64, error) {
	c.buf.Reset()
	max := int64(c.srv.opts.MaxFrameSize)
	n, err := c.buf.ReadFrom(io.LimitReader(r, max+1))
	if err != nil || n <= max {
		return n, err
	}
	rest, err := io.Copy(io.Discard, r)
	return n + rest, err
}

// handleMessage handles one message of size bytes whose first bytes are in
// c.buf.
func (c *conn) handleMessage(typ websocket.MessageType, size int64) {
	frame := c.buf.Bytes()
	h, err := protocol.ReadHeader(frame)
	if typ != websocket.MessageBinary {
		c.reject(h, callhost.Errorf(callhost.CodeBadRequest,
			"text message rejected: frames are binary WebSocket messages"))
		return
	}
	if max := c.srv.opts.MaxFrameSize; size > int64(max) {
		c.reject(h, callhost.Errorf(callhost.CodeTooLarge,
			"frame of %d bytes exceeds the max frame size of %d bytes", size, max))
		return
	}
	if err != nil {
		c.reject(h, err)
		return
	}
	switch h.Type {
	case protocol.TypeCall:
		c.handleCall(frame, h)
	case protocol.TypeReply:
		c.handleReply(frame)
	default:
		c.reject(protocol.Header{}, callhost.Errorf(callhost.CodeBadRequest,
			"unexpected frame type %d (%s): clients send call (1) and reply (3) frames",
			h.Type, h.Type))
	}
}

// reject sends an error result for a frame that cannot be served. The result
// carries the frame's req_id when it is a call frame whose req_id decoded
// and is not in flight already, and req_id 0 otherwise.
func (c *conn) reject(h protocol.Header, err error) {
	e := callhost.AsError(err)
	reqID := uint64(0)
	if h.Type == protocol.TypeCall && h.ID != 0 && !c.isInFlight(h.ID) {
		reqID = h.ID
	}
	c.log.Debug("frame rejected", "req_id", reqID, "code", e.Code.String(), "error", e.Message)
	c.sendResult(reqID, nil, e)
}

func (c *conn) isInFlight(reqID uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.inflight[reqID]
	return ok
}
