package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

func TestDurableStorageSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, Options{DataDir: dir})
	var got int
	mustCall(t, rt, "calc/d", callhost.Op("incr", 7), &got)
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rt = newRuntime(t, Options{DataDir: dir})
	mustCall(t, rt, "calc/d", callhost.Op("incr", 1), &got)
	if got != 8 {
		t.Fatalf("count after restart = %d, want 8", got)
	}
}

func TestDurableContinuations(t *testing.T) {
	rt := newRuntime(t, Options{DataDir: t.TempDir()})
	const n = 2000
	mustCall(t, rt, "caller/c", callhost.Op("fire", "calc", "t", n), nil)
	m := waitStat(t, rt, "caller/c", "ok", n)
	if m["ok"] != n || len(m) != 1 {
		t.Fatalf("stats = %v, want exactly ok=%d", m, n)
	}
}

func TestDurablePendingCallResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, Options{DataDir: dir})
	// The call spins longer than the runtime lives, with a deadline that
	// passes while it is down: after the restart the timeout fires once.
	spec := []any{"calc", "slow", "spin", 2000, 300}
	mustCall(t, rt, "caller/r", callhost.Op("callOnce", "slow", spec), nil)
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = rt.Shutdown(ctx)
	time.Sleep(400 * time.Millisecond)

	rt = newRuntime(t, Options{DataDir: dir})
	m := waitStat(t, rt, "caller/r", "slow.runs", 1)
	if m["slow.runs"] != 1 {
		t.Fatalf("continuation ran %d times, want 1", m["slow.runs"])
	}
	if m["slow.code"] != int(callhost.CodeTimeout) && m["slow.code"] != 0 {
		t.Fatalf("outcome code = %d, want timeout or ok", m["slow.code"])
	}
}

func TestAlarmFiresOnTime(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "bolt"}[durable], func(t *testing.T) {
			opts := Options{}
			if durable {
				opts.DataDir = t.TempDir()
			}
			rt := newRuntime(t, opts)
			start := time.Now()
			mustCall(t, rt, "calc/a", callhost.Op("alarmIn", 150, "x"), nil)
			waitStat(t, rt, "calc/a", "alarm.x", 1)
			if d := time.Since(start); d < 150*time.Millisecond {
				t.Fatalf("alarm fired after %s, before its time", d)
			}
			time.Sleep(100 * time.Millisecond)
			if m := stats(t, rt, "calc/a"); m["alarm.x"] != 1 {
				t.Fatalf("alarm ran %d times, want 1", m["alarm.x"])
			}
		})
	}
}

func TestAlarmCancel(t *testing.T) {
	rt := newRuntime(t, Options{})
	var id, n int
	mustCall(t, rt, "calc/c", callhost.Op("alarmIn", 200, "gone"), &id)
	mustCall(t, rt, "calc/c", callhost.Op("alarms"), &n)
	if n != 1 {
		t.Fatalf("alarms listed = %d, want 1", n)
	}
	var ok bool
	mustCall(t, rt, "calc/c", callhost.Op("cancelAlarm", id), &ok)
	if !ok {
		t.Fatal("cancel of a set alarm reported no such alarm")
	}
	mustCall(t, rt, "calc/c", callhost.Op("cancelAlarm", id), &ok)
	if ok {
		t.Fatal("second cancel reported the alarm still existed")
	}
	time.Sleep(350 * time.Millisecond)
	if m := stats(t, rt, "calc/c"); m["alarm.gone"] != 0 {
		t.Fatalf("cancelled alarm ran %d times", m["alarm.gone"])
	}
}

func TestManyAlarmsOnOneObject(t *testing.T) {
	rt := newRuntime(t, Options{DataDir: t.TempDir()})
	const n = 200
	for i := 0; i < n; i++ {
		mustCall(t, rt, "calc/many", callhost.Op("alarmIn", 10+i%50, "m"), nil)
	}
	waitStat(t, rt, "calc/many", "alarm.m", n)
	time.Sleep(100 * time.Millisecond)
	if m := stats(t, rt, "calc/many"); m["alarm.m"] != n {
		t.Fatalf("alarms ran %d times, want exactly %d", m["alarm.m"], n)
	}
}

func TestAlarmFiresAfterRestartWhileDue(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, Options{DataDir: dir})
	mustCall(t, rt, "calc/r", callhost.Op("alarmIn", 300, "late"), nil)
	if err := rt.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond) // due while nothing runs
	rt = newRuntime(t, Options{DataDir: dir})
	waitStat(t, rt, "calc/r", "alarm.late", 1)
	time.Sleep(100 * time.Millisecond)
	if m := stats(t, rt, "calc/r"); m["alarm.late"] != 1 {
		t.Fatalf("alarm ran %d times after restart, want 1", m["alarm.late"])
	}
}

// syncBuffer is a bytes.Buffer safe for the runtime's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestFailingAlarmRetriedThenReported(t *testing.T) {
	var logs syncBuffer
	rt := newRuntime(t, Options{
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
		AlarmAttempts: 3,
		AlarmBackoff:  20 * time.Millisecond,
	})
	mustCall(t, rt, "calc/f", callhost.Op("alarmIn", 0, "flaky1"), nil)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), `msg="alarm failed"`) {
		if time.Now().After(deadline) {
			t.Fatalf("alarm never reported as failed; log:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	out := logs.String()
	if n := strings.Count(out, "alarm turn failed; retrying"); n != 2 {
		t.Errorf("retries logged = %d, want 2\n%s", n, out)
	}
	if n := strings.Count(out, `msg="alarm failed"`); n != 1 {
		t.Errorf("failures reported = %d, want 1", n)
	}
	if !strings.Contains(out, "attempts=3") {
		t.Errorf("failure report does not say attempts=3:\n%s", out)
	}
}

func TestDataDirInUseNamesDirectory(t *testing.T) {
	dir := t.TempDir()
	st, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rt, err := New(context.Background(), Options{DataDir: dir})
	if err == nil {
		rt.Shutdown(context.Background())
		t.Fatal("New opened a data directory that a store has open")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("New error = %v, want store.ErrLocked", err)
	}
	if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "Options.DataDir") {
		t.Errorf("New error = %q, want the directory %s and Options.DataDir", err, dir)
	}
}

func TestMaxKeySizeFitsBolt(t *testing.T) {
	max := store.BoltMaxKeySize(callhost.MaxClassNameSize, DefaultMaxIDSize)
	_, err := New(context.Background(), Options{DataDir: t.TempDir(), MaxKeySize: max + 1})
	if err == nil || !strings.Contains(err.Error(), "MaxKeySize") {
		t.Fatalf("New with MaxKeySize %d = %v, want an error naming MaxKeySize", max+1, err)
	}
	newRuntime(t, Options{DataDir: t.TempDir(), MaxKeySize: max})
}
