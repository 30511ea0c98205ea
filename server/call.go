package server

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/runtime"
)

// handleCall submits the call of a call frame to the runtime.
func (c *conn) handleCall(frame []byte, h protocol.Header) {
	var call protocol.Call
	if err := protocol.DecodeCall(frame, &call); err != nil {
		c.reject(h, err)
		return
	}
	if err := c.authorize(call.Target); err != nil {
		c.logForbidden(&call, err)
		if !call.NoReply() {
			c.reject(h, err)
		}
		return
	}
	if call.NoReply() {
		c.submitNoReply(&call)
		return
	}
	if err := c.admit(call.ReqID); err != nil {
		c.reject(h, err)
		return
	}
	s := c.submission(&call, func(value []byte, err *callhost.Error) {
		c.finishCall(call.ReqID, value, err)
	})
	// The call gets no Context: an accepted call runs even if its client
	// goes (docs/durability.md), and only its outcome is dropped.
	_, err := c.srv.rt.Submit(s)
	if err != nil {
		c.finishCall(call.ReqID, nil, callhost.AsError(err))
	}
}

// authorize returns a forbidden error unless the client's token may call to.
func (c *conn) authorize(to callhost.Address) *callhost.Error {
	if c.grant == nil {
		return nil
	}
	return c.grant.authorize(to)
}

func (c *conn) logForbidden(call *protocol.Call, err *callhost.Error) {
	c.log.Info("call forbidden", "req_id", call.ReqID, "target", call.Target.String(),
		"token", c.grant.name, "error", err.Message)
}

// admit marks reqID in flight, or returns why the call cannot be accepted.
func (c *conn) admit(reqID uint64) *callhost.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.draining:
		return callhost.Errorf(callhost.CodeUnavailable, "server is shutting down")
	case c.closing:
		return callhost.Errorf(callhost.CodeUnavailable, "connection is closing")
	}
	if _, dup := c.inflight[reqID]; dup {
		return callhost.Errorf(callhost.CodeBadRequest,
			"req_id %d is already in flight on this connection", reqID)
	}
	if max := c.srv.opts.MaxInFlight; len(c.inflight) >= max {
		return callhost.Errorf(callhost.CodeOverloaded,
			"connection has %d calls in flight, max %d", len(c.inflight), max)
	}
	c.inflight[reqID] = struct{}{}
	return nil
}

func (c *conn) submission(call *protocol.Call,
	done func([]byte, *callhost.Error)) runtime.Submission {
	timeout := call.Timeout()
	if timeout == 0 {
		timeout = c.srv.opts.CallTimeout
	}
	return runtime.Submission{
		From:    callhost.Address{Class: callhost.ClassClient, ID: c.id},
		To:      call.Target,
		Steps:   call.Steps,
		Timeout: timeout,
		Done:    done,
	}
}

// submitNoReply submits a fire-and-forget call. No result frame is sent, so
// a rejection is only logged.
func (c *conn) submitNoReply(call *protocol.Call) {
	if c.isDraining() {
		c.log.Info("fire-and-forget call rejected: server is shutting down",
			"req_id", call.ReqID, "target", call.Target.String())
		return
	}
	if _, err := c.srv.rt.Submit(c.submission(call, nil)); err != nil {
		e := callhost.AsError(err)
		c.log.Info("fire-and-forget call rejected", "req_id", call.ReqID,
			"target", call.Target.String(), "code", e.Code.String(), "error", e.Message)
	}
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// finishCall queues the result of call reqID. It runs on a runtime
// goroutine and must not block. It drops the result when the call is no
// longer in flight: the connection has closed, or the result was already
// sent. A connection that is closing gets no more frames, so its results
// are dropped before they are encoded.
func (c *conn) finishCall(reqID uint64, value []byte, err *callhost.Error) {
	if c.closed.Load() {
		c.log.Debug("result dropped: connection is closing", "req_id", reqID)
		return
	}
	frame := c.resultFrame(reqID, value, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.inflight[reqID]; !ok {
		c.log.Debug("result dropped: call no longer in flight", "req_id", reqID)
		return
	}
	delete(c.inflight, reqID)
	c.enqueueLocked(frame)
	c.closeIfDrainedLocked()
}
