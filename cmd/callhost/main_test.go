package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/guesttest"
	"github.com/callhost/callhost/store"
	"go.uber.org/goleak"
)

// Paths set up by TestMain.
var (
	binary     string // the callhost command
	modulesDir string // holds the test guest as svc.wasm
	cacheDir   string
	guestDir   string // source of the test guest
)

func TestMain(m *testing.M) {
	tmp, err := os.MkdirTemp("", "callhost-cmd-")
	if err != nil {
		panic(err)
	}
	code := setup(tmp)
	if code == 0 {
		code = runTests(m)
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

func setup(tmp string) int {
	binary = filepath.Join(tmp, "callhost")
	modulesDir = filepath.Join(tmp, "modules")
	cacheDir = filepath.Join(tmp, "cache")
	guestDir, _ = filepath.Abs("../../server/testdata/guest")
	if b, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build callhost: %v\n%s", err, b)
		return 1
	}
	if err := os.Mkdir(modulesDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := guesttest.Compile(guestDir, filepath.Join(modulesDir, "svc.wasm")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func runTests(m *testing.M) int {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}

// serverProc is a running "callhost serve".
type serverProc struct {
	cmd    *exec.Cmd
	addr   string // host:port it listens on
	mu     sync.Mutex
	stderr bytes.Buffer // its log
	exited chan struct{}
	err    error // the result of Wait, valid once exited is closed
}

var startedLine = regexp.MustCompile(`msg="server started" addr=(\S+)`)

// startServer runs serve on a free port of 127.0.0.1 and waits for its
// start log line. The test's cleanup stops it if it still runs.
func startServer(t *testing.T, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"serve", "-addr", "127.0.0.1:0", "-modules", modulesDir,
		"-cache-dir", cacheDir, "-data-dir", t.TempDir()}, extra...)
	p := &serverProc{cmd: exec.Command(binary, args...), exited: make(chan struct{})}
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go p.readLog(pipe, addrc)
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.exited
	})
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		t.Fatalf("serve exited before it started: %v\n%s", p.err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not log its start\n%s", p.log())
	}
	return p
}

// readLog copies the server's log and sends the address of its start line.
func (p *serverProc) readLog(r io.Reader, addrc chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.stderr.WriteString(line + "\n")
		p.mu.Unlock()
		if m := startedLine.FindStringSubmatch(line); m != nil {
			addrc <- m[1]
		}
	}
	p.err = p.cmd.Wait()
	close(p.exited)
}

func (p *serverProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// stop sends SIGTERM and returns the exit code.
func (p *serverProc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return p.wait(t)
}

func (p *serverProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not exit\n%s", p.log())
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return exit.ExitCode()
	}
	if p.err != nil {
		t.Fatal(p.err)
	}
	return 0
}

// runCLI runs the command and returns its stdout, stderr and exit code.
func runCLI(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return runCLIWithStdin(t, "", args...)
}

