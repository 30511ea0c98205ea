package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

var callCommand = &command{
	name:    "call",
	summary: "call a handler of an object and print the result as JSON",
	usage: `
Usage: callhost call [FLAGS] CLASS/ID HANDLER [JSON_ARGS]

Call connects to a callhost server, runs HANDLER on the object CLASS/ID
with the arguments in JSON_ARGS, a JSON array (default []), and prints the
result as JSON on stdout. A JSON_ARGS of - reads the array from stdin, for
arguments too large for the command line. Whole JSON numbers become
integers (int64, or uint64 above the int64 range) and other numbers
floats. A whole number outside both integer ranges is an invalid argument.
Binary values in the result print as base64 strings, and map keys that are
not strings print as their text.

On failure it prints "error: CODE: MESSAGE" on stderr, where CODE is the
error code's name (for example not_found or timeout), and exits with status
1. Invalid arguments exit with status 2.`,
	setup: setupCall,
}

type callConfig struct {
	addr    string
	timeout time.Duration
	token   string
	tlsCA   string
}

func setupCall(fs *flag.FlagSet) runFunc {
	var c callConfig
	fs.StringVar(&c.addr, "addr", "ws://127.0.0.1:8080/ws",
		"server to call: a ws:// or wss:// URL, or HOST:PORT for ws://HOST:PORT/ws")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second,
		"time to wait for the connection and the result, as a Go duration such as 30s")
	fs.StringVar(&c.token, "token", "",
		"bearer token for a server started with -auth (default: $"+tokenEnv+")")
	fs.StringVar(&c.tlsCA, "tls-ca", "",
		"PEM file of the certificate authority to trust for a wss:// server")
	return func(env *cmdEnv, args []string) int { return call(env, &c, args) }
}

func call(env *cmdEnv, c *callConfig, args []string) int {
	if len(args) < 2 || len(args) > 3 {
		return env.usageError("want CLASS/ID HANDLER [JSON_ARGS], got %d arguments", len(args))
	}
	if c.timeout <= 0 {
		return env.usageError("invalid -timeout %s: must be positive", c.timeout)
	}

	serverURL, err := parseServerAddr(c.addr)
	if err != nil {
		return env.usageError("%v", err)
	}
	to, err := callhost.ParseAddress(args[0])
	if err != nil {
		return env.usageError("%v", err)
	}

	jsonArgs := "[]"
	if len(args) == 3 {
		jsonArgs = args[2]
	}
	if jsonArgs == "-" {
		b, err := io.ReadAll(env.stdin)
		if err != nil {
			fmt.Fprintf(env.stderr, "callhost call: read JSON arguments from stdin: %v\n", err)
			return exitError
		}
		jsonArgs = string(b)
	}
	callArgs, err := parseJSONArgs(jsonArgs)
	if err != nil {
		return env.usageError("%v", err)
	}

	out, err := callOnce(env, c, serverURL, to, callhost.Op(args[1], callArgs...))
	if err != nil {
		e := callhost.AsError(err)
		fmt.Fprintf(env.stderr, "error: %s: %s\n", e.Code, e.Message)
		return exitError
	}
	fmt.Fprintf(env.stdout, "%s\n", out)
	return exitOK
}

// parseServerAddr returns the WebSocket URL that the -addr value addr
// names: addr itself when it is a ws:// or wss:// URL, and
// ws://HOST:PORT/ws when it is a bare HOST:PORT.
func parseServerAddr(addr string) (string, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("invalid -addr %q: %s. Use HOST:PORT, such as 127.0.0.1:8080, "+
			"or a ws:// or wss:// URL, such as ws://127.0.0.1:8080/ws", addr,
			fmt.Sprintf(format, args...))
	}
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		switch {
		case err != nil:
			var urlErr *url.Error
			if errors.As(err, &urlErr) {
				err = urlErr.Err
			}
			return "", invalid("%v", err)
		case u.Scheme != "ws" && u.Scheme != "wss":
			return "", invalid("scheme %q is not ws or wss", u.Scheme)
		case u.Hostname() == "":
			return "", invalid("missing host")
		}
		if port := u.Port(); port != "" && !validPort(port) {
			return "", invalid("port %q is not a number from 1 to 65535", port)
		}
		return addr, nil
	}
	host, port, err := net.SplitHostPort(addr)
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		err = errors.New(addrErr.Err)
	}
	switch {
	case err != nil:
		return "", invalid("%v", err)
	case host == "":
		return "", invalid("missing host")
	case !validPort(port):
		return "", invalid("port %q is not a number from 1 to 65535", port)
	}
	u := url.URL{Scheme: "ws", Host: net.JoinHostPort(host, port), Path: protocol.Path}
	return u.String(), nil
}

func validPort(port string) bool {
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && n > 0
}

// callOnce dials the server at serverURL, runs op on to and returns the
// result as JSON.
func callOnce(env *cmdEnv, c *callConfig, serverURL string, to callhost.Address,
	op callhost.Operation) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	opts, err := c.clientOptions(env)
	if err != nil {
		return nil, err
	}
	conn, err := client.Dial(ctx, serverURL, opts)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeUnavailable, "%v", err)
	}
	defer func() {
		// A server that drains closes the connection with going away
		// after the result, which is no failure of the call.
		err := conn.Close()
		if err != nil && websocket.CloseStatus(err) != websocket.StatusGoingAway {
			env.log.Warn("close connection failed", "error", err)
		}
	}()
	res, err := conn.Call(ctx, to, op)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, callhost.Errorf(callhost.CodeTimeout, "no result from %s within %s",
			to, c.timeout)
	}
	if err != nil {
		return nil, err
	}
	out, err := resultJSON(res)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeInternal, "convert result to JSON: %v", err)
	}
	return out, nil
}

// tokenEnv is the environment variable that holds the default -token.
const tokenEnv = "CALLHOST_TOKEN"

// clientOptions returns the client options of the -token and -tls-ca flags.
func (c *callConfig) clientOptions(env *cmdEnv) (*client.Options, error) {
	opts := &client.Options{Logger: env.log, Token: c.token}
	if opts.Token == "" {
		opts.Token = os.Getenv(tokenEnv)
	}
	if c.tlsCA == "" {
		return opts, nil
	}
	pem, err := os.ReadFile(c.tlsCA)
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeBadRequest, "-tls-ca: %v", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, callhost.Errorf(callhost.CodeBadRequest,
			"-tls-ca %s holds no PEM certificate", c.tlsCA)
	}
	opts.TLSConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return opts, nil
}

// resultJSON converts an encoded result to JSON.
func resultJSON(res callhost.Result) ([]byte, error) {
	v, err := decodeResult(res)
	if err != nil {
		return nil, err
	}
	// By default the encoder escapes <, > and & for HTML, which a terminal
	// does not need.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
