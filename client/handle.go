package client

import (
	"context"
	"errors"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/internal/protocol"
)

// HandlerFunc serves a call that an object makes to this client. Its result
// is encoded with MessagePack; a callhost.Result is sent as the encoded value
// it already is. An error that is or wraps a *callhost.Error fails the call
// with that code; any other error fails it with callhost.CodeGuestError. ctx
// is canceled when the connection ends.
type HandlerFunc func(ctx context.Context, in *Invocation) (any, error)

// Invocation is a call that an object makes to a handler of this client.
type Invocation struct {
	From    callhost.Address   // the calling object
	Hops    []callhost.Address // the senders that led to this call, oldest first
	Handler string
	Args    []byte // the encoded argument array
}

// Decode decodes the argument array into vals, one pointer per argument.
// The number of arguments must match. Errors have code
// callhost.CodeBadRequest, so a handler can return them as they are.
func (in *Invocation) Decode(vals ...any) error {
	r := msgp.NewReader(in.Args)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return callhost.Errorf(callhost.CodeBadRequest, "handler %q: arguments: %v",
			in.Handler, err)
	}
	if n != len(vals) {
		return callhost.Errorf(callhost.CodeBadRequest,
			"handler %q takes %d arguments, got %d", in.Handler, len(vals), n)
	}
	for i, v := range vals {
		raw, err := r.ReadRaw()
		if err == nil {
			err = msgp.Unmarshal(raw, v)
		}
		if err != nil {
			return callhost.Errorf(callhost.CodeBadRequest, "handler %q: argument %d: %v",
				in.Handler, i, err)
		}
	}
	return nil
}

// Handle registers fn under name, replacing any earlier handler of that
// name. Invokes for a name with no handler fail with callhost.CodeNotFound.
func (c *Conn) Handle(name string, fn HandlerFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fn == nil {
		delete(c.handlers, name)
		return
	}
	c.handlers[name] = fn
}

func (c *Conn) handler(name string) HandlerFunc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handlers[name]
}

// handleInvoke starts a goroutine that runs the invoked handler and sends
// its reply. It runs on the reader goroutine, before the connection can end,
// so the goroutine is counted before Close waits.
func (c *Conn) handleInvoke(frame []byte) {
	var v protocol.Invoke
	if err := protocol.DecodeInvoke(frame, &v); err != nil {
		c.log.Warn("malformed invoke frame ignored", "error", err)
		return
	}
	in := &Invocation{From: v.From, Hops: v.Hops, Handler: v.Handler, Args: v.Args}
	c.workers.Add(1)
	go func() {
		defer c.workers.Done()
		value, err := c.runHandler(in)
		c.reply(v.ReplyTo, v.CallID, in, value, err)
	}()
}

// runHandler runs the handler of in and returns its encoded result. A panic
// in the handler becomes a callhost.CodeGuestError failure.
func (c *Conn) runHandler(in *Invocation) (value []byte, failure *callhost.Error) {
	fn := c.handler(in.Handler)
	if fn == nil {
		return nil, callhost.Errorf(callhost.CodeNotFound, "client %q has no handler %q",
			c.id, in.Handler)
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("client handler panicked", "handler", in.Handler, "panic", p)
			value, failure = nil, callhost.Errorf(callhost.CodeGuestError,
				"client handler %q panicked: %v", in.Handler, p)
		}
	}()
	result, err := fn(c.ctx, in)
	if err != nil {
		return nil, handlerError(err)
	}
	if raw, ok := result.(callhost.Result); ok {
		return raw, nil
	}
	value, err = msgp.Append(nil, result)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeGuestError,
			"client handler %q: encode result %T: %v", in.Handler, result, err)
	}
	return value, nil
}

func handlerError(err error) *callhost.Error {
	var ce *callhost.Error
	if errors.As(err, &ce) && ce.Code != callhost.CodeOK {
		if ce.Message == "" {
			return &callhost.Error{Code: ce.Code, Message: err.Error()}
		}
		return ce
	}
	return &callhost.Error{Code: callhost.CodeGuestError, Message: err.Error()}
}

// reply sends a handler's outcome as a reply frame. With no reply_to, the
// object did not ask for the outcome, and a failure is only logged.
func (c *Conn) reply(replyTo, callID uint64, in *Invocation, value []byte,
	failure *callhost.Error) {
	if replyTo == 0 {
		if failure != nil {
			c.log.Warn("client handler failed; the caller waits for no reply",
				"handler", in.Handler, "call_id", callID, "from", in.From.String(),
				"code", failure.Code.String(), "error", failure.Message)
		}
		return
	}
	frame := protocol.AppendReply(nil, replyTo, value, failure)
	if len(frame) > c.maxFrame {
		frame = protocol.AppendReply(nil, replyTo, nil, callhost.Errorf(callhost.CodeTooLarge,
			"reply of client handler %q is %d bytes, max frame size %d bytes",
			in.Handler, len(frame), c.maxFrame))
	}
	if err := c.enqueue(context.Background(), frame); err != nil {
		c.log.Debug("reply not sent: connection ended", "handler", in.Handler,
			"call_id", callID, "error", err)
	}
}