// runCLIWithStdin runs the command with stdin as its standard input.
func runCLIWithStdin(t *testing.T, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	code := 0
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

func TestCallPrintsJSON(t *testing.T) {
	p := startServer(t)
	ws := "ws://" + p.addr + "/ws"
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"map", []string{"svc/a", "echo", `[{"a":[1,2.5,"x",true,null]}]`},
			`{"a":[1,2.5,"x",true,null]}`},
		{"whole float", []string{"svc/a", "echo", `[3.0]`}, `3`},
		{"big uint", []string{"svc/a", "echo", `[18446744073709551615]`},
			`18446744073709551615`},
		{"big uint with exponent", []string{"svc/a", "echo", `[1e19]`},
			`10000000000000000000`},
		{"bytes as base64", []string{"svc/a", "blob", `[3]`}, `"AAAA"`},
		{"no result", []string{"svc/a", "echo", `[null]`}, `null`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, append([]string{"call", "-addr", ws}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if got := strings.TrimSpace(stdout); got != tc.want {
				t.Fatalf("stdout %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	p := startServer(t)
	ws := "ws://" + p.addr + "/ws"
	cases := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown class", []string{"-addr", ws, "nosuch/a", "echo", "[1]"}, 1,
			`error: not_found: class "nosuch" not found`},
		{"application error", []string{"-addr", ws, "svc/a", "fail", `[1001,"nope"]`}, 1,
			"error: application_1001: nope"},
		{"no server", []string{"-addr", "ws://127.0.0.1:1/ws", "svc/a", "echo", "[1]"}, 1,
			"error: unavailable: dial ws://127.0.0.1:1/ws"},
		{"missing handler", []string{"-addr", ws, "svc/a"}, 2, "want CLASS/ID HANDLER"},
		{"bad address", []string{"-addr", ws, "svc", "echo"}, 2, "want CLASS/ID"},
		{"bad JSON", []string{"-addr", ws, "svc/a", "echo", "[1,"}, 2,
			"invalid JSON arguments"},
		{"JSON not an array", []string{"-addr", ws, "svc/a", "echo", `{"a":1}`}, 2,
			"want an array"},
		{"number above uint64", []string{"-addr", ws, "svc/a", "echo",
			`[99999999999999999999]`}, 2,
			"number 99999999999999999999 is whole but outside the int64 and uint64 ranges"},
		{"number below int64", []string{"-addr", ws, "svc/a", "echo",
			`[{"n":-9223372036854775809}]`}, 2, "number -9223372036854775809 is whole"},
		{"addr without port", []string{"-addr", "127.0.0.1", "svc/a", "echo"}, 2,
			`invalid -addr "127.0.0.1": missing port in address. Use HOST:PORT`},
		{"addr with bad port", []string{"-addr", "127.0.0.1:http", "svc/a", "echo"}, 2,
			`invalid -addr "127.0.0.1:http": port "http" is not a number`},
		{"addr with http scheme", []string{"-addr", "http://127.0.0.1:1/ws", "svc/a", "echo"},
			2, `scheme "http" is not ws or wss`},
		{"addr URL without host", []string{"-addr", "ws:///ws", "svc/a", "echo"}, 2,
			`invalid -addr "ws:///ws": missing host`},
		{"addr URL that does not parse", []string{"-addr", "ws://127.0.0.1:1/%zz", "svc/a",
			"echo"}, 2, `invalid -addr "ws://127.0.0.1:1/%zz": invalid URL escape`},
		{"unknown flag", []string{"-bogus", "svc/a", "echo"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCLI(t, append([]string{"call"}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Fatalf("stderr %q does not contain %q", stderr, tc.stderr)
			}
			if stdout != "" {
				t.Fatalf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestCallAddrHostPort(t *testing.T) {
	p := startServer(t)
	stdout, stderr, code := runCLI(t, "call", "-addr", p.addr, "svc/a", "echo", "[7]")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if got := strings.TrimSpace(stdout); got != "7" {
		t.Fatalf("stdout %q, want 7", got)
	}
}

// TestCallArgsFromStdin passes an argument larger than the 128 KiB that
// Linux allows for one command-line argument (MAX_ARG_STRLEN), so only
// stdin can carry it.
func TestCallArgsFromStdin(t *testing.T) {
	p := startServer(t)
	text := strings.Repeat("x", 300<<10)
	stdout, stderr, code := runCLIWithStdin(t, `["`+text+`"]`,
		"call", "-addr", p.addr, "svc/a", "echo", "-")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if got := strings.TrimSpace(stdout); got != `"`+text+`"` {
		t.Fatalf("stdout has %d bytes, want the %d-byte argument as a JSON string",
			len(got), len(text)+2)
	}

	_, stderr, code = runCLIWithStdin(t, `["`+text, "call", "-addr", p.addr, "svc/a", "echo", "-")
	if code != 2 {
		t.Fatalf("invalid JSON on stdin: exit %d, want 2; stderr %q", code, stderr)
	}
	if want := fmt.Sprintf(`... (%d bytes): unexpected EOF`, len(text)+2); !strings.Contains(stderr, want) {
		t.Fatalf("stderr %q does not contain %q", stderr, want)
	}
}

func TestHelp(t *testing.T) {
	stdout, _, code := runCLI(t, "help")
	if code != 0 || !strings.Contains(stdout, "serve") || !strings.Contains(stdout, "call") {
		t.Fatalf("help: exit %d, stdout %q", code, stdout)
	}
	_, stderr, code := runCLI(t, "serve", "-h")
	if code != 0 || !strings.Contains(stderr, `(default "127.0.0.1:8080")`) ||
		!strings.Contains(stderr, "in MiB") {
		t.Fatalf("serve -h: exit %d, stderr %q", code, stderr)
	}
	stdout, _, code = runCLI(t, "help", "call")
	if code != 0 || !strings.Contains(stdout, "-timeout duration") {
		t.Fatalf("help call: exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"HOST:PORT for ws://HOST:PORT/ws", "A JSON_ARGS of - reads"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help call does not contain %q:\n%s", want, stdout)
		}
	}
	if _, _, code := runCLI(t, "frobnicate"); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t); code != 2 {
		t.Fatalf("no command: exit %d, want 2", code)
	}
}

func TestServeLogsStart(t *testing.T) {
	p := startServer(t)
	if !strings.Contains(p.log(), "classes=[svc]") {
		t.Fatalf("start log does not list the classes:\n%s", p.log())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.log())
	}
	if !strings.Contains(p.log(), `msg="server stopped" clean=true`) {
		t.Fatalf("no stop log line:\n%s", p.log())
	}
}

func TestServeRejectsBadFlags(t *testing.T) {
	_, stderr, code := runCLI(t, "serve", "-memory-limit-mb", "-1")
	if code != 2 || !strings.Contains(stderr, "invalid -memory-limit-mb -1") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "serve", "-modules", filepath.Join(t.TempDir(), "none"),
		"-addr", "127.0.0.1:0", "-data-dir", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "modules directory") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}

// TestServeDataDirInUse starts serve with a relative -data-dir that this
// test process holds open, as a running embedding program would.
func TestServeDataDirInUse(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "callhost-data")
	st, err := store.OpenBolt(dir, store.BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	cmd := exec.Command(binary, "serve", "-addr", "127.0.0.1:0", "-modules", modulesDir,
		"-cache-dir", cacheDir, "-data-dir", "callhost-data")
	cmd.Dir = parent
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitError {
		t.Fatalf("serve on a data directory in use: got %v, want exit status %d\n%s",
			err, exitError, out)
	}
	for _, want := range []string{store.ErrLocked.Error(), "(" + dir + ")", "with -data-dir"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("serve log lacks %q:\n%s", want, out)
		}
	}
}

// TestServeDrainsOnSIGTERM holds a call open through a client handler,
// sends SIGTERM, and checks that the call still completes, the health check
// reports draining meanwhile, and the server exits with status 0.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	p := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := client.Dial(ctx, "ws://"+p.addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	holding, release := make(chan struct{}), make(chan struct{})
	conn.Handle("hold", func(context.Context, *client.Invocation) (any, error) {
		close(holding)
		<-release
		return "done", nil
	})

	result := make(chan error, 1)
	go func() {
		res, err := conn.Call(ctx, callhost.Object("svc", "a"),
			callhost.Op("relay", conn.ID(), "hold", 0))
		var s string
		if err == nil {
			err = res.Decode(&s)
		}
		if err == nil && s != "done" {
			err = fmt.Errorf("result %q, want done", s)
		}
		result <- err
	}()

	<-holding
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitDraining(t, p)

	close(release)
	if err := <-result; err != nil {
		t.Fatalf("in-flight call: %v", err)
	}
	if code := p.wait(t); code != 0 {
		t.Fatalf("exit %d after SIGTERM\n%s", code, p.log())
	}
}

func waitDraining(t *testing.T, p *serverProc) {
	t.Helper()
	// Without keep-alives no idle connection outlives the test.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get("http://" + p.addr + "/healthz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable &&
				strings.Contains(string(body), `"draining"`) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("health check never reported draining\n%s", p.log())
}

func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "g.wasm")
	cmd := exec.Command(binary, "build", "-o", out)
	cmd.Dir = guestDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v\n%s", err, stderr.String())
	}
	if got := strings.TrimSpace(stdout.String()); got != out {
		t.Fatalf("printed %q, want %q", got, out)
	}
	wasm, err := os.ReadFile(out)
	if err != nil || !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("output is not a wasm module (%d bytes, %v)", len(wasm), err)
	}
}

func TestBuildSeveralIntoDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "modules")
	cmd := exec.Command(binary, "build", "-o", dir, ".", ".")
	cmd.Dir = guestDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("build: %v\n%s", err, stderr.String())
	}
	want := filepath.Join(dir, filepath.Base(guestDir)+".wasm")
	lines := strings.Fields(stdout.String())
	if len(lines) != 2 || lines[0] != want {
		t.Fatalf("printed %q, want %s twice", lines, want)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("module not written: %v", err)
	}
}

func TestBuildRejectsNonMain(t *testing.T) {
	cmd := exec.Command(binary, "build", "-o", filepath.Join(t.TempDir(), "x.wasm"),
		"github.com/callhost/callhost/internal/msgp")
	cmd.Dir = guestDir
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "is package msgp") {
		t.Fatalf("build of a library package: %v\n%s", err, b)
	}
}

func TestModuleName(t *testing.T) {
	if got := moduleName("/src/counter"); got != "counter.wasm" {
		t.Fatalf("moduleName = %q, want counter.wasm", got)
	}
}

func TestParseJSONArgs(t *testing.T) {
	args, err := parseJSONArgs(`[1, -2, 2.5, 1e3, 18446744073709551615, "s", {"k": [7]}]`)
	if err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), int64(-2), 2.5, int64(1000), uint64(18446744073709551615), "s",
		map[string]any{"k": []any{int64(7)}}}
	if fmt.Sprintf("%#v", args) != fmt.Sprintf("%#v", want) {
		t.Fatalf("args %#v, want %#v", args, want)
	}
	for _, bad := range []string{"", "1", "[1] [2]", "[", `{"a":1}`} {
		if _, err := parseJSONArgs(bad); err == nil {
			t.Errorf("parseJSONArgs(%q) succeeded", bad)
		}
	}
}

