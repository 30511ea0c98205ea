package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// logLimit caps the lines a source of repeated warnings writes per second,
// so a guest that fails thousands of calls cannot flood the log. Lines past
// the cap are counted and reported in the next second.
type logLimit struct {
	log      *slog.Logger
	perSec   int
	mu       sync.Mutex
	window   time.Time
	written  int
	dropped  int
	lastKind string
}

func newLogLimit(log *slog.Logger, perSec int) *logLimit {
	return &logLimit{log: log, perSec: perSec}
}

// warn writes a warning unless this second's budget is spent.
func (l *logLimit) warn(msg string, args ...any) {
	if !l.log.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.window) >= time.Second {
		if l.dropped > 0 {
			l.log.Warn("log lines suppressed", "count", l.dropped, "last", l.lastKind)
		}
		l.window, l.written, l.dropped = now, 0, 0
	}
	if l.written >= l.perSec {
		l.dropped++
		l.lastKind = msg
		l.mu.Unlock()
		return
	}
	l.written++
	l.mu.Unlock()
	l.log.Warn(msg, args...)
}
