package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/callhost/callhost/runtime"
)

// throttleFlags are the serve flags that throttle a class whose turns keep
// running past the turn deadline or trapping, and bound how fast it may
// break instances.
type throttleFlags struct {
	strikeLimit     int
	strikeWindow    time.Duration
	throttleTime    time.Duration
	maxThrottleTime time.Duration
	refillBurst     int
	refillInterval  time.Duration
}

func (f *throttleFlags) define(fs *flag.FlagSet) {
	fs.IntVar(&f.strikeLimit, "strike-limit", runtime.DefaultStrikeLimit,
		"turns of one class that may run past the turn deadline or trap within "+
			"-strike-window before the class is throttled; -1 turns throttling off")
	fs.DurationVar(&f.strikeWindow, "strike-window", runtime.DefaultStrikeWindow,
		"period over which -strike-limit counts, as a Go duration such as 10s")
	fs.DurationVar(&f.throttleTime, "throttle-time", runtime.DefaultThrottleTime,
		"length of a class's first throttle, during which its new calls fail with "+
			"throttled; one strike within -strike-window after a throttle ends "+
			"throttles the class again for twice as long")
	fs.DurationVar(&f.maxThrottleTime, "max-throttle-time", runtime.DefaultMaxThrottleTime,
		"max length of one throttle, as a Go duration")
	fs.IntVar(&f.refillBurst, "refill-burst", runtime.DefaultRefillBurst,
		"broken instances one class may have replaced at once before its turns wait "+
			"for -refill-interval")
	fs.DurationVar(&f.refillInterval, "refill-interval", runtime.DefaultRefillInterval,
		"time one class waits per broken instance once -refill-burst is spent, "+
			"as a Go duration")
}

// check rejects values that the runtime would not take, or that would turn
// throttling off unnoticed. 0 means the default. turnTimeout is -turn-timeout.
func (f *throttleFlags) check(turnTimeout time.Duration) error {
	if f.strikeLimit < -1 {
		return fmt.Errorf("invalid -strike-limit %d: use -1 (off), 0 (the default) or more",
			f.strikeLimit)
	}
	if f.refillBurst < 0 {
		return fmt.Errorf("invalid -refill-burst %d: must not be negative (0: the default)",
			f.refillBurst)
	}
	durations := []struct {
		name string
		v    time.Duration
	}{
		{"strike-window", f.strikeWindow}, {"throttle-time", f.throttleTime},
		{"max-throttle-time", f.maxThrottleTime}, {"refill-interval", f.refillInterval},
	}
	for _, d := range durations {
		if d.v < 0 {
			return fmt.Errorf("invalid -%s %s: must not be negative (0: the default)",
				d.name, d.v)
		}
	}
	first, longest := f.throttleTime, f.maxThrottleTime
	if first == 0 {
		first = runtime.DefaultThrottleTime
	}
	if longest == 0 {
		longest = runtime.DefaultMaxThrottleTime
	}
	if first > longest {
		return fmt.Errorf("invalid -throttle-time %s: longer than -max-throttle-time %s; "+
			"raise -max-throttle-time or shorten -throttle-time", first, longest)
	}
	return f.checkWindow(turnTimeout)
}

// checkWindow rejects a strike window shorter than the turn deadline. A
// strike is counted when its turn ends, so the strikes of turns that run
// into the deadline one after another are at least turnTimeout apart and
// never fall within such a window together.
func (f *throttleFlags) checkWindow(turnTimeout time.Duration) error {
	window := f.strikeWindow
	if window == 0 {
		window = runtime.DefaultStrikeWindow
	}
	if f.strikeLimit == -1 || window >= turnTimeout {
		return nil
	}
	return fmt.Errorf("invalid -strike-window %s: shorter than -turn-timeout %s, so turns "+
		"that run into the deadline one after another never collect -strike-limit strikes "+
		"within it; raise -strike-window or shorten -turn-timeout", window, turnTimeout)
}

// apply sets the runtime options of the flags.
func (f *throttleFlags) apply(o *runtime.Options) {
	o.StrikeLimit = f.strikeLimit
	o.StrikeWindow = f.strikeWindow
	o.ThrottleTime = f.throttleTime
	o.MaxThrottleTime = f.maxThrottleTime
	o.RefillBurst = f.refillBurst
	o.RefillInterval = f.refillInterval
}
