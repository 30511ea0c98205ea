package calldelay

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/callhost/callhost/internal/protocol"
)

// Mode is one way of running the operations.
type Mode string

// The modes, in the order a sweep runs them for each size.
const (
	// ModeCtn: one call from the runner starts a controller object that
	// makes every call itself, each with a continuation.
	ModeCtn Mode = "ctn"
	// ModeAwaitEmbedded: runtime.Call from goroutines of the process that
	// embeds the runtime, each waiting for its outcome.
	ModeAwaitEmbedded Mode = "await-embedded"
	// ModeAwaitWS: client.CallFunc from the runner over one WebSocket
	// connection, with a bounded window of calls in flight.
	ModeAwaitWS Mode = "await-ws"
	// ModeFloor: the guest's handler called directly through host.Instance.Turn
	// on one instance, with no runtime.
	ModeFloor Mode = "floor"
	// ModeExtism: the same work as an Extism plugin through the Extism Go SDK.
	ModeExtism Mode = "extism"
)

// AllModes lists every mode in sweep order.
var AllModes = []Mode{ModeCtn, ModeAwaitEmbedded, ModeAwaitWS, ModeFloor, ModeExtism}

// objectModes are the modes that address objects, and so have a fan-out
// variant.
var objectModes = map[Mode]bool{ModeCtn: true, ModeAwaitEmbedded: true, ModeAwaitWS: true}

// runsRuntime marks the modes whose child runs a callhost runtime, and so an
// object store. These are the object modes.
var runsRuntime = objectModes

// Engine modes of the wasm runtime, see runtime.Options.Uninterruptible.
const (
	EngineInterruptible   = "interruptible"
	EngineUninterruptible = "uninterruptible"
)

// DefaultSizes is the default sweep: the sizes of the experiment this
// benchmark reproduces (25 to 50, where its continuation path hung at 45 of
// 50 operations), then decades up to a million.
var DefaultSizes = []int{25, 35, 40, 45, 50, 100, 200, 1000, 10000, 100000, 1000000}

// Config configures a sweep.
type Config struct {
	Sizes       []int
	Modes       []Mode
	FanoutModes []Mode   // modes that also run with one target object per operation
	Engines     []string // EngineInterruptible and/or EngineUninterruptible

	// Stall is how long a row may go without progress before it is
	// reported as hung and stopped.
	Stall time.Duration
	// Chunk is the number of calls the controller makes per turn.
	Chunk int
	// CallTimeout is the deadline of each call; 0 keeps the runtime's
	// default of 30 s.
	CallTimeout time.Duration
	// Window caps the calls in flight of await-ws. It is also the server's
	// max in-flight calls per connection, so the window never overloads it.
	Window int
	// EmbedWorkers is the number of goroutines of await-embedded, each with
	// one call in flight.
	EmbedWorkers int
	// Store is the object store of the runtime: StoreMemory (default) or
	// StoreBolt, a new bbolt file per row under Work.
	Store string
	// DurableSizes are the sizes at which ctn runs once more with each
	// store, memory then bolt, after the sweep, to compare the durable
	// store's throughput with the memory store's. Empty runs no comparison.
	DurableSizes []int
	// RatioPairs is the number of pairs of ctn and floor rows run in turn at
	// 100,000 operations per engine after the sweep. The ctn vs floor target
	// is judged on the median of their ratios, which a single pair on a
	// noisy machine misses or meets by chance, and the ctn throughput target
	// on the median rate of their ctn rows. 0 runs none and judges both
	// targets on the sweep's own rows.
	RatioPairs int

	Root     string   // repository root, where the guests' sources are
	Work     string   // directory for built modules and the compilation cache
	ChildCmd []string // command that runs a child: the runner's own binary
	Out      string   // results directory; empty writes no files
	Command  string   // command line recorded in the results

	Progress io.Writer // progress display, usually stderr
	TTY      bool      // Progress is a terminal: draw a live bar
	Log      *slog.Logger
}

// Defaults for Config fields left zero.
const (
	DefaultStall        = 30 * time.Second
	DefaultChunk        = 1000
	DefaultEmbedWorkers = protocol.DefaultMaxInFlight
	DefaultWindow       = protocol.DefaultMaxInFlight
)

func (c *Config) setDefaults() {
	if len(c.Sizes) == 0 {
		c.Sizes = DefaultSizes
	}
	if len(c.Modes) == 0 {
		c.Modes = AllModes
	}
	if len(c.Engines) == 0 {
		c.Engines = []string{EngineInterruptible}
	}
	if c.Stall <= 0 {
		c.Stall = DefaultStall
	}
	if c.Chunk <= 0 {
		c.Chunk = DefaultChunk
	}
	if c.Window <= 0 {
		c.Window = DefaultWindow
	}
	if c.Store == "" {
		c.Store = StoreMemory
	}
	if c.EmbedWorkers <= 0 {
		c.EmbedWorkers = DefaultEmbedWorkers
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// ParseSizes parses a comma-separated list of positive operation counts,
// with the suffixes k (thousand) and m (million) accepted, as in "100k".
func ParseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(strings.ToLower(f))
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1000000, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid size %q: want a positive integer such as 200, "+
				"100k or 1m", f)
		}
		sizes = append(sizes, n*mult)
	}
	return sizes, nil
}

// ParseModes parses a comma-separated list of modes; "all" means every mode
// and an empty string none.
func ParseModes(s string) ([]Mode, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if s == "all" {
		return AllModes, nil
	}
	var modes []Mode
	for _, f := range strings.Split(s, ",") {
		m := Mode(strings.TrimSpace(f))
		known := false
		for _, k := range AllModes {
			known = known || k == m
		}
		if !known {
			return nil, fmt.Errorf("unknown mode %q: use %s", m, modeNames())
		}
		modes = append(modes, m)
	}
	return modes, nil
}

func modeNames() string {
	names := make([]string, len(AllModes))
	for i, m := range AllModes {
		names[i] = string(m)
	}
	return strings.Join(names, ", ")
}

// ParseEngines parses a comma-separated list of engine modes.
func ParseEngines(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f != EngineInterruptible && f != EngineUninterruptible {
			return nil, fmt.Errorf("unknown engine mode %q: use %s or %s", f,
				EngineInterruptible, EngineUninterruptible)
		}
		out = append(out, f)
	}
	return out, nil
}
