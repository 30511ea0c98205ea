package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
)

var serveCommand = &command{
	name:    "serve",
	summary: "load guest modules and serve them over WebSocket",
	usage: `
Usage: callhost serve [FLAGS]

Serve loads every DIR/NAME.wasm in the modules directory as class NAME and
serves the classes at ws://ADDR/ws, with a health check at
http://ADDR/healthz. It logs the address it listens on and the classes it
loaded once it is ready.

On SIGINT or SIGTERM it stops accepting connections, lets in-flight calls
finish for up to -drain-timeout, and exits with status 0. If the drain
times out, it drops the remaining work and exits with status 1.`,
	setup: setupServe,
}

type serveConfig struct {
	addr          string
	modules       string
	cacheDir      string
	workers       int
	maxInstances  int
	callTimeout   time.Duration
	turnTimeout   time.Duration
	memoryLimitMB int
	drainTimeout  time.Duration
	dataDir       string
	storeKind     string
	syncPolicy    string
	limits        limitFlags
	throttle      throttleFlags
	authFile      string
	tlsCert       string
	tlsKey        string
}

// limitFlags are the serve flags that cap what guests and clients may use.
type limitFlags struct {
	maxFrameBytes      int
	maxCallBytes       int
	maxResultBytes     int
	maxDepth           int
	maxSteps           int
	maxCallsPerTurn    int
	maxIDBytes         int
	maxKeyBytes        int
	maxValueBytes      int
	maxLogBytesPerTurn int
	maxLogMessageBytes int
	maxPendingObject   int
	maxPendingClass    int
	maxPendingTotal    int
	maxConnections     int
	maxInFlight        int
	maxQueuedBytes     int
}

// maxMemoryLimitMB is the largest linear memory of a wasm32 instance, 4 GiB.
const maxMemoryLimitMB = 4096

func setupServe(fs *flag.FlagSet) runFunc {
	var c serveConfig
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080",
		"TCP address to listen on, as host:port; port 0 picks a free port")
	fs.StringVar(&c.modules, "modules", "./modules",
		"directory of guest modules; each NAME.wasm in it is loaded as class NAME")
	fs.StringVar(&c.cacheDir, "cache-dir", defaultCacheDir(),
		"directory that keeps compiled modules across runs; empty disables the cache")
	fs.IntVar(&c.workers, "workers", 0,
		"number of goroutines that run turns (0: twice the number of CPUs)")
	fs.IntVar(&c.maxInstances, "max-instances", 0,
		"max wasm instances per class, and so turns of one class at once (0: number of CPUs)")
	fs.DurationVar(&c.callTimeout, "call-timeout", runtime.DefaultCallTimeout,
		"deadline of a call that sets none, as a Go duration such as 30s or 2m")
	fs.DurationVar(&c.turnTimeout, "turn-timeout", runtime.DefaultTurnTimeout,
		"time one turn may run before it is stopped, as a Go duration such as 5s")
	fs.IntVar(&c.memoryLimitMB, "memory-limit-mb", 0,
		"linear memory limit of each instance, in MiB (0: 128 MiB)")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", 10*time.Second,
		"time to finish in-flight calls after SIGINT or SIGTERM, as a Go duration")
	fs.StringVar(&c.dataDir, "data-dir", runtime.DefaultDataDir,
		"directory of the durable store: object storage, accepted calls, pending calls, alarms")
	fs.StringVar(&c.storeKind, "store", "bolt",
		"store kind: bolt (durable, in -data-dir) or memory (lost on exit)")
	fs.StringVar(&c.syncPolicy, "sync", "group",
		"when the bolt store flushes to disk: group (every commit group) or a Go duration "+
			"such as 100ms (at most that much lost on power failure)")
	fs.StringVar(&c.authFile, "auth", "",
		"access-control file (JSON, see docs/security.md): client tokens and call rules; "+
			"empty serves every client")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "certificate file (PEM) to serve HTTPS and wss://")
	fs.StringVar(&c.tlsKey, "tls-key", "", "private key file (PEM) of -tls-cert")
	c.limits.define(fs)
	c.throttle.define(fs)
	return func(env *cmdEnv, args []string) int { return serve(env, &c, args) }
}

