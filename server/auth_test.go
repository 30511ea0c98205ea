package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/callhost/callhost/server"
	"github.com/coder/websocket"
)

const (
	webSecret = "web-secret-0123456789"
	opsSecret = "ops-secret-0123456789"
)

func testAuth(t *testing.T) *server.Auth {
	t.Helper()
	auth, err := server.NewAuth([]server.Token{
		{Name: "web", Secret: webSecret, Allow: map[string][]string{testClass: {"a", "team-*"}}},
		{Name: "ops", Secret: opsSecret, Allow: map[string][]string{"*": {"*"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return auth
}

// dialStatus tries a handshake with header and returns the refusal's status
// and body. It fails t when the handshake succeeds.
func dialStatus(t *testing.T, url string, header http.Header) (int, string) {
	t.Helper()
	ws, resp, err := websocket.Dial(context.Background(), url,
		&websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		ws.CloseNow()
		t.Fatalf("dial with header %v succeeded, want a refusal", header)
	}
	if resp == nil {
		t.Fatalf("dial: %v, want an HTTP refusal", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// dialToken connects with a bearer token and reads the welcome frame.
func dialToken(t *testing.T, url, token string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Authorization": {"Bearer " + token}}
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	t.Cleanup(func() { ws.CloseNow() })
	c := &rawConn{t: t, ws: ws}
	var w protocol.Welcome
	if err := protocol.DecodeWelcome(c.read(), &w); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	c.id = w.ClientID
	return c
}

func TestAuthRefusesMissingAndInvalidTokens(t *testing.T) {
	e := newEnv(t, server.Options{Auth: testAuth(t)})
	cases := []struct {
		header http.Header
		want   string
	}{
		{nil, "missing bearer token"},
		{http.Header{"Authorization": {"Basic " + webSecret}}, "missing bearer token"},
		{http.Header{"Authorization": {"Bearer " + webSecret + "x"}}, "invalid bearer token"},
	}
	for _, tc := range cases {
		status, body := dialStatus(t, e.url, tc.header)
		if status != http.StatusUnauthorized || !strings.Contains(body, tc.want) {
			t.Errorf("header %v: HTTP %d %q, want 401 with %q", tc.header, status, body, tc.want)
		}
		if strings.Contains(body, webSecret) {
			t.Errorf("401 body %q quotes the secret", body)
		}
	}
	// A client with a valid token still connects and calls.
	c := dialToken(t, e.url, opsSecret)
	c.call(1, "z", callhost.Op("echo", 3), 0)
	if o := c.result(); o.Err != nil || decodeInt(t, o.Value) != 3 {
		t.Fatalf("ops call: %+v, %v", o, o.Err)
	}
}

func TestAuthForbidsTargetsOutsideTheToken(t *testing.T) {
	e := newEnv(t, server.Options{Auth: testAuth(t)})
	web := dialToken(t, e.url, webSecret)
	web.call(1, "b", callhost.Op("echo", 1), 0)
	o := web.result()
	wantError(t, o, 1, callhost.CodeForbidden)
	want := `token "web" may not call class "svc", id "b": it may call svc/a, svc/team-*`
	if o.Err.Message != want {
		t.Fatalf("message %q, want %q", o.Err.Message, want)
	}

	// The same connection keeps working for allowed targets.
	for i, id := range []string{"a", "team-7"} {
		web.call(uint64(10+i), id, callhost.Op("echo", i), 0)
		if o := web.result(); o.Err != nil {
			t.Fatalf("web call to %s: %v", id, o.Err)
		}
	}
	// Another client's token allows what web's does not.
	ops := dialToken(t, e.url, opsSecret)
	ops.call(1, "b", callhost.Op("echo", 5), 0)
	if o := ops.result(); o.Err != nil || decodeInt(t, o.Value) != 5 {
		t.Fatalf("ops call to svc/b: %+v, %v", o, o.Err)
	}
}

func TestMaxConnections(t *testing.T) {
	e := newEnv(t, server.Options{MaxConnections: 2})
	a := dialRaw(t, e.url)
	b := dialRaw(t, e.url)
	status, body := dialStatus(t, e.url, nil)
	want := "too many connections: the server serves 2, max 2"
	if status != http.StatusServiceUnavailable || !strings.Contains(body, want) {
		t.Fatalf("third connection: HTTP %d %q, want 503 with %q", status, body, want)
	}
	a.call(1, "x", callhost.Op("echo", 1), 0)
	if o := a.result(); o.Err != nil {
		t.Fatalf("call on an admitted connection: %v", o.Err)
	}
	b.ws.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "one connection to end", func() bool { return e.srv.Stats().Connections < 2 })
	c := dialRaw(t, e.url)
	c.call(1, "x", callhost.Op("echo", 2), 0)
	if o := c.result(); o.Err != nil {
		t.Fatalf("call on a connection after one closed: %v", o.Err)
	}
}

func TestParsePolicy(t *testing.T) {
	good := `{"tokens": [{"name": "web", "token": "` + webSecret + `",
		"allow": {"counter": ["*"], "pair": ["alice", "team-*"]}}],
		"calls": {"counter": ["*"], "pair": ["pair", "@client"]}}`
	p, err := server.ParsePolicy([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Auth == nil || len(p.Calls["pair"]) != 2 {
		t.Fatalf("policy %+v", p)
	}
	tok := `{"name": "w", "token": "` + webSecret + `", `
	bad := []struct{ in, want string }{
		{`{"tokens": [{"name": "w", "token": "short", "allow": {"a": ["*"]}}]}`,
			"secret is 5 bytes, min 16"},
		{`{"tokens": [` + tok + `"alow": {}}]}`, `unknown field "alow"`},
		{`{"tokens": []}`, "no tokens"},
		{`{"tokens": [` + tok + `"allow": {}}]}`, "allows no class"},
		{`{"tokens": [` + tok + `"allow": {"a": []}}]}`, "no ids"},
		{`{"tokens": [` + tok + `"allow": {"a": ["*"]}},
			{"name": "w", "token": "` + opsSecret + `", "allow": {"a": ["*"]}}]}`,
			`name "w" is used twice`},
		{`{"tokens": [` + tok + `"allow": {"a": ["*"]}}], "calls": {"a": ["b c"]}}`,
			`invalid target class "b c"`},
	}
	for _, tc := range bad {
		_, err := server.ParsePolicy([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePolicy(%s) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}
