package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults applied to zero [Config] fields.
const (
	DefaultMemoryLimitPages = 2048 // 128 MiB
	DefaultTurnTimeout      = 5 * time.Second
)

// Config configures an [Engine]. The zero value is usable.
type Config struct {
	// CacheDir is a directory for the on-disk compilation cache. Compiling a Go
	// guest takes roughly half a second without it and tens of milliseconds with
	// it (estimates from one machine). Empty means no disk cache. A cache entry
	// that wazero cannot read counts as a miss: [Engine.Compile] compiles the
	// module again, replaces the entry and logs a warning.
	CacheDir string

	// MemoryLimitPages caps each instance's linear memory, in 64 KiB pages. A
	// guest that needs more traps. 0 means [DefaultMemoryLimitPages].
	MemoryLimitPages uint32

	// TurnTimeout is the deadline of one turn. 0 means [DefaultTurnTimeout].
	TurnTimeout time.Duration

	// Uninterruptible compiles guests as they are. By default [Engine.Compile]
	// inserts a check at every function entry and loop header of the guest,
	// and the watchdog sets an interrupt flag that the check reads to stop a
	// turn. Each check costs a decrement and a branch, with an exit to Go every
	// 16384 checks (see package preempt for measurements).
	//
	// Uninterruptible guests run without the checks, but nothing can stop one. A
	// turn past its deadline still fails with [ErrTurnDeadline], but only once the
	// guest returns, and a guest that never returns keeps its goroutine and its
	// instance for good. Go cannot preempt a guest's machine code either, so a
	// garbage collection of the host process waits until such a turn returns.
	// Choose it only for trusted guest code.
	Uninterruptible bool

	// Logger receives the engine's few log records. Nil discards them.
	Logger *slog.Logger
}

// Engine compiles guest modules and runs their instances. It owns one WebAssembly
// runtime, with WASI preview 1 and the host module "callhost" that implements the
// guest ABI's imports. An Engine is safe for concurrent use.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	rc    wazero.RuntimeConfig // without the compilation cache
	rt    wazero.Runtime
	cache wazero.CompilationCache
	wd    *watchdog

	mu     sync.Mutex
	closed bool
	pools  map[*Pool]struct{}
}

// NewEngine starts an engine. Close it to release the runtime, its compiled code
// and its goroutine.
func NewEngine(ctx context.Context, cfg Config) (*Engine, error) {
	if cfg.MemoryLimitPages == 0 {
		cfg.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if cfg.MemoryLimitPages > 65536 {
		return nil, fmt.Errorf("host: invalid memory limit of %d pages: 32-bit memory has "+
			"at most 65536", cfg.MemoryLimitPages)
	}
	if cfg.TurnTimeout <= 0 {
		cfg.TurnTimeout = DefaultTurnTimeout
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, pools: map[*Pool]struct{}{}}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	// The inserted interrupt checks replace WithCloseOnContextDone, which would
	// exit to Go at every loop header and start a goroutine per export call.
	rc := wazero.NewRuntimeConfig().WithMemoryLimitPages(cfg.MemoryLimitPages)
	e.rc = rc
	if cfg.CacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("host: compilation cache in %q: %w", cfg.CacheDir, err)
		}
		e.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	e.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if err := e.instantiateImports(ctx); err != nil {
		return nil, errors.Join(err, e.closeRuntime(ctx))
	}
	e.wd = startWatchdog(cfg.TurnTimeout, !cfg.Uninterruptible, e.log)
	return e, nil
}

// replaceCacheEntry handles a compilation of code that failed with err while
// the compilation cache is on. wazero v1.12.0 fails a compilation whose cache
// entry it cannot read: a damaged header, a checksum mismatch or a file it
// cannot open. replaceCacheEntry compiles code again with an empty cache in
// a new directory. If that succeeds, the cache was at fault, and it moves the
// new entry over the old one and reports true. It reports false when code
// fails to compile without the cache too, or when the entry cannot be
// replaced, and the caller then returns err.
//
// NOTE: wazero's checksum covers the machine code only. A cache entry whose
// function offsets are damaged still loads, and calling the module may
// crash the process.
func (e *Engine) replaceCacheEntry(ctx context.Context, name string, code []byte,
	err error) bool {
	dir, tmpErr := os.MkdirTemp(e.cfg.CacheDir, ".replace-")
	if tmpErr != nil {
		e.log.Warn("host: cannot check the compilation cache after a failed compilation",
			"module", name, "error", err, "check_error", tmpErr)
		return false
	}
	defer os.RemoveAll(dir)
	entries, compileErr := compileToCache(ctx, e.rc, dir, code)
	if compileErr != nil {
		return false // the module itself fails to compile
	}
	for _, rel := range entries {
		dst := filepath.Join(e.cfg.CacheDir, rel)
		if mvErr := os.Rename(filepath.Join(dir, rel), dst); mvErr != nil {
			e.log.Warn("host: cannot replace an unreadable compilation cache entry",
				"module", name, "file", dst, "error", mvErr, "read_error", err)
			return false
		}
		e.log.Warn("host: replaced an unreadable compilation cache entry",
			"module", name, "file", dst, "read_error", err)
	}
	return len(entries) > 0
}

// compileToCache compiles code on a new runtime of config rc with a
// compilation cache in dir, and returns the paths of the cache files that
// it wrote, relative to dir.
func compileToCache(ctx context.Context, rc wazero.RuntimeConfig, dir string,
	code []byte) ([]string, error) {
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, err
	}
	defer cache.Close(ctx)
	rt := wazero.NewRuntimeWithConfig(ctx, rc.WithCompilationCache(cache))
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, code)
	if err != nil {
		return nil, err
	}
	if err := compiled.Close(ctx); err != nil {
		return nil, err
	}
	var entries []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		entries = append(entries, rel)
		return err
	})
	return entries, err
}

func (e *Engine) instantiateImports(ctx context.Context) error {
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, e.rt); err != nil {
		return fmt.Errorf("host: instantiate WASI: %w", err)
	}
	if _, err := hostModule(e.rt).Instantiate(ctx); err != nil {
		return fmt.Errorf("host: instantiate module %q: %w", importModule, err)
	}
	return nil
}

// Close closes every pool of the engine, its modules and their instances, and the
// runtime. Turns still running in interruptible mode are stopped and fail; Close
// waits for them to return until ctx is done, because the runtime's code must
// not be released under a running guest.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	pools := make([]*Pool, 0, len(e.pools))
	for p := range e.pools {
		pools = append(pools, p)
	}
	e.mu.Unlock()
	var errs []error
	for _, p := range pools {
		errs = append(errs, p.Close(ctx))
	}
	errs = append(errs, e.wd.stopAll(ctx))
	e.wd.close()
	errs = append(errs, e.closeRuntime(ctx))
	return errors.Join(errs...)
}

func (e *Engine) closeRuntime(ctx context.Context) error {
	err := e.rt.Close(ctx)
	if e.cache != nil {
		err = errors.Join(err, e.cache.Close(ctx))
	}
	return err
}

// addPool registers p so that Close closes it, or fails when the engine is closed.
func (e *Engine) addPool(p *Pool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.pools[p] = struct{}{}
	return nil
}

func (e *Engine) removePool(p *Pool) {
	e.mu.Lock()
	delete(e.pools, p)
	e.mu.Unlock()
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}
