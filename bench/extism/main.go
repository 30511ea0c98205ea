// Command extism is the child process of the extism rows of the call-delay
// benchmark. It runs the benchmark's Extism plugin through the Extism Go SDK
// and reports progress and a summary as the other children do (package
// bench/internal/load).
//
// It is a module of its own, so that the Extism SDK and its dependencies
// stay out of the main module. The runner builds it with go build.
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/callhost/callhost/bench/internal/load"
	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
)

func main() {
	em := load.NewEmitter(os.Stdout)
	if err := run(os.Args[1:], em); err != nil {
		em.Emit(load.Event{Type: load.EventFailed, Error: err.Error()})
		os.Exit(1)
	}
}

type args struct {
	ops    int
	engine string
	wasm   string
	cache  string
}

// parseArgs reads the flags the runner passes to every child and ignores
// those that do not apply to Extism.
func parseArgs(argv []string) (*args, error) {
	var a args
	fs := flag.NewFlagSet("extism", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&a.ops, "ops", 0, "operations")
	fs.StringVar(&a.engine, "engine", "interruptible", "engine mode")
	fs.StringVar(&a.wasm, "wasm", "", "plugin module")
	fs.StringVar(&a.cache, "cache", "", "compilation cache directory")
	for _, name := range []string{"mode", "fanout", "window", "workers", "call-timeout",
		"store", "data"} {
		fs.String(name, "", "ignored")
	}
	if err := fs.Parse(argv); err != nil {
		return nil, err
	}
	if a.ops <= 0 || a.wasm == "" {
		return nil, errors.New("extism child: -ops and -wasm are required")
	}
	return &a, nil
}

func run(argv []string, em *load.Emitter) error {
	a, err := parseArgs(argv)
	if err != nil {
		return err
	}
	plugin, err := newPlugin(a)
	if err != nil {
		return err
	}
	defer plugin.Close(context.Background())
	in := make([]byte, 8)
	sum := load.Run(a.ops, 1, func(i int) error {
		binary.LittleEndian.PutUint64(in, uint64(i))
		rc, out, err := plugin.Call("double", in)
		switch {
		case err != nil:
			return err
		case rc != 0 || len(out) != 8:
			return fmt.Errorf("double(%d): status %d, %d bytes of output", i, rc, len(out))
		case int64(binary.LittleEndian.Uint64(out)) != 2*int64(i):
			return load.ErrInvalid
		}
		return nil
	}, em.Emit)
	em.Emit(load.Event{Type: load.EventSummary, Summary: sum})
	load.AwaitRelease()
	return nil
}

// newPlugin loads the plugin with WASI, in the engine mode of the row:
// interruptible rows compile with wazero's close-on-context-done, the way
// an Extism host makes a plugin call stoppable.
func newPlugin(a *args) (*extism.Plugin, error) {
	ctx := context.Background()
	wasm, err := os.ReadFile(a.wasm)
	if err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(a.engine == "interruptible")
	if a.cache != "" {
		cache, err := wazero.NewCompilationCacheWithDir(a.cache)
		if err != nil {
			return nil, err
		}
		rc = rc.WithCompilationCache(cache)
	}
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: wasm}}}
	return extism.NewPlugin(ctx, manifest, extism.PluginConfig{
		EnableWasi: true, RuntimeConfig: rc,
		ModuleConfig: wazero.NewModuleConfig().WithSysWalltime().WithSysNanotime(),
	}, nil)
}
