package client

import (
	"context"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
)

// CallOption changes one call.
type CallOption func(*callConfig)

type callConfig struct {
	timeout time.Duration
}

// WithTimeout sets the call's deadline on the server, rounded up to whole
// milliseconds. Without it, a call made with a context that has a deadline
// uses the time left until that deadline, and other calls use the server's
// default.
func WithTimeout(d time.Duration) CallOption {
	return func(c *callConfig) { c.timeout = d }
}

// outcome is the result or the error of one call.
type outcome struct {
	value callhost.Result
	err   *callhost.Error
}

// waiter receives the outcome of one call: on a channel for Call, or through
// a callback for CallFunc.
type waiter struct {
	ch chan outcome
	fn func(callhost.Result, error)
}

func (w *waiter) deliver(value []byte, err *callhost.Error) {
	if w.fn == nil {
		w.ch <- outcome{value: value, err: err}
		return
	}
	if err != nil {
		w.fn(nil, err)
		return
	}
	w.fn(value, nil)
}

// Call runs op on the object at to and waits for the outcome. A failed
// outcome, including a lost connection, is returned as a *callhost.Error.
// If ctx ends first, Call returns ctx's error and drops the outcome when it
// arrives.
func (c *Conn) Call(ctx context.Context, to callhost.Address, op callhost.Operation,
	opts ...CallOption) (callhost.Result, error) {
	id, frame, err := c.callFrame(ctx, to, op, 0, opts)
	if err != nil {
		return nil, err
	}
	w := &waiter{ch: make(chan outcome, 1)}
	if err := c.register(id, w); err != nil {
		return nil, err
	}
	if err := c.enqueue(ctx, frame); err != nil {
		c.unregister(id)
		return nil, err
	}
	select {
	case o := <-w.ch:
		if o.err != nil {
			return nil, o.err
		}
		return o.value, nil
	case <-ctx.Done():
		c.unregister(id)
		return nil, ctx.Err()
	}
}

// CallFunc runs op on the object at to and calls fn with the outcome,
// exactly once. fn runs on the connection's reader goroutine and must not
// block. CallFunc returns errors known before the call is sent without
// calling fn. It may block while the outgoing queue is full.
func (c *Conn) CallFunc(to callhost.Address, op callhost.Operation,
	fn func(callhost.Result, error), opts ...CallOption) error {
	ctx := context.Background()
	id, frame, err := c.callFrame(ctx, to, op, 0, opts)
	if err != nil {
		return err
	}
	if err := c.register(id, &waiter{fn: fn}); err != nil {
		return err
	}
	if err := c.enqueue(ctx, frame); err != nil {
		c.unregister(id)
		return err
	}
	return nil
}

// Send runs op on the object at to without waiting for the outcome: the
// server sends no result frame for it. Send returns once the call is queued
// for sending; errors after that, such as an unknown class, are not
// reported.
func (c *Conn) Send(ctx context.Context, to callhost.Address, op callhost.Operation) error {
	_, frame, err := c.callFrame(ctx, to, op, protocol.FlagNoReply, nil)
	if err != nil {
		return err
	}
	return c.enqueue(ctx, frame)
}

// callFrame encodes a call frame with a new request id.
func (c *Conn) callFrame(ctx context.Context, to callhost.Address, op callhost.Operation,
	flags uint64, opts []CallOption) (uint64, []byte, error) {
	steps, err := op.AppendSteps(nil)
	if err != nil {
		return 0, nil, callhost.Errorf(callhost.CodeBadRequest, "encode operation: %v", err)
	}
	var cfg callConfig
	for _, o := range opts {
		o(&cfg)
	}
	timeout, err := callTimeout(ctx, cfg.timeout)
	if err != nil {
		return 0, nil, err
	}
	id := c.nextID.Add(1)
	frame := protocol.AppendCall(nil, &protocol.Call{
		ReqID:     id,
		Target:    to,
		Steps:     steps,
		TimeoutMS: timeout,
		Flags:     flags,
	})
	if len(frame) > c.maxFrame {
		return 0, nil, callhost.Errorf(callhost.CodeTooLarge,
			"call frame of %d bytes exceeds the server's max frame size of %d bytes",
			len(frame), c.maxFrame)
	}
	return id, frame, nil
}

// callTimeout returns the timeout_ms of a call: d, or else the time left
// until ctx's deadline, rounded up to whole milliseconds; 0 means the
// server's default.
func callTimeout(ctx context.Context, d time.Duration) (uint64, error) {
	if d < 0 {
		return 0, callhost.Errorf(callhost.CodeBadRequest,
			"invalid call timeout %s: must not be negative", d)
	}
	if d == 0 {
		deadline, ok := ctx.Deadline()
		if !ok {
			return 0, nil
		}
		if d = time.Until(deadline); d <= 0 {
			return 0, context.DeadlineExceeded
		}
	}
	return uint64((d + time.Millisecond - 1) / time.Millisecond), nil
}

func (c *Conn) register(id uint64, w *waiter) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		if c.endErr != nil {
			return c.endErr
		}
		return callhost.Errorf(callhost.CodeUnavailable, "connection to %s is closed", c.url)
	}
	c.pending[id] = w
	return nil
}

func (c *Conn) unregister(id uint64) {
	c.mu.Lock()
	delete(c.pending, id)
	c.mu.Unlock()
}

// take removes and returns the waiter of request id, or nil.
func (c *Conn) take(id uint64) *waiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.pending[id]
	delete(c.pending, id)
	return w
}
