package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/runtime"
)

// Options configures a [Server]. Zero fields take their defaults.
type Options struct {
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
	// MaxFrameSize is the size limit of one frame in bytes, in either
	// direction. A larger frame from a client is answered with a too_large
	// error; one larger than ReadLimitFactor times this size ends the
	// connection with close status 1009. Default: 1 MiB.
	MaxFrameSize int
	// MaxInFlight caps the calls one connection may have waiting for a
	// result, and separately the invokes waiting for the client's reply.
	// Default: 4096.
	MaxInFlight int
	// WriteQueue is the number of outgoing frames queued per connection.
	// A client that lets it fill is disconnected with close status 1008.
	// Default: twice MaxInFlight.
	WriteQueue int
	// MaxQueuedBytes caps the encoded size of the outgoing frames queued
	// per connection, the frame being written included. A frame that would
	// raise the total above it disconnects the client with close status
	// 1008, as a full WriteQueue does. Values below MaxFrameSize are raised
	// to MaxFrameSize, so one frame of the max size always fits.
	// Default: DefaultMaxQueuedBytes.
	MaxQueuedBytes int
	// CallTimeout is the deadline of a call whose frame sets timeout_ms 0.
	// Default: the runtime's call timeout.
	CallTimeout time.Duration
	// MaxConnections caps the WebSocket connections served at once; the
	// server refuses more with HTTP 503. Default: 1024.
	MaxConnections int
	// Auth, when not nil, makes every client present one of its tokens as
	// "Authorization: Bearer TOKEN" and limits each client to the objects
	// its token allows. Nil serves every client.
	Auth *Auth
}

// DefaultMaxConnections is the default of Options.MaxConnections.
const DefaultMaxConnections = 1024

// ReadLimitFactor sets the read limit of a connection: frames up to
// ReadLimitFactor times MaxFrameSize are read and discarded with a too_large
// error, and larger ones end the connection.
const ReadLimitFactor = 4

// DefaultMaxQueuedBytes is the default of Options.MaxQueuedBytes, 16 MiB.
const DefaultMaxQueuedBytes = 16 << 20

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = protocol.DefaultMaxFrameSize
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = protocol.DefaultMaxInFlight
	}
	if o.WriteQueue <= 0 {
		o.WriteQueue = 2 * o.MaxInFlight
	}
	if o.MaxQueuedBytes <= 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	o.MaxQueuedBytes = max(o.MaxQueuedBytes, o.MaxFrameSize)
	if o.MaxConnections <= 0 {
		o.MaxConnections = DefaultMaxConnections
	}
	return o
}

// Server serves one runtime to WebSocket clients. It is safe for concurrent
// use.
type Server struct {
	rt   *runtime.Runtime
	opts Options
	log  *slog.Logger
	mux  *http.ServeMux

	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	active   sync.WaitGroup // one count per connection being served

	peakQueued  atomic.Int64 // see Stats.PeakQueuedBytes
	slowReaders atomic.Int64 // see Stats.SlowReaders
}

// Stats holds counters of a [Server].
type Stats struct {
	Connections int   // connections being served
	QueuedBytes int64 // bytes of outgoing frames queued on all connections
	// PeakQueuedBytes is the largest number of bytes that one connection has
	// had queued at once since New. It never exceeds Options.MaxQueuedBytes.
	PeakQueuedBytes int64
	// SlowReaders counts the connections closed with status 1008 because
	// their write queue reached its frame or byte limit.
	SlowReaders int64
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	st := Stats{Connections: len(s.conns)}
	for c := range s.conns {
		st.QueuedBytes += c.queued.Load()
	}
	s.mu.Unlock()
	st.PeakQueuedBytes = s.peakQueued.Load()
	st.SlowReaders = s.slowReaders.Load()
	return st
}

// recordQueued raises PeakQueuedBytes to n, the bytes now queued on one
// connection, if n is larger.
func (s *Server) recordQueued(n int64) {
	for {
		peak := s.peakQueued.Load()
		if n <= peak || s.peakQueued.CompareAndSwap(peak, n) {
			return
		}
	}
}

// New returns a server for rt. The caller keeps ownership of rt and shuts it
// down after [Server.Shutdown].
func New(rt *runtime.Runtime, opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		rt:    rt,
		opts:  opts,
		log:   opts.Logger,
		mux:   http.NewServeMux(),
		conns: make(map[*conn]struct{}),
	}
	s.mux.HandleFunc(protocol.Path, s.serveWebSocket)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

type health struct {
	Status  string   `json:"status"`
	Classes []string `json:"classes"`
}

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	h := health{Status: "ok", Classes: s.rt.Classes()}
	code := http.StatusOK
	if s.isDraining() {
		h.Status, code = "draining", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(h); err != nil {
		s.log.Debug("write health response failed", "error", err)
	}
}

func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Shutdown stops accepting connections and drains the open ones: each
// connection rejects new calls with unavailable, keeps accepting replies,
// and closes with status 1001 once the results of its in-flight calls are
// written. Shutdown returns when every connection has closed. If ctx ends
// first, it closes the remaining connections at once and returns ctx's
// error. It does not shut down the runtime.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.log.Info("server draining", "connections", len(conns))
	for _, c := range conns {
		c.drain()
	}

	done := make(chan struct{})
	go func() {
		s.active.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		c.abort()
	}
	left := len(s.conns)
	s.mu.Unlock()
	s.log.Warn("server drain timed out; closed connections at once", "connections", left)
	<-done
	return ctx.Err()
}

// register adds c to the served connections, or returns why it cannot: the
// server is draining or serves Options.MaxConnections already.
func (s *Server) register(c *conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return fmt.Errorf("server is shutting down")
	}
	if max := s.opts.MaxConnections; len(s.conns) >= max {
		return fmt.Errorf("too many connections: the server serves %d, max %d",
			len(s.conns), max)
	}
	s.conns[c] = struct{}{}
	s.active.Add(1)
	return nil
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.active.Done()
}
