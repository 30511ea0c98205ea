package runtime

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/callhost/callhost"
)

// newLoggingRuntime returns a runtime with the hostile guest loaded, whose
// log at level goes to the returned buffer as text.
func newLoggingRuntime(t *testing.T, opts Options, level slog.Level) (*Runtime, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	opts.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	return newClassesRuntime(t, opts), logs
}

// guestLine returns the text of line i of the hostile guest's logs handler
// for lines of size bytes, as slog's text handler quotes it.
func guestLine(i, size int) string {
	line := fmt.Sprintf("line %d:", i)
	return `msg="` + line + strings.Repeat("x", size-len(line)) + `"`
}

// runLogs calls hostile logs(count, size) on addr and checks that the turn
// succeeded.
func runLogs(t *testing.T, rt *Runtime, addr string, count, size int) {
	t.Helper()
	var got int
	mustCall(t, rt, addr, callhost.Op("logs", count, size), &got)
	if got != count {
		t.Fatalf("logs(%d, %d) = %d, want %d", count, size, got, count)
	}
}

func TestGuestLogBudgetDropsLines(t *testing.T) {
	rt, logs := newLoggingRuntime(t, Options{MaxLogBytesPerTurn: 1000}, slog.LevelInfo)
	runLogs(t, rt, "hostile/l", 10, 300)
	out := logs.String()
	for i := range 3 {
		if !strings.Contains(out, guestLine(i, 300)) {
			t.Errorf("line %d, within the budget, is missing from the log:\n%s", i, out)
		}
	}
	for i := 3; i < 10; i++ {
		if strings.Contains(out, fmt.Sprintf(`msg="line %d:`, i)) {
			t.Errorf("line %d, past the budget, is in the log", i)
		}
	}
	wantText(t, "log", out, `level=WARN msg="guest log lines dropped: the turn exceeded its log budget"`,
		"object=hostile/l handler=logs", "dropped_lines=7 dropped_bytes=2100",
		"max_log_bytes_per_turn=1000")
	if n := strings.Count(out, "guest log lines dropped"); n != 1 {
		t.Errorf("log has %d warnings about dropped lines, want 1:\n%s", n, out)
	}

	runLogs(t, rt, "hostile/l", 3, 50)
	out = logs.String()
	for i := range 3 {
		if !strings.Contains(out, guestLine(i, 50)) {
			t.Errorf("line %d of the next turn is missing: the budget is per turn:\n%s", i, out)
		}
	}
	if n := strings.Count(out, "guest log lines dropped"); n != 1 {
		t.Errorf("log has %d warnings about dropped lines after a turn within the budget, "+
			"want 1", n)
	}
}

func TestGuestLogBudgetDefault(t *testing.T) {
	rt, logs := newLoggingRuntime(t, Options{}, slog.LevelInfo)
	runLogs(t, rt, "hostile/l", 100, 1000)
	out := logs.String()
	last := DefaultMaxLogBytesPerTurn/1000 - 1 // 65 lines of 1000 bytes fit in 64 KiB
	if !strings.Contains(out, guestLine(last, 1000)) {
		t.Errorf("line %d, within the default budget, is missing", last)
	}
	if strings.Contains(out, fmt.Sprintf(`msg="line %d:`, last+1)) {
		t.Errorf("line %d, past the default budget, is in the log", last+1)
	}
	wantText(t, "log", out, "object=hostile/l handler=logs",
		"dropped_lines=35 dropped_bytes=35000", "max_log_bytes_per_turn=65536")
}

func TestGuestLogMessageTruncated(t *testing.T) {
	rt, logs := newLoggingRuntime(t, Options{MaxLogMessageSize: 100}, slog.LevelInfo)
	runLogs(t, rt, "hostile/t", 1, 5000)
	out := logs.String()
	wantText(t, "log", out, guestLine(0, 100)+" object=hostile/t",
		"truncated=true original_bytes=5000")
	if strings.Contains(out, strings.Repeat("x", 94)) {
		t.Errorf("log contains more than 100 bytes of the message:\n%s", out)
	}
}

func TestGuestLogHugeMessage(t *testing.T) {
	rt, logs := newLoggingRuntime(t, Options{}, slog.LevelInfo)
	runLogs(t, rt, "hostile/h", 1, 16<<20)
	out := logs.String()
	wantText(t, "log", out, guestLine(0, DefaultMaxLogMessageSize),
		"truncated=true original_bytes=16777216")
	if len(out) > 2*DefaultMaxLogMessageSize {
		t.Errorf("log of one 16 MiB message is %d bytes, want at most %d", len(out),
			2*DefaultMaxLogMessageSize)
	}
}

func TestGuestLogBelowLevelNotCounted(t *testing.T) {
	rt, logs := newLoggingRuntime(t, Options{MaxLogBytesPerTurn: 1000}, slog.LevelWarn)
	runLogs(t, rt, "hostile/q", 100, 1000)
	if out := logs.String(); out != "" {
		t.Errorf("info lines below the log level wrote to the log:\n%s", out)
	}
}

func TestTruncateUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 5, "hello"},
		{"hello", 3, "hel"},
		{"hé!", 2, "h"},                     // é is 2 bytes: cut before it
		{"hé!", 3, "hé"},                    // cut after it
		{"a€b", 3, "a"},                     // € is 3 bytes
		{"a€b", 4, "a€"},                    // cut after it
		{"a😀b", 4, "a"},                     // 😀 is 4 bytes
		{"a😀b", 5, "a😀"},                    // cut after it
		{"\x80\x80\x80\x80\x80", 4, "\x80"}, // invalid UTF-8: back up at most 3 bytes
	} {
		if got := string(truncateUTF8([]byte(tc.in), tc.n)); got != tc.want {
			t.Errorf("truncateUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
