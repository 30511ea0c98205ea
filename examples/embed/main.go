// Command embed runs a callhost guest inside an ordinary Go program, with no
// server: it loads the counter module, calls it, and shuts the runtime down.
//
// Build the counter module first, then run the program from the repository
// root:
//
//	go run ./cmd/callhost build -o modules/ ./examples/counter
//	go run ./examples/embed -module modules/counter.wasm
//
// The runtime keeps object storage in -data-dir, so a later run with the
// same directory continues the totals. Its default, callhost-data in the
// current directory, is also the default of callhost serve, and only one
// process at a time can open a data directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/store"
)

// shutdownTimeout bounds how long the runtime may take to finish the turns
// still queued when the program ends.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// run parses args, starts a runtime that logs to stdout, loads the module
// and calls it.
func run(ctx context.Context, args []string, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("embed", flag.ContinueOnError)
	module := fs.String("module", "./modules/counter.wasm",
		"path of the counter guest module; the file name without .wasm is the class name")
	id := fs.String("id", "c1", "id of the counter object to call")
	dataDir := fs.String("data-dir", runtime.DefaultDataDir,
		"directory of the durable store that keeps object storage and pending calls")
	cache := fs.String("cache", "",
		"directory that keeps compiled modules, so later runs start faster; empty disables it")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stdout, nil))

	wasm, err := os.ReadFile(*module)
	if err != nil {
		return fmt.Errorf("read guest module: %w", err)
	}
	rt, err := runtime.New(ctx, runtime.Options{
		Logger:   log,
		CacheDir: *cache,
		DataDir:  *dataDir,
	})
	if errors.Is(err, store.ErrLocked) {
		dir := *dataDir
		if abs, absErr := filepath.Abs(dir); absErr == nil {
			dir = abs
		}
		return fmt.Errorf("%w (%s): stop the other process, such as callhost serve, "+
			"or choose another directory with -data-dir", store.ErrLocked, dir)
	}
	if err != nil {
		return err
	}
	// Shut down on every return path, with a context of its own, because
	// an interrupt may have canceled ctx already and the turns still queued
	// deserve a chance to finish.
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		err = errors.Join(err, rt.Shutdown(sctx))
	}()

	class := strings.TrimSuffix(filepath.Base(*module), ".wasm")
	if err := rt.Load(ctx, class, wasm); err != nil {
		return err
	}
	counter := callhost.Object(class, *id)
	if err := addAll(ctx, rt, log, counter, 5, 10, -3); err != nil {
		return err
	}
	return logTotal(ctx, rt, log, counter)
}

// addAll calls add on counter once for each of ns with Call, which blocks
// until the outcome arrives or ctx ends.
func addAll(ctx context.Context, rt *runtime.Runtime, log *slog.Logger,
	counter callhost.Address, ns ...int) error {
	for _, n := range ns {
		res, err := rt.Call(ctx, counter, callhost.Op("add", n))
		if err != nil {
			return fmt.Errorf("call %s add %d: %w", counter, n, err)
		}
		var total int
		if err := res.Decode(&total); err != nil {
			return err
		}
		log.Info("added", "object", counter.String(), "n", n, "total", total)
	}
	return nil
}

// logTotal reads the total with CallFunc, which returns at once and calls a
// function with the outcome later. The function runs on a runtime goroutine
// and must not block, so it only hands the outcome over on a buffered
// channel.
func logTotal(ctx context.Context, rt *runtime.Runtime, log *slog.Logger,
	counter callhost.Address) error {
	type outcome struct {
		total int
		err   error
	}
	done := make(chan outcome, 1)
	err := rt.CallFunc(counter, callhost.Op("get"), func(res callhost.Result, err error) {
		var o outcome
		if o.err = err; err == nil {
			o.err = res.Decode(&o.total)
		}
		done <- o
	}, runtime.WithTimeout(5*time.Second))
	if err != nil {
		return fmt.Errorf("call %s get: %w", counter, err)
	}
	select {
	case o := <-done:
		if o.err != nil {
			return fmt.Errorf("call %s get: %w", counter, o.err)
		}
		log.Info("total", "object", counter.String(), "total", o.total)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
