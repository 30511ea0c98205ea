package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// Options configures [Dial]. A nil *Options means all defaults.
type Options struct {
	// ID requests a client id: 1-128 ASCII letters, digits, '_', '.' or
	// '-'. Empty lets the server choose a random one. Dial fails when the id
	// is connected already.
	ID string
	// Logger receives the connection's logs. Nil discards them.
	Logger *slog.Logger
	// HTTPHeader is sent with the WebSocket handshake request.
	HTTPHeader http.Header
	// Token, when not empty, is sent as "Authorization: Bearer TOKEN" to a
	// server that requires authentication. It overrides an Authorization
	// header in HTTPHeader.
	Token string
	// TLSConfig configures TLS for wss:// URLs, for example to trust a
	// private certificate authority. Nil uses the system's roots.
	TLSConfig *tls.Config
}

// Sizes of the client's own buffers.
const (
	writeQueue    = 1024     // outgoing frames waiting for the writer
	welcomeLimit  = 64 << 10 // read limit until the welcome frame sets the frame limit
	dialBodyLimit = 512      // bytes of a rejected handshake's body quoted in errors
)

// Conn is a connection to a callhost server. It is safe for concurrent use.
type Conn struct {
	ws       *websocket.Conn
	url      string
	id       string
	maxFrame int
	log      *slog.Logger

	out    chan []byte
	done   chan struct{} // closed once the connection has ended
	ctx    context.Context
	cancel context.CancelFunc // cancels the context of running handlers
	nextID atomic.Uint64

	mu       sync.Mutex
	pending  map[uint64]*waiter // nil once the connection has ended
	handlers map[string]HandlerFunc
	endErr   *callhost.Error // the error that ended the connection

	workers sync.WaitGroup // reader, writer and handler goroutines
}

// Dial connects to the WebSocket endpoint at rawURL, such as
// "ws://127.0.0.1:8080/ws", and waits for the server's welcome frame.
func Dial(ctx context.Context, rawURL string, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	target, err := dialURL(rawURL, o.ID)
	if err != nil {
		return nil, err
	}
	ws, resp, err := dialWebSocket(ctx, target, &o)
	if err != nil {
		return nil, dialError(rawURL, resp, err)
	}
	welcome, err := readWelcome(ctx, ws)
	if err != nil {
		_ = ws.CloseNow()
		return nil, fmt.Errorf("dial %s: %w", rawURL, err)
	}
	c := newConn(ws, rawURL, welcome, o.Logger)
	c.start()
	return c, nil
}

// dialWebSocket runs the WebSocket handshake with the token and TLS
// settings of o.
func dialWebSocket(ctx context.Context, target string, o *Options) (*websocket.Conn,
	*http.Response, error) {
	opts := &websocket.DialOptions{HTTPHeader: o.HTTPHeader}
	if o.Token != "" {
		opts.HTTPHeader = o.HTTPHeader.Clone()
		if opts.HTTPHeader == nil {
			opts.HTTPHeader = http.Header{}
		}
		opts.HTTPHeader.Set("Authorization", "Bearer "+o.Token)
	}
	if o.TLSConfig == nil {
		return websocket.Dial(ctx, target, opts)
	}
	tr := &http.Transport{TLSClientConfig: o.TLSConfig, Proxy: http.ProxyFromEnvironment}
	// A refused handshake may leave its connection idle in tr.
	defer tr.CloseIdleConnections()
	opts.HTTPClient = &http.Client{Transport: tr}
	return websocket.Dial(ctx, target, opts)
}

// dialURL returns rawURL with the client_id query parameter set to id.
func dialURL(rawURL, id string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("invalid server URL %q: %v", rawURL, err)
	}
	if id == "" {
		return u.String(), nil
	}
	if !protocol.ValidClientID(id) {
		return "", fmt.Errorf("invalid client id %q: use 1-128 ASCII letters, digits, "+
			"'_', '.' or '-'", id)
	}
	q := u.Query()
	q.Set(protocol.QueryClientID, id)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// dialError adds the status and body of a rejected handshake, such as 409
// for a taken client id, to err.
func dialError(rawURL string, resp *http.Response, err error) error {
	if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
		return fmt.Errorf("dial %s: %w", rawURL, err)
	}
	var body []byte
	if resp.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, dialBodyLimit))
	}
	return fmt.Errorf("dial %s: server rejected the connection with HTTP %d: %s",
		rawURL, resp.StatusCode, trimBody(body))
}

func trimBody(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return string(b)
}

func readWelcome(ctx context.Context, ws *websocket.Conn) (*protocol.Welcome, error) {
	ws.SetReadLimit(welcomeLimit)
	_, frame, err := ws.Read(ctx)
	if err != nil {
		return nil, fmt.Errorf("read welcome frame: %w", err)
	}
	var w protocol.Welcome
	if err := protocol.DecodeWelcome(frame, &w); err != nil {
		return nil, err
	}
	if w.Version != protocol.Version {
		return nil, fmt.Errorf("server speaks protocol version %d, this client speaks %d",
			w.Version, protocol.Version)
	}
	return &w, nil
}

func newConn(ws *websocket.Conn, rawURL string, w *protocol.Welcome, log *slog.Logger) *Conn {
	maxFrame := int(w.MaxFrameSize)
	if maxFrame <= 0 {
		maxFrame = protocol.DefaultMaxFrameSize
	}
	ws.SetReadLimit(int64(maxFrame))
	c := &Conn{
		ws:       ws,
		url:      rawURL,
		id:       w.ClientID,
		maxFrame: maxFrame,
		log:      log.With("client_id", w.ClientID),
		out:      make(chan []byte, writeQueue),
		done:     make(chan struct{}),
		pending:  make(map[uint64]*waiter),
		handlers: make(map[string]HandlerFunc),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

func (c *Conn) start() {
	c.workers.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

// ID returns the client id the server assigned. Objects call this client's
// handlers at callhost.Address{Class: callhost.ClassClient, ID: c.ID()}.
func (c *Conn) ID() string { return c.id }

// Done returns a channel that is closed when the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection with status 1000, fails the calls still
// waiting with callhost.CodeUnavailable, cancels the context of running
// handlers and waits for them and for the connection's goroutines to
// return. It is safe to call more than once. A handler must not call it,
// because Close waits for running handlers to return.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.workers.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// end records why the connection ended and releases everything that waits
// on it. The reader goroutine calls it once, when reading fails.
func (c *Conn) end(reason error) {
	e := c.endError(reason)
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.endErr = e
	c.mu.Unlock()

	close(c.done)
	c.cancel()
	_ = c.ws.CloseNow()
	for _, w := range pending {
		w.deliver(nil, e)
	}
}

func (c *Conn) endError(reason error) *callhost.Error {
	var ce websocket.CloseError
	if errors.As(reason, &ce) {
		return callhost.Errorf(callhost.CodeUnavailable,
			"connection to %s closed with status %d %q", c.url, int(ce.Code), ce.Reason)
	}
	return callhost.Errorf(callhost.CodeUnavailable, "connection to %s ended: %v", c.url, reason)
}

// closedError returns the error of calls made after the connection ended.
func (c *Conn) closedError() *callhost.Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.endErr != nil {
		return c.endErr
	}
	return callhost.Errorf(callhost.CodeUnavailable, "connection to %s is closed", c.url)
}
