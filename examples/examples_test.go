package examples_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/runtime"
	"github.com/callhost/callhost/server"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

// workDir holds the compilation cache and the programs the tests build. It
// is removed when the tests end.
var workDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "callhost-examples-")
	if err != nil {
		panic(err)
	}
	workDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		guesttest.Cleanup()
		os.RemoveAll(dir)
	}))
}

// newRuntime builds the guest example in the directory named class and
// returns a runtime with it loaded under that name, as the server would load
// it from class.wasm.
func newRuntime(t *testing.T, class string) *runtime.Runtime {
	t.Helper()
	wasm := guesttest.Build(t, class)
	cache := precompile(t, class, wasm)
	ctx := context.Background()
	rt, err := runtime.New(ctx, runtime.Options{CacheDir: cache, Store: store.NewMemory()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := rt.Shutdown(ctx); err != nil {
			t.Errorf("runtime shutdown: %v", err)
		}
	})
	if err := rt.Load(ctx, class, wasm); err != nil {
		t.Fatal(err)
	}
	return rt
}

// precompiler is the state of precompile.
var precompiler struct {
	sync.Mutex
	exe      string          // the built helper, or "" before the first use
	compiled map[string]bool // classes already in the cache
}

// precompile compiles wasm into the compilation cache, once per class, and
// returns the cache directory. The compiling happens in testdata/precompile,
// a separate binary built without the race detector, which slows wazero's
// compiler more than tenfold. Loading from the cache stays fast under -race.
// Should the cache ever miss, the runtime compiles the module itself, and the
// tests pass, only slower.
func precompile(t *testing.T, class string, wasm []byte) string {
	t.Helper()
	cache := filepath.Join(workDir, "cache")
	pc := &precompiler
	pc.Lock()
	defer pc.Unlock()
	if pc.compiled[class] {
		return cache
	}
	if pc.exe == "" {
		exe := filepath.Join(workDir, "precompile.test")
		// -race=false holds even when GOFLAGS turns the race detector on.
		runCommand(t, "go", "test", "-c", "-race=false", "-o", exe, "./testdata/precompile")
		pc.exe, pc.compiled = exe, map[string]bool{}
	}
	path := filepath.Join(t.TempDir(), class+".wasm")
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	runCommand(t, pc.exe, "-cache", cache, path)
	pc.compiled[class] = true
	return cache
}