func (l *limitFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&l.maxFrameBytes, "max-frame-bytes", protocol.DefaultMaxFrameSize,
		"max size of one WebSocket frame, in bytes")
	fs.IntVar(&l.maxCallBytes, "max-call-bytes", runtime.DefaultMaxCallSize,
		"max size of a call envelope that a guest passes to the call import, in bytes")
	fs.IntVar(&l.maxResultBytes, "max-result-bytes", runtime.DefaultMaxResultSize,
		"max size of one handler's encoded result, in bytes")
	fs.IntVar(&l.maxDepth, "max-depth", callhost.MaxDepth,
		"max nesting of arrays, maps and nested operations in call arguments")
	fs.IntVar(&l.maxSteps, "max-steps", callhost.MaxSteps, "max steps in one operation's chain")
	fs.IntVar(&l.maxCallsPerTurn, "max-calls-per-turn", runtime.DefaultMaxCallsPerTurn,
		"max calls one turn may make")
	fs.IntVar(&l.maxIDBytes, "max-id-bytes", runtime.DefaultMaxIDSize,
		"max length of an object id, in bytes")
	fs.IntVar(&l.maxKeyBytes, "max-key-bytes", runtime.DefaultMaxKeySize,
		"max size of a storage key that a guest passes to the storage imports, in bytes")
	fs.IntVar(&l.maxValueBytes, "max-value-bytes", runtime.DefaultMaxValueSize,
		"max size of a storage value that a guest passes to the kv_put import, in bytes")
	fs.IntVar(&l.maxLogBytesPerTurn, "max-log-bytes-per-turn", runtime.DefaultMaxLogBytesPerTurn,
		"max bytes of messages one turn may write through the log import; lines "+
			"past it are dropped and counted in one warning")
	fs.IntVar(&l.maxLogMessageBytes, "max-log-message-bytes", runtime.DefaultMaxLogMessageSize,
		"max size of one message of the log import, in bytes; longer ones are cut")
	fs.IntVar(&l.maxPendingObject, "max-pending-object", runtime.DefaultMaxPendingPerObject,
		"max calls accepted but not yet started on one object")
	fs.IntVar(&l.maxPendingClass, "max-pending-class", runtime.DefaultMaxPendingPerClass,
		"max calls accepted but not yet started on the objects of one class")
	fs.IntVar(&l.maxPendingTotal, "max-pending-total", runtime.DefaultMaxPendingTotal,
		"max calls accepted but not yet started in the whole runtime")
	fs.IntVar(&l.maxConnections, "max-connections", server.DefaultMaxConnections,
		"max WebSocket connections served at once; more are refused with HTTP 503")
	fs.IntVar(&l.maxInFlight, "max-in-flight", protocol.DefaultMaxInFlight,
		"max calls in flight per connection, and max invokes waiting for its replies")
	fs.IntVar(&l.maxQueuedBytes, "max-queued-bytes", server.DefaultMaxQueuedBytes,
		"slow-reader budget: max bytes of outgoing frames queued per connection")
}

// check rejects negative limits; 0 means the default.
func (l *limitFlags) check() error {
	values := []struct {
		name string
		v    int
	}{
		{"max-frame-bytes", l.maxFrameBytes}, {"max-call-bytes", l.maxCallBytes},
		{"max-result-bytes", l.maxResultBytes}, {"max-depth", l.maxDepth},
		{"max-steps", l.maxSteps}, {"max-calls-per-turn", l.maxCallsPerTurn},
		{"max-id-bytes", l.maxIDBytes}, {"max-key-bytes", l.maxKeyBytes},
		{"max-value-bytes", l.maxValueBytes}, {"max-log-bytes-per-turn", l.maxLogBytesPerTurn},
		{"max-log-message-bytes", l.maxLogMessageBytes},
		{"max-pending-object", l.maxPendingObject},
		{"max-pending-class", l.maxPendingClass}, {"max-pending-total", l.maxPendingTotal},
		{"max-connections", l.maxConnections}, {"max-in-flight", l.maxInFlight},
		{"max-queued-bytes", l.maxQueuedBytes},
	}
	for _, f := range values {
		if f.v < 0 {
			return fmt.Errorf("invalid -%s %d: must not be negative (0: the default)", f.name, f.v)
		}
	}
	return nil
}

// checkBoltKey rejects a -max-key-bytes that the bolt store cannot hold for
// an object with the longest class name and id.
func (l *limitFlags) checkBoltKey() error {
	idBytes := l.maxIDBytes
	if idBytes == 0 {
		idBytes = runtime.DefaultMaxIDSize
	}
	limit := store.BoltMaxKeySize(callhost.MaxClassNameSize, idBytes)
	if l.maxKeyBytes > limit {
		return fmt.Errorf("invalid -max-key-bytes %d: the bolt store stores keys of at most "+
			"%d bytes for a class name of %d bytes and an id of -max-id-bytes %d. Lower "+
			"-max-key-bytes or -max-id-bytes, or use -store memory", l.maxKeyBytes, limit,
			callhost.MaxClassNameSize, idBytes)
	}
	return nil
}

