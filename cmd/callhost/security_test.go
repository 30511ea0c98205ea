package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost/internal/guesttest"
)

const testSecret = "cmd-test-secret-0123456789"

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 and its
// key to dir, and returns their paths. The certificate is its own CA.
func writeSelfSigned(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "callhost test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certPath, "CERTIFICATE", der)
	writePEM(t, keyPath, "EC PRIVATE KEY", keyDER)
	return certPath, keyPath
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runCLIEnv runs the command with extra environment variables.
func runCLIEnv(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return stdout.String(), stderr.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), 0
}

func TestServeAuthOverTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeSelfSigned(t, dir)
	authFile := filepath.Join(dir, "auth.json")
	policy := `{"tokens": [{"name": "web", "token": "` + testSecret + `",
		"allow": {"svc": ["a", "team-*"]}}]}`
	if err := os.WriteFile(authFile, []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServer(t, "-auth", authFile, "-tls-cert", cert, "-tls-key", key)
	url := "wss://" + p.addr + "/ws"
	base := []string{"call", "-addr", url, "-tls-ca", cert}

	out, stderr, code := runCLI(t, append(base, "-token", testSecret, "svc/a", "echo", "[5]")...)
	if code != 0 || strings.TrimSpace(out) != "5" {
		t.Fatalf("allowed call: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	out, stderr, code = runCLIEnv(t, []string{"CALLHOST_TOKEN=" + testSecret},
		append(base, "svc/team-1", "echo", "[6]")...)
	if code != 0 || strings.TrimSpace(out) != "6" {
		t.Fatalf("call with CALLHOST_TOKEN: exit %d, stdout %q, stderr %q", code, out, stderr)
	}

	_, stderr, code = runCLI(t, append(base, "-token", testSecret, "svc/b", "echo", "[1]")...)
	want := `error: forbidden: token "web" may not call class "svc", id "b"`
	if code != 1 || !strings.Contains(stderr, want) || strings.Contains(stderr, testSecret) {
		t.Fatalf("forbidden call: exit %d, stderr %q, want %q", code, stderr, want)
	}
	_, stderr, code = runCLIEnv(t, []string{"CALLHOST_TOKEN="},
		append(base, "svc/a", "echo", "[1]")...)
	if code != 1 || !strings.Contains(stderr, "HTTP 401: missing bearer token") {
		t.Fatalf("call without a token: exit %d, stderr %q", code, stderr)
	}
	_, stderr, code = runCLI(t, "call", "-addr", url, "-token", testSecret, "svc/a", "echo", "[1]")
	if code != 1 || !strings.Contains(stderr, "certificate") {
		t.Fatalf("call without -tls-ca: exit %d, stderr %q, want a certificate error", code,
			stderr)
	}
}

func TestServeLimitFlags(t *testing.T) {
	p := startServer(t, "-max-result-bytes", "1000", "-max-id-bytes", "8")
	_, stderr, code := runCLI(t, "call", "-addr", p.addr, "svc/a", "blob", "[2000]")
	want := "error: too_large: result of svc.blob on svc/a is 200"
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "max 1000") {
		t.Fatalf("large result: exit %d, stderr %q, want %q", code, stderr, want)
	}
	_, stderr, code = runCLI(t, "call", "-addr", p.addr, "svc/abcdefghij", "echo", "[1]")
	want = `error: bad_request: object id of 10 bytes for class "svc" is too long, max 8`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("long id: exit %d, stderr %q, want %q", code, stderr, want)
	}
	out, stderr, code := runCLI(t, "call", "-addr", p.addr, "svc/a", "blob", "[10]")
	if code != 0 || strings.TrimSpace(out) == "" {
		t.Fatalf("small result: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// limitModules compiles testdata/limitguest once, as class "lim", into a
// modules directory of its own, so that the other tests serve only "svc".
var limitModules = sync.OnceValues(func() (string, error) {
	dir := filepath.Join(filepath.Dir(modulesDir), "limit-modules")
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", err
	}
	guestDir, err := filepath.Abs("testdata/limitguest")
	if err != nil {
		return "", err
	}
	return dir, guesttest.Compile(guestDir, filepath.Join(dir, "lim.wasm"))
})

// startLimitServer runs serve on the modules of limitModules.
func startLimitServer(t *testing.T, flags ...string) *serverProc {
	t.Helper()
	dir, err := limitModules()
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, append([]string{"-modules", dir}, flags...)...)
}

