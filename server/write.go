package server

import (
	"context"
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// enqueueLocked queues a frame for the writer without blocking. When the
// queue holds Options.WriteQueue frames already, or the frame would raise
// its size above Options.MaxQueuedBytes, the client reads too slowly, so the
// connection is closed with status 1008 and the frame is dropped. The
// caller holds c.mu.
func (c *conn) enqueueLocked(frame []byte) bool {
	if c.closing {
		return false
	}
	size := int64(len(frame))
	queued := c.queued.Load()
	if limit := int64(c.srv.opts.MaxQueuedBytes); queued+size > limit {
		c.closeSlowReaderLocked(queued, size, fmt.Sprintf(
			"write queue full (%d bytes, max %d): client reads too slowly", queued, limit))
		return false
	}
	if limit := c.srv.opts.WriteQueue; c.out.len() >= limit {
		c.closeSlowReaderLocked(queued, size, fmt.Sprintf(
			"write queue full (%d frames): client reads too slowly", limit))
		return false
	}
	c.queued.Add(size)
	c.out.push(frame)
	c.srv.recordQueued(queued + size)
	return true
}

// closeSlowReaderLocked closes the connection with status 1008 and reason,
// which names the limit that the write queue reached before a frame of size
// bytes. The caller holds c.mu.
//
// NOTE: Close in coder/websocket v1.8.15 waits at most 5 s to write the
// close frame and then drops the TCP connection. A client that reads
// nothing for longer, while the writer is blocked on a frame, never
// receives the 1008 status.
func (c *conn) closeSlowReaderLocked(queued, size int64, reason string) {
	c.log.Warn("client reads too slowly; closing the connection", "reason", reason,
		"queued_frames", c.out.len(), "queued_bytes", queued, "frame_bytes", size)
	c.srv.slowReaders.Add(1)
	c.closeLocked(websocket.StatusPolicyViolation, reason)
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
		default:
		}
		frame, ok := c.out.pop()
		if !ok {
			select {
			case <-c.stop:
				return
			case <-c.out.ready:
			}
			continue
		}
		if frame == nil {
			c.closeDrained()
			return
		}
		if c.killed.Load() {
			return
		}
		err := c.ws.Write(ctx, websocket.MessageBinary, frame)
		c.queued.Add(-int64(len(frame)))
		if err != nil {
			c.log.Info("write failed; closing the connection", "error", err)
			_ = c.ws.CloseNow()
			return
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
