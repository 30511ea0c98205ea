package runtime

import (
	"log/slog"
	goruntime "runtime"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

// Defaults for [Options] fields left zero.
const (
	DefaultCallTimeout         = 30 * time.Second
	DefaultTurnTimeout         = 5 * time.Second
	DefaultMaxPendingPerObject = 1 << 20
	DefaultMaxPendingPerClass  = 1 << 21
	DefaultMaxPendingTotal     = 1 << 22
	DefaultBatch               = 256
	DefaultDurableBatch        = 2048
	DefaultDataDir             = "callhost-data"
	DefaultAlarmAttempts       = 5
	DefaultAlarmBackoff        = time.Second
	DefaultMaxCallSize         = 1 << 20
	DefaultMaxResultSize       = 1 << 20
	DefaultMaxCallsPerTurn     = 1_000_000
	DefaultMaxIDSize           = 256
	DefaultMaxKeySize          = 1 << 10
	DefaultMaxValueSize        = 1 << 20
	DefaultMaxLogBytesPerTurn  = 64 << 10
	DefaultMaxLogMessageSize   = 8 << 10
	DefaultStrikeLimit         = 3
	DefaultStrikeWindow        = 10 * time.Second
	DefaultThrottleTime        = time.Second
	DefaultMaxThrottleTime     = time.Minute
	DefaultRefillBurst         = 4
	DefaultRefillInterval      = 250 * time.Millisecond
)

// Options configures a [Runtime]. The zero value is usable: every zero field
// takes its default.
type Options struct {
	// Logger receives the runtime's logs. Nil discards them.
	Logger *slog.Logger
	// Store keeps object storage, queued messages, pending calls and alarms.
	// Nil means a durable bbolt store in DataDir, which the runtime opens
	// and closes. Pass store.NewMemory() for a runtime that keeps nothing
	// across restarts.
	Store store.Store
	// DataDir is the directory of the default store. Default: callhost-data
	// in the current directory.
	DataDir string
	// Sync is the sync policy of the default store. Default:
	// store.SyncEveryGroup.
	Sync store.SyncPolicy

	// Workers is the number of goroutines that run turns. Default: twice
	// GOMAXPROCS.
	Workers int
	// MaxInstances caps the pooled wasm instances of each class, and so the
	// turns of one class that run at once. Default: GOMAXPROCS.
	MaxInstances int
	// WarmInstances is the number of instances each class creates when it
	// loads. Default: 1.
	WarmInstances int

	// AlarmAttempts is how many times a failing alarm turn runs before the
	// alarm is reported as failed. Default 5.
	AlarmAttempts int
	// AlarmBackoff is the wait before the second attempt of a failed alarm;
	// it doubles for each later attempt. Default 1 s.
	AlarmBackoff time.Duration

	// MaxBatch caps the turns one object runs on one instance before the
	// worker commits them and moves on. Larger batches share one commit, which
	// matters when each commit waits for the disk. Default: DefaultBatch, or
	// DefaultDurableBatch with a durable store.
	MaxBatch int

	// CallTimeout is the deadline of a call that sets none. Default 30 s.
	CallTimeout time.Duration
	// TurnTimeout stops a turn that runs longer. Default 5 s.
	TurnTimeout time.Duration

	// MaxPendingPerObject, MaxPendingPerClass and MaxPendingTotal cap the calls
	// accepted but not yet started on one object, on all objects of one class,
	// and in the whole runtime. A call past a cap fails at once with
	// callhost.CodeOverloaded. Defaults: 2^20, 2^21 and 2^22.
	MaxPendingPerObject int
	MaxPendingPerClass  int
	MaxPendingTotal     int

	// MaxDepth caps the nesting of arrays, maps and nested operations in call
	// arguments, and MaxSteps the steps of one operation's chain. Deeper or
	// longer operations fail with callhost.CodeBadRequest. Defaults:
	// callhost.MaxDepth (32) and callhost.MaxSteps (64).
	MaxDepth int
	MaxSteps int
	// MaxCallSize caps the bytes of a call envelope that a guest passes to
	// the call import; a larger one fails with callhost.CodeTooLarge.
	// Default: 1 MiB.
	MaxCallSize int
	// MaxResultSize caps the encoded result of one step of a call; a larger
	// result fails the call with callhost.CodeTooLarge. Default: 1 MiB.
	MaxResultSize int
	// MaxCallsPerTurn caps the calls one turn may make; the call import
	// rejects the calls past it with callhost.CodeTooLarge. Default:
	// 1,000,000.
	MaxCallsPerTurn int
	// MaxIDSize caps the bytes of a target object's id; a call to a longer
	// one fails with callhost.CodeBadRequest. Default: 256.
	MaxIDSize int
	// MaxKeySize and MaxValueSize cap the bytes of a storage key and value
	// that a guest passes to the storage imports. A larger key or value fails
	// the import with callhost.CodeTooLarge. Defaults: 1 KiB and 1 MiB.
	//
	// The default bbolt store holds keys of at most 32 KiB together with the
	// object's class and id, so with it New rejects a MaxKeySize above
	// store.BoltMaxKeySize for the longest class name and MaxIDSize.
	MaxKeySize   int
	MaxValueSize int
	// MaxLogBytesPerTurn caps the message bytes one turn may write to Logger
	// through the log import. The first message past it and every later one
	// of the turn are dropped. When the turn ends, the runtime logs a warning
	// with the object, the handler and the bytes dropped. The turn does not
	// fail for this. Default: 64 KiB.
	MaxLogBytesPerTurn int
	// MaxLogMessageSize caps the bytes of one message of the log import. A
	// longer message is cut to it, and its line carries truncated=true and
	// original_bytes. Default: 8 KiB.
	MaxLogMessageSize int
	// CallRules, when not nil, says which classes the objects of each class
	// may call; see [CallRules]. Nil lets every object call every class.
	CallRules CallRules

	// StrikeLimit is how many strikes one class may take within
	// StrikeWindow before it is throttled. A strike is a turn that ran past
	// the turn deadline or trapped: it held a worker until it was stopped,
	// or it broke its instance, which costs an instantiation to replace. New
	// calls to a throttled class fail at once with callhost.CodeThrottled,
	// and its queued turns run one at a time. Default: 3. A negative value
	// turns throttling off.
	StrikeLimit int
	// StrikeWindow is the period over which strikes are counted. Default:
	// 10 s.
	StrikeWindow time.Duration
	// ThrottleTime is how long a class's first throttle lasts. Within
	// StrikeWindow after a throttle ended, a single strike throttles the
	// class again, for twice as long as the last throttle, up to
	// MaxThrottleTime. Strikes during a throttle come from calls accepted
	// before it and do not count. Defaults: 1 s and 1 min. A MaxThrottleTime
	// below ThrottleTime is raised to it.
	ThrottleTime    time.Duration
	MaxThrottleTime time.Duration
	// RefillBurst and RefillInterval bound how fast one class may break
	// instances, and so the time spent creating their replacements. Each
	// broken instance spends a token of a bucket of RefillBurst tokens that
	// gains one token per RefillInterval. While the bucket holds less than
	// one token, the class starts no turn. Its queued calls wait, and their
	// callers get callhost.CodeTimeout if the deadline passes first.
	// Defaults: 4 and 250 ms, so a class that keeps breaking instances
	// causes at most 4 instantiations a second after the first 4.
	RefillBurst    int
	RefillInterval time.Duration

	// CacheDir keeps compiled modules on disk across runs. Empty disables it.
	CacheDir string
	// MemoryLimitPages caps each instance's linear memory in 64 KiB pages.
	// Default: 2048 (128 MiB).
	MemoryLimitPages uint32
	// Uninterruptible compiles guests without the checks that let a turn
	// deadline stop a guest stuck in a loop (see host.Config.Uninterruptible).
	// The checks cost little; without them such a guest holds its worker for
	// good, and a garbage collection of the host waits for it. Use it only
	// for trusted modules.
	Uninterruptible bool
}

func (o Options) withDefaults() Options {
	procs := goruntime.GOMAXPROCS(0)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if o.Workers <= 0 {
		o.Workers = 2 * procs
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = procs
	}
	if o.WarmInstances <= 0 {
		o.WarmInstances = 1
	}
	o.WarmInstances = min(o.WarmInstances, o.MaxInstances)
	if o.AlarmAttempts <= 0 {
		o.AlarmAttempts = DefaultAlarmAttempts
	}
	if o.AlarmBackoff <= 0 {
		o.AlarmBackoff = DefaultAlarmBackoff
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.TurnTimeout <= 0 {
		o.TurnTimeout = DefaultTurnTimeout
	}
	if o.MaxPendingPerObject <= 0 {
		o.MaxPendingPerObject = DefaultMaxPendingPerObject
	}
	if o.MaxPendingPerClass <= 0 {
		o.MaxPendingPerClass = DefaultMaxPendingPerClass
	}
	if o.MaxPendingTotal <= 0 {
		o.MaxPendingTotal = DefaultMaxPendingTotal
	}
	return o.healthDefaults().limitDefaults()
}

func (o Options) healthDefaults() Options {
	if o.StrikeLimit == 0 {
		o.StrikeLimit = DefaultStrikeLimit
	}
	if o.StrikeWindow <= 0 {
		o.StrikeWindow = DefaultStrikeWindow
	}
	if o.ThrottleTime <= 0 {
		o.ThrottleTime = DefaultThrottleTime
	}
	if o.MaxThrottleTime <= 0 {
		o.MaxThrottleTime = DefaultMaxThrottleTime
	}
	o.MaxThrottleTime = max(o.MaxThrottleTime, o.ThrottleTime)
	if o.RefillBurst <= 0 {
		o.RefillBurst = DefaultRefillBurst
	}
	if o.RefillInterval <= 0 {
		o.RefillInterval = DefaultRefillInterval
	}
	return o
}

func (o Options) limitDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = callhost.MaxDepth
	}
	if o.MaxSteps <= 0 {
		o.MaxSteps = callhost.MaxSteps
	}
	if o.MaxCallSize <= 0 {
		o.MaxCallSize = DefaultMaxCallSize
	}
	if o.MaxResultSize <= 0 {
		o.MaxResultSize = DefaultMaxResultSize
	}
	if o.MaxCallsPerTurn <= 0 {
		o.MaxCallsPerTurn = DefaultMaxCallsPerTurn
	}
	if o.MaxIDSize <= 0 {
		o.MaxIDSize = DefaultMaxIDSize
	}
	if o.MaxKeySize <= 0 {
		o.MaxKeySize = DefaultMaxKeySize
	}
	if o.MaxValueSize <= 0 {
		o.MaxValueSize = DefaultMaxValueSize
	}
	if o.MaxLogBytesPerTurn <= 0 {
		o.MaxLogBytesPerTurn = DefaultMaxLogBytesPerTurn
	}
	if o.MaxLogMessageSize <= 0 {
		o.MaxLogMessageSize = DefaultMaxLogMessageSize
	}
	return o
}