func TestServeStorageLimitFlags(t *testing.T) {
	p := startLimitServer(t, "-max-key-bytes", "16", "-max-value-bytes", "100")
	_, stderr, code := runCLI(t, "call", "-addr", p.addr, "lim/a", "put", "[17, 1]")
	want := "storage key is 17 bytes, max 16"
	if code != 1 || !strings.Contains(stderr, "error: too_large: ") ||
		!strings.Contains(stderr, want) {
		t.Fatalf("long key: exit %d, stderr %q, want too_large and %q", code, stderr, want)
	}
	_, stderr, code = runCLI(t, "call", "-addr", p.addr, "lim/a", "put", "[16, 101]")
	want = "is 101 bytes, max 100"
	if code != 1 || !strings.Contains(stderr, "error: too_large: ") ||
		!strings.Contains(stderr, want) {
		t.Fatalf("large value: exit %d, stderr %q, want too_large and %q", code, stderr, want)
	}
	out, stderr, code := runCLI(t, "call", "-addr", p.addr, "lim/a", "put", "[16, 100]")
	if code != 0 || strings.TrimSpace(out) != `"stored"` {
		t.Fatalf("put at both limits: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestServeLogLimitFlags(t *testing.T) {
	p := startLimitServer(t, "-max-log-bytes-per-turn", "1000", "-max-log-message-bytes", "200")
	out, stderr, code := runCLI(t, "call", "-addr", p.addr, "lim/a", "logs", "[10, 300]")
	if code != 0 || strings.TrimSpace(out) != "10" {
		t.Fatalf("logs: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	dropped := regexp.MustCompile(`msg="guest log lines dropped: the turn exceeded its log budget" ` +
		`object=lim/a handler=logs call_id=\d+ dropped_lines=5 dropped_bytes=1500 ` +
		`max_log_bytes_per_turn=1000`)
	deadline := time.Now().Add(30 * time.Second)
	for !dropped.MatchString(p.log()) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not log the dropped lines:\n%s", p.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	log := p.log()
	for i := range 5 {
		line := fmt.Sprintf("line %d:", i)
		want := `msg="` + line + strings.Repeat("x", 200-len(line)) + `" object=lim/a`
		if !strings.Contains(log, want) {
			t.Errorf("line %d, cut to 200 bytes, is missing from the log", i)
		}
	}
	if n := strings.Count(log, "truncated=true original_bytes=300"); n != 5 {
		t.Errorf("log has %d truncated lines, want 5:\n%s", n, log)
	}
	if strings.Contains(log, `msg="line 5:`) {
		t.Errorf("line 5, past the budget, is in the log:\n%s", log)
	}
}

func TestServeThrottleFlags(t *testing.T) {
	p := startServer(t, "-strike-limit", "1", "-throttle-time", "1m")
	_, stderr, code := runCLI(t, "call", "-addr", p.addr, "svc/a", "panic")
	if code != 1 || !strings.Contains(stderr, "error: guest_trap:") {
		t.Fatalf("panic: exit %d, stderr %q, want guest_trap", code, stderr)
	}
	_, stderr, code = runCLI(t, "call", "-addr", p.addr, "svc/b", "echo", "[1]")
	want := `error: throttled: class "svc" is throttled until`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Fatalf("call after the strike: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestServeRejectsBadSecurityFlags(t *testing.T) {
	cases := map[string][]string{
		"invalid -max-call-bytes -1":                {"-max-call-bytes", "-1"},
		"invalid -max-key-bytes -1: must not be":    {"-max-key-bytes", "-1"},
		"invalid -max-key-bytes 40000: the bolt":    {"-max-key-bytes", "40000"},
		"invalid -max-value-bytes -2: must not be":  {"-max-value-bytes", "-2"},
		"invalid -max-log-bytes-per-turn -1: must":  {"-max-log-bytes-per-turn", "-1"},
		"invalid -max-log-message-bytes -1: must":   {"-max-log-message-bytes", "-1"},
		"invalid -max-connections -5":               {"-max-connections", "-5"},
		"-tls-cert and -tls-key go together":        {"-tls-cert", "x.pem"},
		"invalid -max-queued-bytes -1: must not be": {"-max-queued-bytes", "-1"},
		"invalid -strike-limit -2: use -1 (off)":    {"-strike-limit", "-2"},
		"invalid -refill-interval -1s: must not be": {"-refill-interval", "-1s"},
		"invalid -throttle-time 2m0s: longer than -max-throttle-time 1m0s": {
			"-throttle-time", "2m", "-max-throttle-time", "1m"},
		"invalid -strike-window 1s: shorter than -turn-timeout 5s": {
			"-strike-window", "1s", "-turn-timeout", "5s"},
	}
	for want, flags := range cases {
		_, stderr, code := runCLI(t, append([]string{"serve"}, flags...)...)
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("serve %v: exit %d, stderr %q, want %q", flags, code, stderr, want)
		}
	}
	bad := filepath.Join(t.TempDir(), "auth.json")
	if err := os.WriteFile(bad, []byte(`{"tokens": [{"name": "w", "token": "short"}]}`),
		0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCLI(t, "serve", "-auth", bad, "-addr", "127.0.0.1:0",
		"-modules", modulesDir, "-data-dir", t.TempDir())
	if code != exitError || !strings.Contains(stderr, "secret is 5 bytes, min 16") {
		t.Fatalf("bad -auth file: exit %d, stderr %q", code, stderr)
	}
}

func TestStrikeWindowCheck(t *testing.T) {
	for _, tc := range []struct {
		flags       throttleFlags
		turnTimeout time.Duration
		want        string // a part of the error, or "" for none
	}{
		{throttleFlags{strikeWindow: time.Second}, 5 * time.Second,
			"invalid -strike-window 1s: shorter than -turn-timeout 5s"},
		{throttleFlags{}, 30 * time.Second,
			"invalid -strike-window 10s: shorter than -turn-timeout 30s"},
		{throttleFlags{strikeWindow: 5 * time.Second}, 5 * time.Second, ""},
		{throttleFlags{}, 5 * time.Second, ""},
		{throttleFlags{strikeLimit: -1, strikeWindow: time.Second}, 5 * time.Second, ""},
	} {
		err := tc.flags.check(tc.turnTimeout)
		if tc.want == "" && err != nil {
			t.Errorf("check(%+v, turn timeout %v) = %v, want nil", tc.flags, tc.turnTimeout, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("check(%+v, turn timeout %v) = %v, want %q",
				tc.flags, tc.turnTimeout, err, tc.want)
		}
	}
}

func TestIsLoopback(t *testing.T) {
	cases := map[string]bool{"127.0.0.1": true, "::1": true, "0.0.0.0": false, "10.1.2.3": false}
	for ip, want := range cases {
		if got := isLoopback(&net.TCPAddr{IP: net.ParseIP(ip)}); got != want {
			t.Errorf("isLoopback(%s) = %v, want %v", ip, got, want)
		}
	}
}
