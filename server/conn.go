package server

import (
	"bytes"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// conn is one client connection. Its reader goroutine is the HTTP handler
// goroutine that runs serve; serve starts the writer goroutine and waits for
// it before returning.
type conn struct {
	srv   *Server
	id    string
	log   *slog.Logger
	grant *grant // what the client's token may call; nil without Options.Auth

	out  *frameQueue   // outgoing frames; a nil frame closes the connection with 1001
	stop chan struct{} // closed when the reader has stopped; stops the writer
	buf  bytes.Buffer  // the frame being read
	// queued is the size in bytes of the frames in out and of the frame
	// being written. Enqueuers add to it while holding mu, and the writer
	// subtracts once a write returns, so a check under mu never
	// undercounts.
	queued atomic.Int64

	mu        sync.Mutex
	ws        *websocket.Conn // nil until the upgrade completes
	inflight  map[uint64]struct{}
	replies   map[uint64]struct{}  // reply_to ids of invokes that wait for the client
	draining  bool                 // new calls are rejected
	closing   bool                 // no more frames are queued; set with setClosingLocked
	closed    atomic.Bool          // closing, for readers that do not hold mu
	aborted   bool                 // closed by abort before the upgrade completed
	closeCode websocket.StatusCode // set when the connection is being closed with a status
	killed    atomic.Bool          // closeCode is set: the writer sends nothing more
	closeMsg  string
	workers   sync.WaitGroup // the writer and the goroutine that runs Close
}

func newConn(s *Server, id string) *conn {
	c := &conn{
		srv:      s,
		id:       id,
		log:      s.log.With("client_id", id),
		out:      newFrameQueue(),
		stop:     make(chan struct{}),
		inflight: make(map[uint64]struct{}),
		replies:  make(map[uint64]struct{}),
	}
	// The welcome frame goes first, before any invoke that arrives once the
	// peer is attached.
	welcome := protocol.AppendWelcome(nil, &protocol.Welcome{
		ClientID:     id,
		Version:      protocol.Version,
		MaxFrameSize: uint64(s.opts.MaxFrameSize),
	})
	c.queued.Store(int64(len(welcome)))
	c.out.push(welcome)
	return c
}

// serve runs the connection until it closes, then releases everything it
// holds.
func (c *conn) serve(ws *websocket.Conn) {
	ws.SetReadLimit(int64(ReadLimitFactor) * int64(c.srv.opts.MaxFrameSize))
	c.mu.Lock()
	c.ws = ws
	switch {
	case c.aborted:
		_ = ws.CloseNow()
	case c.closeCode != 0:
		c.startClose()
	}
	c.workers.Add(1)
	c.mu.Unlock()
	go c.writeLoop()

	err := c.readLoop()
	c.logEnd(err)
	c.finish()
}

// finish stops the writer once the reader has stopped, and fails the
// invokes the client did not reply to.
func (c *conn) finish() {
	replies := c.release()
	close(c.stop)
	_ = c.ws.CloseNow()
	c.workers.Wait()
	c.failReplies(replies)
}

// release detaches the peer, stops queuing frames and drops the results of
// calls still in flight when they arrive. It returns the reply_to ids of the
// invokes still waiting for the client.
func (c *conn) release() map[uint64]struct{} {
	c.srv.rt.DetachPeer(c.id)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.setClosingLocked()
	c.inflight = nil
	replies := c.replies
	c.replies = nil
	return replies
}

// failReplies fails the calls that wait for the client's reply to the
// invokes in replies.
func (c *conn) failReplies(replies map[uint64]struct{}) {
	disconnected := callhost.Errorf(callhost.CodeUnavailable,
		"client %q disconnected before it replied", c.id)
	for id := range replies {
		c.srv.rt.Reply(id, nil, disconnected)
	}
}

func (c *conn) logEnd(err error) {
	status := websocket.CloseStatus(err)
	switch {
	case status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway:
		c.log.Debug("client disconnected", "status", status)
	case errors.Is(err, websocket.ErrMessageTooBig):
		c.log.Info("client disconnected: frame exceeds the read limit", "error", err)
	default:
		c.log.Info("client connection ended", "error", err)
	}
}

// drain makes the connection reject new calls and close once the results of
// its in-flight calls are queued.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return
	}
	c.draining = true
	c.closeIfDrainedLocked()
}

// closeIfDrainedLocked queues the closing sentinel once a draining
// connection has no call in flight. The caller holds c.mu.
func (c *conn) closeIfDrainedLocked() {
	if c.draining && len(c.inflight) == 0 && !c.closing {
		if c.enqueueLocked(nil) {
			c.setClosingLocked()
		}
	}
}

// setClosingLocked stops the queuing of frames. The caller holds c.mu.
func (c *conn) setClosingLocked() {
	c.closing = true
	c.closed.Store(true)
}

// abort closes the connection without a close handshake.
func (c *conn) abort() {
	c.mu.Lock()
	ws := c.ws
	c.setClosingLocked()
	c.aborted = ws == nil
	c.mu.Unlock()
	if ws != nil {
		_ = ws.CloseNow()
	}
}

// closeLocked closes the connection with code and reason in a goroutine of
// its own, because the writer may be blocked on a client that does not read.
// The caller holds c.mu.
func (c *conn) closeLocked(code websocket.StatusCode, reason string) {
	c.setClosingLocked()
	if c.closeCode != 0 {
		return
	}
	c.closeCode, c.closeMsg = code, reason
	c.killed.Store(true)
	if c.ws != nil {
		c.startClose()
	}
}

func (c *conn) startClose() {
	ws, code, reason := c.ws, c.closeCode, c.closeMsg
	c.workers.Add(1)
	go func() {
		defer c.workers.Done()
		if err := ws.Close(code, reason); err != nil {
			c.log.Debug("close handshake failed", "status", code, "error", err)
		}
	}()
}