// runCommand runs a command and fails the test with its output if it fails.
func runCommand(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// call runs op on the object at addr ("class/id") and decodes the result
// into out unless out is nil.
func call(t *testing.T, rt *runtime.Runtime, addr string, op callhost.Operation, out any) {
	t.Helper()
	if err := tryCall(rt, addr, op, out); err != nil {
		t.Fatalf("call %s %s: %v", addr, op.Handler(), err)
	}
}

func tryCall(rt *runtime.Runtime, addr string, op callhost.Operation, out any) error {
	to, err := callhost.ParseAddress(addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := rt.Call(ctx, to, op)
	if err != nil || out == nil {
		return err
	}
	return res.Decode(out)
}

// waitFor polls cond every 10 ms until it returns true, and fails the test
// if it has not within timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCounter(t *testing.T) {
	rt := newRuntime(t, "counter")
	for _, step := range []struct{ n, want int }{{5, 5}, {10, 15}, {-3, 12}} {
		var total int
		call(t, rt, "counter/c1", callhost.Op("add", step.n), &total)
		if total != step.want {
			t.Fatalf("add %d returned %d, want %d", step.n, total, step.want)
		}
	}

	var total int
	call(t, rt, "counter/c1", callhost.Op("get"), &total)
	if total != 12 {
		t.Fatalf("get after adds returned %d, want 12", total)
	}
	call(t, rt, "counter/c2", callhost.Op("get"), &total)
	if total != 0 {
		t.Fatalf("get on another object returned %d, want 0", total)
	}

	call(t, rt, "counter/c1", callhost.Op("reset"), nil)
	call(t, rt, "counter/c1", callhost.Op("get"), &total)
	if total != 0 {
		t.Fatalf("get after reset returned %d, want 0", total)
	}
	call(t, rt, "counter/c1", callhost.Op("add", 2), &total)
	if total != 2 {
		t.Fatalf("add 2 after reset returned %d, want 2", total)
	}
}

func TestCounterChain(t *testing.T) {
	rt := newRuntime(t, "counter")
	// One call, one turn: both adds commit together.
	op := callhost.Op("add", 1).Then("add", 2)
	var total int
	call(t, rt, "counter/c1", op, &total)
	if total != 3 {
		t.Fatalf("add 1 then add 2 returned %d, want 3", total)
	}
}

// answer mirrors pair's Answer record.
type answer struct {
	Question string `msgpack:"question"`
	Answer   string `msgpack:"answer"`
	Code     string `msgpack:"code"`
	Message  string `msgpack:"message"`
	WaitedMS int64  `msgpack:"waited_ms"`
}

// Questions the pair test asks, one per outcome.
const (
	knownQuestion   = "capital of France?"
	unknownQuestion = "who am I?"
	slowQuestion    = "meaning of life?"
)

func TestPair(t *testing.T) {
	rt := newRuntime(t, "pair")
	// The slow question takes bob 500 ms to answer, and alice allows
	// 100 ms. The others get the host's default timeout, 30 s, so that a
	// loaded machine cannot make them time out.
	call(t, rt, "pair/alice", callhost.Op("ask", "bob", knownQuestion, 0), nil)
	call(t, rt, "pair/alice", callhost.Op("ask", "bob", unknownQuestion, 0), nil)
	call(t, rt, "pair/alice", callhost.Op("ask", "bob", slowQuestion, 100), nil)
	got := waitForAnswers(t, rt, "pair/alice", 3)

	ok := got[knownQuestion]
	if ok.Code != "ok" || ok.Answer != "Paris" {
		t.Errorf("known question: got %+v, want code ok and answer Paris", ok)
	}

	failed := got[unknownQuestion]
	if failed.Code != callhost.CodeGuestError.String() {
		t.Errorf("unknown question: got code %q, want guest_error", failed.Code)
	}
	if !strings.Contains(failed.Message, `no answer to "who am I?"`) {
		t.Errorf("unknown question: message %q does not carry the answerer's error",
			failed.Message)
	}

	slow := got[slowQuestion]
	if slow.Code != callhost.CodeTimeout.String() {
		t.Errorf("slow question: got code %q, want timeout", slow.Code)
	}
	// The askedAt argument after the placeholder arrived intact if the
	// continuation measured at least the asker's 100 ms timeout.
	if slow.WaitedMS < 100 || slow.WaitedMS > 60_000 {
		t.Errorf("slow question: waited %d ms, want the 100 ms timeout or a bit more",
			slow.WaitedMS)
	}
	for q, a := range got {
		if a.Question != q {
			t.Errorf("record stored under %q names question %q", q, a.Question)
		}
	}
}

// waitForAnswers polls the answers of the asker at addr until it has n, and
// returns them by question.
func waitForAnswers(t *testing.T, rt *runtime.Runtime, addr string, n int) map[string]answer {
	t.Helper()
	var list []answer
	waitFor(t, 10*time.Second, "pair answers", func() bool {
		list = nil
		call(t, rt, addr, callhost.Op("answers"), &list)
		return len(list) >= n
	})
	byQuestion := make(map[string]answer, len(list))
	for _, a := range list {
		byQuestion[a.Question] = a
	}
	if len(byQuestion) != n {
		t.Fatalf("got answers %+v, want %d distinct questions", list, n)
	}
	return byQuestion
}

func TestPairAnswerIsExposed(t *testing.T) {
	rt := newRuntime(t, "pair")
	var a string
	call(t, rt, "pair/bob", callhost.Op("answer", "6 * 7?"), &a)
	if a != "42" {
		t.Fatalf("answer returned %q, want 42", a)
	}
	// gotAnswer is local: only the object's own continuations may run it.
	err := tryCall(rt, "pair/bob", callhost.Op("gotAnswer", "q", nil, 0), nil)
	if !errors.Is(err, callhost.ErrNotExposed) {
		t.Fatalf("calling gotAnswer from outside: got %v, want not_exposed", err)
	}
}

func TestPingPong(t *testing.T) {
	rt := newRuntime(t, "pingpong")
	const rounds = 10_000 // the guest's default, used when rounds is 0
	call(t, rt, "pingpong/a", callhost.Op("start", "b", 0), nil)

	var played int
	waitFor(t, 45*time.Second, "10,000 rounds", func() bool {
		call(t, rt, "pingpong/a", callhost.Op("played"), &played)
		return played >= rounds
	})
	if played != rounds {
		t.Fatalf("starter played %d rounds, want %d", played, rounds)
	}
	var peerPlayed int
	call(t, rt, "pingpong/b", callhost.Op("played"), &peerPlayed)
	if peerPlayed != 0 {
		t.Fatalf("peer reports %d rounds as starter, want 0", peerPlayed)
	}
}

// dialPipeline serves a runtime with the pipeline example on 127.0.0.1 and
// returns a client connected to it.
func dialPipeline(t *testing.T) *client.Conn {
	t.Helper()
	rt := newRuntime(t, "pipeline")
	srv := server.New(rt, server.Options{})
	ts := httptest.NewServer(srv) // listens on 127.0.0.1
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	conn, err := client.Dial(ctx, url, nil)
	if err != nil {
		ts.Close()
		t.Fatal(err)
	}
	// Cleanups run last-in first-out, and newRuntime registered the
	// runtime's shutdown first, so it runs after these.
	t.Cleanup(func() {
		if err := conn.Close(); err != nil {
			t.Errorf("client close: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		ts.Close()
	})
	return conn
}

func TestPipeline(t *testing.T) {
	conn := dialPipeline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parse := callhost.Object("pipeline", "parse")

	res, err := conn.Call(ctx, parse, callhost.Op("parse", "3 apple"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var line string
	if err := res.Decode(&line); err != nil {
		t.Fatal(err)
	}
	if want := "3 apple at 0.40 = 1.20"; line != want {
		t.Fatalf("pipeline returned %q, want %q", line, want)
	}
}

func TestPipelineStageFailure(t *testing.T) {
	conn := dialPipeline(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	parse := callhost.Object("pipeline", "parse")

	// enrich, the middle stage, fails; the client's call to parse fails with
	// its error.
	_, err := conn.Call(ctx, parse, callhost.Op("parse", "2 kiwi"))
	if !errors.Is(err, callhost.ErrGuestError) {
		t.Fatalf("parse of an unpriced item: got %v, want guest_error", err)
	}
	if !strings.Contains(err.Error(), `no price for item "kiwi"`) {
		t.Fatalf("error %q does not carry the enrich stage's message", err)
	}
}

// buildEmbed builds the embed program without the race detector, so that it
// compiles the counter module as fast as a user's build would, and returns
// its path.
func buildEmbed(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "embed")
	runCommand(t, "go", "build", "-race=false", "-o", exe, "./embed")
	return exe
}

func TestEmbed(t *testing.T) {
	exe := buildEmbed(t)
	module := filepath.Join(t.TempDir(), "counter.wasm")
	if err := os.WriteFile(module, guesttest.Build(t, "counter"), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(exe, "-module", module, "-id", "e1",
		"-data-dir", t.TempDir()).CombinedOutput()
	if err != nil {
		t.Fatalf("embed failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		"n=5 total=5", "n=10 total=15", "n=-3 total=12", // Call
		"msg=total object=counter/e1 total=12", // CallFunc
		`msg="runtime stopped"`,                // Shutdown
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestEmbedDataDirInUse runs embed with a relative -data-dir that this test
// process holds open, as a running callhost serve would.
func TestEmbedDataDirInUse(t *testing.T) {
	exe := buildEmbed(t)
	parent := t.TempDir()
	dir := filepath.Join(parent, "callhost-data")
	st, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	module := filepath.Join(parent, "counter.wasm")
	if err := os.WriteFile(module, guesttest.Build(t, "counter"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-module", module, "-data-dir", "callhost-data")
	cmd.Dir = parent
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("embed on a data directory in use: got %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{store.ErrLocked.Error(), "(" + dir + ")", "-data-dir"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error output lacks %q:\n%s", want, out)
		}
	}
}

func TestEmbedMissingModule(t *testing.T) {
	exe := buildEmbed(t)
	missing := filepath.Join(t.TempDir(), "nosuch.wasm")
	out, err := exec.Command(exe, "-module", missing, "-data-dir", t.TempDir()).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("embed with a missing module: got %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), missing) {
		t.Fatalf("error output does not name the missing file %s:\n%s", missing, out)
	}
}