// serverOptions returns the server options of the flags.
func (c *serveConfig) serverOptions(log *slog.Logger, auth *server.Auth) server.Options {
	return server.Options{
		Logger:         log,
		CallTimeout:    c.callTimeout,
		MaxFrameSize:   c.limits.maxFrameBytes,
		MaxInFlight:    c.limits.maxInFlight,
		MaxQueuedBytes: c.limits.maxQueuedBytes,
		MaxConnections: c.limits.maxConnections,
		Auth:           auth,
	}
}

// defaultCacheDir returns callhost's directory in the user cache directory,
// or "" when there is none.
func defaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "callhost")
}

func (c *serveConfig) check() error {
	if _, err := c.syncOption(); err != nil {
		return err
	}
	if err := c.limits.check(); err != nil {
		return err
	}
	if c.storeKind == "bolt" {
		if err := c.limits.checkBoltKey(); err != nil {
			return err
		}
	}
	if err := c.throttle.check(c.turnTimeout); err != nil {
		return err
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return fmt.Errorf("-tls-cert and -tls-key go together: give both or neither")
	}
	switch {
	case c.workers < 0:
		return fmt.Errorf("invalid -workers %d: must not be negative", c.workers)
	case c.maxInstances < 0:
		return fmt.Errorf("invalid -max-instances %d: must not be negative", c.maxInstances)
	case c.callTimeout <= 0:
		return fmt.Errorf("invalid -call-timeout %s: must be positive", c.callTimeout)
	case c.turnTimeout <= 0:
		return fmt.Errorf("invalid -turn-timeout %s: must be positive", c.turnTimeout)
	case c.memoryLimitMB < 0 || c.memoryLimitMB > maxMemoryLimitMB:
		return fmt.Errorf("invalid -memory-limit-mb %d: use 0 to %d", c.memoryLimitMB,
			maxMemoryLimitMB)
	case c.storeKind != "bolt" && c.storeKind != "memory":
		return fmt.Errorf("invalid -store %q: use bolt or memory", c.storeKind)
	case c.drainTimeout <= 0:
		return fmt.Errorf("invalid -drain-timeout %s: must be positive", c.drainTimeout)
	}
	return nil
}

// syncOption parses -sync.
func (c *serveConfig) syncOption() (store.SyncPolicy, error) {
	if c.syncPolicy == "group" {
		return store.SyncEveryGroup, nil
	}
	d, err := time.ParseDuration(c.syncPolicy)
	if err != nil || d <= 0 {
		return store.SyncEveryGroup, fmt.Errorf(
			"invalid -sync %q: use group or a positive Go duration such as 100ms", c.syncPolicy)
	}
	return store.SyncInterval(d), nil
}

func (c *serveConfig) runtimeOptions(log *slog.Logger, rules runtime.CallRules) runtime.Options {
	sync, _ := c.syncOption() // checked by check
	var st store.Store
	if c.storeKind == "memory" {
		st = store.NewMemory()
	}
	opts := runtime.Options{
		Store:               st,
		DataDir:             c.dataDir,
		Sync:                sync,
		Logger:              log,
		Workers:             c.workers,
		MaxInstances:        c.maxInstances,
		CallTimeout:         c.callTimeout,
		TurnTimeout:         c.turnTimeout,
		CacheDir:            c.cacheDir,
		MemoryLimitPages:    uint32(c.memoryLimitMB) * 16, // 16 pages of 64 KiB per MiB
		MaxCallSize:         c.limits.maxCallBytes,
		MaxResultSize:       c.limits.maxResultBytes,
		MaxDepth:            c.limits.maxDepth,
		MaxSteps:            c.limits.maxSteps,
		MaxCallsPerTurn:     c.limits.maxCallsPerTurn,
		MaxIDSize:           c.limits.maxIDBytes,
		MaxKeySize:          c.limits.maxKeyBytes,
		MaxValueSize:        c.limits.maxValueBytes,
		MaxLogBytesPerTurn:  c.limits.maxLogBytesPerTurn,
		MaxLogMessageSize:   c.limits.maxLogMessageBytes,
		MaxPendingPerObject: c.limits.maxPendingObject,
		MaxPendingPerClass:  c.limits.maxPendingClass,
		MaxPendingTotal:     c.limits.maxPendingTotal,
		CallRules:           rules,
	}
	c.throttle.apply(&opts)
	return opts
}

