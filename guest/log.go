package guest

import (
	"bytes"
	"context"
	"log/slog"
	"os"
)

// newLogger returns the logger of [Ctx.Logger] for d.
func newLogger(d *dispatcher) *slog.Logger {
	sink := &logSink{d: d}
	opts := &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: dropTimeAndLevel}
	return slog.New(&logHandler{text: slog.NewTextHandler(sink, opts), sink: sink})
}

// dropTimeAndLevel removes the built-in time, level and message attributes:
// the host stamps its own time, receives the level as an import argument, and
// the handler puts the message first as plain text.
func dropTimeAndLevel(groups []string, a slog.Attr) slog.Attr {
	builtin := a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey
	if len(groups) == 0 && builtin {
		return slog.Attr{}
	}
	return a
}

// logHandler formats records with slog's text handler into a buffer and
// passes each one to the log import with the record's level.
type logHandler struct {
	text     slog.Handler
	sink     *logSink
	hasAttrs bool // WithAttrs added attributes that every record prints
}

// logSink collects the text handler's output for one record. The text
// handler writes each record with a single Write.
type logSink struct {
	d   *dispatcher
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) { return s.buf.Write(p) }

func (h *logHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.text.Enabled(ctx, level)
}

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	s := h.sink
	s.buf.Reset()
	s.buf.WriteString(r.Message)
	if r.NumAttrs() > 0 || h.hasAttrs {
		s.buf.WriteByte(' ')
	}
	if err := h.text.Handle(ctx, r); err != nil {
		return err
	}
	msg := bytes.TrimSuffix(s.buf.Bytes(), []byte("\n"))
	if !s.d.ctx.active {
		// Imports may be called only during a turn.
		_, err := os.Stderr.Write(s.buf.Bytes())
		return err
	}
	s.d.host.log(int32(r.Level), msg)
	return nil
}

func (h *logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &logHandler{text: h.text.WithAttrs(attrs), sink: h.sink,
		hasAttrs: h.hasAttrs || len(attrs) > 0}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{text: h.text.WithGroup(name), sink: h.sink, hasAttrs: h.hasAttrs}
}
