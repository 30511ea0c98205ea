package runtime

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/callhost/callhost"
)

// classHealth tracks the turns of one class that cost the host more than
// their own time, and limits the class when they come too often. Such a turn
// is a strike: it ran into the turn deadline or trapped, so it held a worker
// until it was stopped or it broke its instance, which the pool replaces at
// the cost of a new instantiation.
//
//   - Throttling: Options.StrikeLimit strikes within Options.StrikeWindow
//     throttle the class for Options.ThrottleTime. Within the window after
//     a throttle ended, one strike throttles the class again, for twice as
//     long as the last throttle, up to Options.MaxThrottleTime. New calls to
//     a throttled class fail with callhost.CodeThrottled, and its queued
//     turns run one at a time. Strikes during a throttle do not count.
//   - Refill budget: every broken instance spends a token of a bucket of
//     Options.RefillBurst tokens that refills one token per
//     Options.RefillInterval. While the bucket holds less than one token, the
//     class starts no run, so the pool creates no instance for it. Its queued
//     turns wait.
type classHealth struct {
	name         string
	maxInstances int
	opts         *Options
	log          *slog.Logger

	until   atomic.Int64 // end of the last throttle as a monotonic clock reading; 0 when none
	limited atomic.Bool  // the refill bucket is not full
	rejects atomic.Int64 // calls rejected while throttled

	mu        sync.Mutex
	strikes   []time.Time // strikes within the window, oldest first
	level     int         // throttles in a row; the next lasts ThrottleTime << level
	lastStart time.Time   // start of the last throttle
	lastUntil time.Time   // end of the last throttle
	cause     string      // reason for the current throttle, for messages
	tokens    float64     // refill bucket
	tokensAt  time.Time   // when tokens was last brought up to date
}

func newClassHealth(name string, opts *Options, log *slog.Logger) *classHealth {
	return &classHealth{name: name, maxInstances: opts.MaxInstances, opts: opts, log: log,
		tokens: float64(opts.RefillBurst)}
}

// maxRunning returns how many objects of the class may run at once, and
// when that number is 0, the time it becomes 1 again. *now is read from the
// clock on first use, so the common case costs two atomic loads.
func (h *classHealth) maxRunning(now *time.Time) (int, time.Time) {
	limit := h.maxInstances
	if u := h.until.Load(); u != 0 && monotonic(clock(now)) < u {
		limit = 1
	}
	if !h.limited.Load() {
		return limit, time.Time{}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	tokens := h.refillTokens(clock(now))
	if tokens >= 1 {
		return limit, time.Time{}
	}
	wait := time.Duration((1 - tokens) * float64(h.opts.RefillInterval))
	return 0, clock(now).Add(wait)
}

func clock(now *time.Time) time.Time {
	if now.IsZero() {
		*now = time.Now()
	}
	return *now
}

// clockOrigin is the origin of monotonic.
var clockOrigin = time.Now()

// monotonic returns t as nanoseconds of the monotonic clock since
// clockOrigin, so that a change of the wall clock cannot end or extend a
// throttle.
func monotonic(t time.Time) int64 { return int64(t.Sub(clockOrigin)) }

// refillTokens brings the refill bucket up to now and returns its tokens.
// The caller holds h.mu.
func (h *classHealth) refillTokens(now time.Time) float64 {
	burst := float64(h.opts.RefillBurst)
	if elapsed := now.Sub(h.tokensAt); elapsed > 0 && !h.tokensAt.IsZero() {
		h.tokens += float64(elapsed) / float64(h.opts.RefillInterval)
	}
	h.tokensAt = now
	if h.tokens >= burst {
		h.tokens = burst
		h.limited.Store(false)
	}
	return h.tokens
}

// strike records a turn of the class that broke its instance, with its
// outcome err. It reports whether the strike throttled the class.
func (h *classHealth) strike(err *callhost.Error) bool {
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tokens = h.refillTokens(now) - 1
	h.limited.Store(true)

	// Strikes during a throttle come from calls accepted before it, so they
	// do not extend it.
	if h.opts.StrikeLimit < 0 || now.Before(h.lastUntil) {
		return false
	}
	window := h.opts.StrikeWindow
	keep := 0
	for keep < len(h.strikes) && now.Sub(h.strikes[keep]) > window {
		keep++
	}
	h.strikes = append(h.strikes[:0], h.strikes[keep:]...)
	h.strikes = append(h.strikes, now)

	// Within the window after a throttle ended, the class is on probation:
	// its first strike throttles it again.
	if !h.lastUntil.IsZero() && now.Sub(h.lastUntil) <= window {
		h.throttle(now, err, fmt.Sprintf("one of its turns ran past the turn deadline or "+
			"trapped within %s after its last throttle ended", window))
		return true
	}
	if len(h.strikes) < h.opts.StrikeLimit {
		return false
	}
	h.throttle(now, err, fmt.Sprintf("%d of its turns within %s ran past the turn deadline "+
		"or trapped", len(h.strikes), window))
	return true
}

// throttle starts a throttle of the class for reason, with err the outcome
// of the last strike. The caller holds h.mu.
func (h *classHealth) throttle(now time.Time, err *callhost.Error, reason string) {
	if now.Sub(h.lastUntil) > h.opts.StrikeWindow {
		h.level = 0 // the class ran a whole window without a throttle
	}
	d := h.opts.ThrottleTime
	for i := 0; i < h.level && d < h.opts.MaxThrottleTime; i++ {
		d *= 2
	}
	d = min(d, h.opts.MaxThrottleTime)
	if d < h.opts.MaxThrottleTime {
		h.level++
	}
	until := now.Add(d)
	h.cause = reason + "; the last: " + shortMessage(err)
	h.strikes = h.strikes[:0]
	h.lastStart, h.lastUntil = now, until
	h.until.Store(monotonic(until))
	h.log.Warn("class throttled", "class", h.name, "for", d, "until", until,
		"code", err.Code.String(), "last_error", shortMessage(err))
}

// admit returns the error for a new call to the class while it is
// throttled, and counts the rejection, or returns nil.
func (h *classHealth) admit() *callhost.Error {
	err := h.throttled()
	if err != nil {
		h.rejects.Add(1)
	}
	return err
}

// throttled returns the error for a new call to the class while it is
// throttled, or nil.
func (h *classHealth) throttled() *callhost.Error {
	u := h.until.Load()
	if u == 0 {
		return nil
	}
	now := time.Now()
	if monotonic(now) >= u {
		return nil
	}
	h.mu.Lock()
	cause, until := h.cause, h.lastUntil
	h.mu.Unlock()
	return callhost.Errorf(callhost.CodeThrottled,
		"class %q is throttled until %s (%s from now), because %s", h.name,
		until.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		until.Sub(now).Round(time.Millisecond), cause)
}

// shortMessage returns the first line of err's message, cut to 200 bytes:
// trap messages carry the guest's stderr, which may be long.
func shortMessage(err *callhost.Error) string {
	msg := err.Message
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}
