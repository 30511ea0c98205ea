//go:build !wasip1

package guest

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
)

func TestLoggerWritesLevels(t *testing.T) {
	h := storageHarness(t, func(c *Ctx) error {
		log := c.Logger().With("object", c.Self().String())
		log.Debug("debug", "n", 1)
		log.Info("two words")
		log.Warn("warn", "err", fmt.Errorf("disk full"))
		log.WithGroup("req").Error("error", "id", 7)
		log.Log(context.Background(), slog.Level(-8), "below debug")
		return nil
	})
	h.invoke("run")
	want := []logLine{
		{-4, "debug object=counter/c1 n=1"},
		{0, "two words object=counter/c1"},
		{4, `warn object=counter/c1 err="disk full"`},
		{8, "error object=counter/c1 req.id=7"},
	}
	if len(h.host.logs) != len(want) {
		t.Fatalf("host received %d log lines %q, want %d", len(h.host.logs), h.host.logs,
			len(want))
	}
	for i, line := range h.host.logs {
		if line != want[i] {
			t.Errorf("log line %d = %+v, want %+v", i, line, want[i])
		}
	}
}

func TestLoggerMessageWithoutAttributes(t *testing.T) {
	h := storageHarness(t, func(c *Ctx) error {
		c.Logger().Info("plain message")
		return nil
	})
	h.invoke("run")
	if len(h.host.logs) != 1 || h.host.logs[0].msg != "plain message" {
		t.Fatalf("host received %+v, want one line \"plain message\"", h.host.logs)
	}
}

func TestLoggerOutsideTurnSkipsHost(t *testing.T) {
	h := newHarness(t)
	h.d.logger.Info("between turns")
	if len(h.host.logs) != 0 {
		t.Errorf("host received %q outside a turn", h.host.logs)
	}
}