func TestJSONNumbers(t *testing.T) {
	cases := []struct {
		text string
		want any
	}{
		{"0", int64(0)},
		{"-0.0", int64(0)},
		{"0e99999999999", int64(0)},
		{"12.5e1", int64(125)},
		{"1E2", int64(100)},
		{"-9223372036854775808", int64(-9223372036854775808)},
		{"9223372036854775808", uint64(9223372036854775808)},
		{"1.8446744073709551615e19", uint64(18446744073709551615)},
		{"1e19", uint64(10000000000000000000)},
		{"2.5", 2.5},
		{"-1.5e-3", -0.0015},
		// Whole as a float64, but not as a decimal.
		{"1.0000000000000000001", 1.0},
		{"1e-400", 0.0},
	}
	for _, tc := range cases {
		got, err := jsonNumber(json.Number(tc.text))
		if err != nil {
			t.Errorf("jsonNumber(%s): %v", tc.text, err)
			continue
		}
		if got != tc.want {
			t.Errorf("jsonNumber(%s) = %#v, want %#v", tc.text, got, tc.want)
		}
	}
}

func TestJSONNumbersOutOfRange(t *testing.T) {
	for _, text := range []string{
		"99999999999999999999",
		"18446744073709551616",
		"-9223372036854775809",
		"1e20",
		"1.5e300",
		"1e400",
		"1e99999999999",
		"1" + strings.Repeat("0", 400) + ".5",
	} {
		got, err := jsonNumber(json.Number(text))
		if err == nil {
			t.Errorf("jsonNumber(%.30s) = %#v, want an error", text, got)
			continue
		}
		if !strings.Contains(err.Error(), "number "+text+" is") {
			t.Errorf("jsonNumber(%.30s) error %q does not name the number", text, err)
		}
	}
}

func TestParseServerAddr(t *testing.T) {
	valid := map[string]string{
		"127.0.0.1:18082":            "ws://127.0.0.1:18082/ws",
		"localhost:8080":             "ws://localhost:8080/ws",
		"[::1]:8080":                 "ws://[::1]:8080/ws",
		"ws://127.0.0.1:8080/ws":     "ws://127.0.0.1:8080/ws",
		"wss://example.com/callhost": "wss://example.com/callhost",
		"ws://127.0.0.1:8080/ws?a=b": "ws://127.0.0.1:8080/ws?a=b",
	}
	for addr, want := range valid {
		got, err := parseServerAddr(addr)
		if err != nil || got != want {
			t.Errorf("parseServerAddr(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	for _, addr := range []string{"", "127.0.0.1", ":8080", "127.0.0.1:0", "127.0.0.1:65536",
		"ws://", "ws://127.0.0.1:0/ws", "tcp://127.0.0.1:8080", "ws://a b/ws"} {
		_, err := parseServerAddr(addr)
		if err == nil {
			t.Errorf("parseServerAddr(%q) succeeded", addr)
			continue
		}
		if want := fmt.Sprintf("invalid -addr %q", addr); !strings.Contains(err.Error(), want) {
			t.Errorf("parseServerAddr(%q) error %q does not contain %q", addr, err, want)
		}
		if !strings.Contains(err.Error(), "Use HOST:PORT") {
			t.Errorf("parseServerAddr(%q) error %q does not name the accepted forms", addr, err)
		}
	}
}

func TestQuoteArgs(t *testing.T) {
	if got := quoteArgs(`[1]`); got != `"[1]"` {
		t.Errorf("quoteArgs([1]) = %s", got)
	}
	long := "[" + strings.Repeat("é", 100) + "]"
	got := quoteArgs(long)
	if want := fmt.Sprintf("... (%d bytes)", len(long)); !strings.HasSuffix(got, want) {
		t.Errorf("quoteArgs of %d bytes = %s, want the suffix %q", len(long), got, want)
	}
	if strings.Contains(got, `\x`) {
		t.Errorf("quoteArgs cut a UTF-8 sequence: %s", got)
	}
}

func TestResultJSONKeys(t *testing.T) {
	res, err := marshalMsgpack(map[int]any{1: []byte{1, 2}, 2: map[string]any{"x": int8(-1)}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := resultJSON(res)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"1":"AQI=","2":{"x":-1}}` {
		t.Fatalf("JSON %s", out)
	}
}

func TestResultJSONKeepsHTMLCharacters(t *testing.T) {
	res, err := marshalMsgpack("<a & b>")
	if err != nil {
		t.Fatal(err)
	}
	out, err := resultJSON(res)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `"<a & b>"` {
		t.Fatalf("JSON %s, want %q", out, `"<a & b>"`)
	}
}
