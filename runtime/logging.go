package runtime

import (
	"context"
	"log/slog"
	"sync"
	"time"
	"unicode/utf8"
)

// guestLog is the tally of one turn's messages to the log import.
type guestLog struct {
	written      int    // message bytes written
	droppedLines int    // lines dropped past Options.MaxLogBytesPerTurn
	droppedBytes int    // bytes of the dropped messages, before truncation
	dropHandler  string // the handler that ran when the first line was dropped
}

// Log implements host.Effects. It writes msg to the runtime's logger, cut to
// Options.MaxLogMessageSize, unless the turn has used up
// Options.MaxLogBytesPerTurn. Messages below the logger's level are neither
// written nor counted.
func (t *turn) Log(level slog.Level, msg []byte) {
	if !t.rt.log.Enabled(t.rt.ctx, level) {
		return
	}
	opts := &t.rt.opts
	size := len(msg)
	msg = truncateUTF8(msg, opts.MaxLogMessageSize)
	l := &t.log
	if l.droppedLines > 0 || l.written+len(msg) > opts.MaxLogBytesPerTurn {
		if l.droppedLines == 0 {
			l.dropHandler = t.handler
		}
		l.droppedLines++
		l.droppedBytes += size
		return
	}
	l.written += len(msg)
	if len(msg) < size {
		t.rt.log.Log(t.rt.ctx, level, string(msg), "object", t.obj.addr.String(),
			"call_id", t.msg.callID, "truncated", true, "original_bytes", size)
		return
	}
	t.rt.log.Log(t.rt.ctx, level, string(msg), "object", t.obj.addr.String(),
		"call_id", t.msg.callID)
}

// reportDroppedLog logs a warning if the turn dropped log lines.
func (t *turn) reportDroppedLog() {
	l := &t.log
	if l.droppedLines == 0 {
		return
	}
	t.rt.warns.warn("guest log lines dropped: the turn exceeded its log budget",
		"object", t.obj.addr.String(), "handler", l.dropHandler, "call_id", t.msg.callID,
		"dropped_lines", l.droppedLines, "dropped_bytes", l.droppedBytes,
		"max_log_bytes_per_turn", t.rt.opts.MaxLogBytesPerTurn)
}

// truncateUTF8 returns the longest prefix of b of at most n bytes that does
// not end inside a UTF-8 sequence. It backs up at most 3 bytes from n, so
// invalid UTF-8 may still be cut inside a sequence.
func truncateUTF8(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	cut := n
	for cut > 0 && n-cut < utf8.UTFMax-1 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return b[:cut]
}

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
