// Command calldelay runs the call-delay benchmark: a sweep of batch sizes in
// which each mode of calling the same guest work runs as one row, and
// writes bench/results/latest.{md,json,svg}.
//
//	go run ./bench/cmd/calldelay                 # the full default sweep
//	go run ./bench/cmd/calldelay -sizes 25,200   # a quick run
//
// Run with -h for the flags. The binary also serves as the child process of
// each row when the environment variable CALLDELAY_CHILD is 1.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/callhost/callhost/bench/calldelay"
)

func main() {
	if os.Getenv(calldelay.ChildEnv) == "1" {
		os.Exit(calldelay.ChildMain(os.Args[1:], os.Stdout))
	}
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintf(stderr, "calldelay: %v\nRun 'calldelay -h' for usage.\n", err)
		return 2
	}

	cfg.Log, cfg.Progress, cfg.TTY = log, stderr, isTerminal(os.Stderr)
	cfg.Command = commandLine(args)
	if cfg.Work == "" {
		dir, err := os.MkdirTemp("", "calldelay-")
		if err != nil {
			log.Error("create work directory failed", "error", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cfg.Work = dir
	}

	log.Info("sweep started", "sizes", cfg.Sizes, "modes", cfg.Modes,
		"fanout_modes", cfg.FanoutModes, "engines", cfg.Engines, "out", cfg.Out)
	rep, err := calldelay.Run(*cfg)
	if err != nil {
		log.Error("sweep failed", "error", err)
		return 1
	}

	failed := 0
	for _, t := range rep.Targets {
		if t.Met != nil && !*t.Met {
			failed++
		}
	}
	log.Info("sweep done", "rows", len(rep.Rows), "duration", rep.Duration.Round(1e9),
		"targets", len(rep.Targets), "targets_missed", failed, "out", cfg.Out)
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*calldelay.Config, error) {
	cfg := &calldelay.Config{}
	fs := flag.NewFlagSet("calldelay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sizes := fs.String("sizes", joinInts(calldelay.DefaultSizes),
		"comma-separated operation counts per batch; k and m suffixes allowed")
	modes := fs.String("modes", "all", "comma-separated modes: ctn, await-embedded, "+
		"await-ws, floor, extism, or all")
	fanout := fs.String("fanout", "ctn,await-embedded,await-ws",
		"modes that also run with one target object per operation; empty for none")
	engines := fs.String("engines",
		calldelay.EngineInterruptible+","+calldelay.EngineUninterruptible,
		"comma-separated engine modes: interruptible (the runtime's default), uninterruptible")
	fs.DurationVar(&cfg.Stall, "stall", calldelay.DefaultStall,
		"report a row as hung after this long without progress")

	fs.IntVar(&cfg.Chunk, "chunk", calldelay.DefaultChunk,
		"calls the ctn controller makes per turn")
	fs.DurationVar(&cfg.CallTimeout, "call-timeout", 0,
		"deadline of each call (0: the runtime's default of 30s)")
	fs.IntVar(&cfg.Window, "window", calldelay.DefaultWindow,
		"calls in flight for await-ws; also the server's max in-flight calls per connection")
	fs.IntVar(&cfg.EmbedWorkers, "embed-workers", calldelay.DefaultEmbedWorkers,
		"goroutines of await-embedded, each with one call in flight")
	fs.StringVar(&cfg.Store, "store", calldelay.StoreMemory,
		"object store of the runtime: memory, or bolt (a new bbolt file per row in -work)")
	durable := fs.String("durable", "100k", "sizes at which ctn runs once with the memory "+
		"store and once with bolt after the sweep, to compare them; empty for none")
	fs.IntVar(&cfg.RatioPairs, "ratio-pairs", 5, "ctn and floor rows run in turn at "+
		"100k operations per engine after the sweep; the ctn vs floor target takes their "+
		"median ratio and the ctn throughput target the median ctn rate. 0 runs none and "+
		"judges both on the sweep's rows")
	fs.StringVar(&cfg.Out, "out", "", "results directory (default: bench/results of the "+
		"repository); 'none' writes no files")
	fs.StringVar(&cfg.Work, "work", "", "directory for built modules and the compilation "+
		"cache (default: a temporary directory, removed at exit)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./bench/cmd/calldelay [FLAGS]\n\n"+
			"Runs the call-delay sweep and writes latest.md, latest.json and latest.svg.\n\n"+
			"Flags:\n\n")
		fs.PrintDefaults()
	}

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: calldelay takes flags only", fs.Args())
	}
	if err := fillConfig(cfg, *sizes, *modes, *fanout, *engines); err != nil {
		return nil, err
	}
	if cfg.RatioPairs < 0 {
		return nil, fmt.Errorf("-ratio-pairs is %d: want 0 or more", cfg.RatioPairs)
	}
	if strings.TrimSpace(*durable) != "" {
		var err error
		if cfg.DurableSizes, err = calldelay.ParseSizes(*durable); err != nil {
			return nil, fmt.Errorf("-durable: %w", err)
		}
	}
	return cfg, nil
}

func fillConfig(cfg *calldelay.Config, sizes, modes, fanout, engines string) error {
	var err error
	if cfg.Sizes, err = calldelay.ParseSizes(sizes); err != nil {
		return err
	}
	if cfg.Modes, err = calldelay.ParseModes(modes); err != nil {
		return err
	}
	if cfg.FanoutModes, err = calldelay.ParseModes(fanout); err != nil {
		return err
	}
	if cfg.Engines, err = calldelay.ParseEngines(engines); err != nil {
		return err
	}

	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if cfg.Root, err = calldelay.FindRoot(wd); err != nil {
		return err
	}
	switch cfg.Out {
	case "":
		cfg.Out = filepath.Join(cfg.Root, "bench", "results")
	case "none":
		cfg.Out = ""
	}

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.ChildCmd = []string{exe}
	return nil
}

// commandLine returns the command that reruns this sweep, with arguments
// quoted where the shell needs it.
func commandLine(args []string) string {
	parts := []string{"go run ./bench/cmd/calldelay"}
	for _, a := range args {
		if a == "" || strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// isTerminal reports whether f is a character device, such as a terminal.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
