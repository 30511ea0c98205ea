package server

import (
	"context"
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// enqueueLocked queues a frame for the writer without blocking. When the
// queue is full, the client reads too slowly: the connection is closed with
// status 1008 and the frame is dropped. The caller holds c.mu.
func (c *conn) enqueueLocked(frame []byte) bool {
	if c.closing {
		return false
	}
	select {
	case c.out <- frame:
		return true
	default:
	}
	c.log.Warn("client reads too slowly; closing the connection",
		"write_queue", cap(c.out))
	c.closeLocked(websocket.StatusPolicyViolation,
		fmt.Sprintf("write queue full (%d frames): client reads too slowly", cap(c.out)))
	return false
}

// sendResult queues a result frame. A result larger than the frame limit is
// replaced by a too_large error for the same request.
func (c *conn) sendResult(reqID uint64, value []byte, err *callhost.Error) {
	frame := c.resultFrame(reqID, value, err)
	c.mu.Lock()
	c.enqueueLocked(frame)
	c.mu.Unlock()
}

func (c *conn) resultFrame(reqID uint64, value []byte, err *callhost.Error) []byte {
	frame := protocol.AppendResult(nil, reqID, value, err)
	if max := c.srv.opts.MaxFrameSize; len(frame) > max {
		frame = protocol.AppendResult(nil, reqID, nil, callhost.Errorf(callhost.CodeTooLarge,
			"result frame of %d bytes exceeds the max frame size of %d bytes", len(frame), max))
	}
	return frame
}

// writeLoop writes queued frames until the reader stops or a nil frame
// requests a clean close.
func (c *conn) writeLoop() {
	defer c.workers.Done()
	ctx := context.Background()
	for {
		select {
		case <-c.stop:
			return
		case frame := <-c.out:
			if frame == nil {
				c.closeDrained()
				return
			}
			if c.killed.Load() {
				return
			}
			if err := c.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
				c.log.Info("write failed; closing the connection", "error", err)
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}

// closeDrained ends a drained connection with status 1001.
func (c *conn) closeDrained() {
	if err := c.ws.Close(websocket.StatusGoingAway, "server is shutting down"); err != nil {
		c.log.Debug("close handshake failed", "status", websocket.StatusGoingAway,
			"error", err)
	}
}
