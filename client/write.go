package client

import (
	"context"

	"github.com/coder/websocket"
)

// enqueue queues a frame for the writer, waiting while the queue is full.
func (c *Conn) enqueue(ctx context.Context, frame []byte) error {
	select {
	case <-c.done:
		return c.closedError()
	default:
	}
	select {
	case c.out <- frame:
		return nil
	case <-c.done:
		return c.closedError()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeLoop sends queued frames in order until the connection ends.
func (c *Conn) writeLoop() {
	defer c.workers.Done()
	ctx := context.Background()
	for {
		select {
		case <-c.done:
			return
		case frame := <-c.out:
			if err := c.ws.Write(ctx, websocket.MessageBinary, frame); err != nil {
				c.log.Debug("write failed; closing the connection", "error", err)
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}
