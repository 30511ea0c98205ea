package server

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/runtime"
)

// Invoke implements runtime.Peer. It queues an invoke frame for the client
// without blocking and records the reply_to that the client may reply to.
func (c *conn) Invoke(call runtime.PeerCall) error {
	frame := protocol.AppendInvoke(nil, &protocol.Invoke{
		ReplyTo: call.ReplyTo,
		From:    call.From,
		Handler: call.Handler,
		Args:    call.Args,
		CallID:  call.ID,
		Hops:    call.Hops,
	})
	if max := c.srv.opts.MaxFrameSize; len(frame) > max {
		return callhost.Errorf(callhost.CodeTooLarge,
			"invoke frame of %d bytes for client %q exceeds the max frame size of %d bytes",
			len(frame), c.id, max)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return callhost.Errorf(callhost.CodeUnavailable, "client %q is disconnecting", c.id)
	}
	if call.ReplyTo != 0 {
		if max := c.srv.opts.MaxInFlight; len(c.replies) >= max {
			return callhost.Errorf(callhost.CodeOverloaded,
				"client %q has %d invokes waiting for a reply, max %d", c.id, len(c.replies), max)
		}
		c.replies[call.ReplyTo] = struct{}{}
	}
	if !c.enqueueLocked(frame) {
		delete(c.replies, call.ReplyTo)
		return callhost.Errorf(callhost.CodeOverloaded,
			"client %q reads too slowly: its write queue is full", c.id)
	}
	return nil
}

// handleReply passes the client's reply to an invoke on to the runtime. It
// accepts only reply_to ids sent to this connection and not replied to yet.
func (c *conn) handleReply(frame []byte) {
	var o protocol.Outcome
	if err := protocol.DecodeReply(frame, &o); err != nil {
		c.reject(protocol.Header{}, err)
		return
	}
	c.mu.Lock()
	_, ok := c.replies[o.ID]
	delete(c.replies, o.ID)
	c.mu.Unlock()
	if !ok {
		c.reject(protocol.Header{}, callhost.Errorf(callhost.CodeBadRequest,
			"reply_to %d matches no invoke sent to this connection that waits for a reply",
			o.ID))
		return
	}
	if !c.srv.rt.Reply(o.ID, o.Value, o.Err) {
		c.log.Debug("reply dropped: the call already ended", "reply_to", o.ID)
	}
}