func serve(env *cmdEnv, c *serveConfig, args []string) int {
	if len(args) > 0 {
		return env.usageError("unexpected arguments %q: serve takes flags only", args)
	}
	if err := c.check(); err != nil {
		return env.usageError("%v", err)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	policy, err := c.loadPolicy()
	if err != nil {
		env.log.Error("start failed", "error", err)
		return exitError
	}
	rt, classes, err := startRuntime(env.log, c, policy.Calls)
	if err != nil {
		env.log.Error("start failed", "error", err)
		return exitError
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		env.log.Error("start failed", "error", err)
		shutdownRuntime(env.log, rt, c.drainTimeout)
		return exitError
	}
	srv := server.New(rt, c.serverOptions(env.log, policy.Auth))
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(env.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- c.serveHTTP(hs, ln) }()
	env.log.Info("server started", "addr", ln.Addr().String(), "classes", classes,
		"modules", c.modules, "tls", c.tlsCert != "", "auth", c.authFile != "")
	if c.authFile == "" && !isLoopback(ln.Addr()) {
		env.log.Warn("serving without -auth on a non-loopback address: "+
			"every client that reaches it may call every exposed handler",
			"addr", ln.Addr().String())
	}

	select {
	case sig := <-signals:
		env.log.Info("stopping", "signal", sig.String(), "drain_timeout", c.drainTimeout)
	case err := <-served:
		env.log.Error("server failed; stopping", "error", err)
		shutdownRuntime(env.log, rt, c.drainTimeout)
		return exitError
	}
	return drain(env.log, srv, hs, rt, served, c.drainTimeout)
}

// loadPolicy loads the -auth file, or returns an empty policy without one.
func (c *serveConfig) loadPolicy() (*server.Policy, error) {
	if c.authFile == "" {
		return &server.Policy{}, nil
	}
	return server.LoadPolicy(c.authFile)
}

// serveHTTP serves hs on ln, with TLS when -tls-cert is set.
func (c *serveConfig) serveHTTP(hs *http.Server, ln net.Listener) error {
	if c.tlsCert != "" {
		return hs.ServeTLS(ln, c.tlsCert, c.tlsKey)
	}
	return hs.Serve(ln)
}

// isLoopback reports whether addr is a TCP address on a loopback interface.
func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// startRuntime starts a runtime and loads the modules directory into it.
func startRuntime(log *slog.Logger, c *serveConfig,
	rules runtime.CallRules) (*runtime.Runtime, []string, error) {
	info, err := os.Stat(c.modules)
	if err != nil {
		return nil, nil, fmt.Errorf("modules directory: %w", err)
	}
	if !info.IsDir() {
		return nil, nil, fmt.Errorf("modules directory %s is not a directory", c.modules)
	}
	if c.cacheDir != "" {
		if err := os.MkdirAll(c.cacheDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("cache directory: %w", err)
		}
	}
	ctx := context.Background()
	rt, err := runtime.New(ctx, c.runtimeOptions(log, rules))
	if err != nil {
		return nil, nil, explainLockedDataDir(err, c.dataDir)
	}
	classes, err := rt.LoadDir(ctx, c.modules)
	if err != nil {
		shutdownRuntime(log, rt, c.drainTimeout)
		return nil, nil, err
	}
	if len(classes) == 0 {
		log.Warn("no guest modules found; serving no classes", "modules", c.modules)
	}
	return rt, classes, nil
}

// explainLockedDataDir adds the absolute path of dir and a way out to err
// when err is the failure to open a data directory that another process
// has open. callhost serve and programs that embed the runtime both default
// to callhost-data in the current directory.
func explainLockedDataDir(err error, dir string) error {
	if !errors.Is(err, store.ErrLocked) {
		return err
	}
	if abs, absErr := filepath.Abs(dir); absErr == nil {
		dir = abs
	}
	return fmt.Errorf("%w (%s): stop the other process or choose another directory "+
		"with -data-dir", store.ErrLocked, dir)
}

// drain stops the server and the runtime within timeout. It returns exitOK
// when everything in flight finished, and exitError when the timeout cut
// the drain short.
func drain(log *slog.Logger, srv *server.Server, hs *http.Server, rt *runtime.Runtime,
	served <-chan error, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code := exitOK
	if err := srv.Shutdown(ctx); err != nil {
		log.Error("connections did not drain in time", "error", err)
		code = exitError
	}
	if err := hs.Shutdown(ctx); err != nil {
		log.Error("http server shutdown failed", "error", err)
		code = exitError
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.Error("http server failed", "error", err)
	}
	if err := rt.Shutdown(ctx); err != nil {
		log.Error("runtime did not drain in time", "error", err)
		code = exitError
	}
	log.Info("server stopped", "clean", code == exitOK)
	return code
}

func shutdownRuntime(log *slog.Logger, rt *runtime.Runtime, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := rt.Shutdown(ctx); err != nil {
		log.Error("runtime shutdown failed", "error", err)
	}
}
