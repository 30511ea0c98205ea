package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
)

var callCommand = &command{
	name:    "call",
	summary: "call a handler of an object and print the result as JSON",
	usage: `
Usage: callhost call [FLAGS] CLASS/ID HANDLER [JSON_ARGS]

Call connects to a callhost server, runs HANDLER on the object CLASS/ID
with the arguments in JSON_ARGS, a JSON array (default []), and prints the
result as JSON on stdout. JSON numbers become integers when they are whole
and floats otherwise. Binary values in the result print as base64 strings,
and map keys that are not strings print as their text.

On failure it prints "error: CODE: MESSAGE" on stderr, where CODE is the
error code's name (for example not_found or timeout), and exits with status
1. Invalid arguments exit with status 2.`,
	setup: setupCall,
}

type callConfig struct {
	addr    string
	timeout time.Duration
}

func setupCall(fs *flag.FlagSet) runFunc {
	var c callConfig
	fs.StringVar(&c.addr, "addr", "ws://127.0.0.1:8080/ws", "WebSocket URL of the server")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second,
		"time to wait for the connection and the result, as a Go duration such as 30s")
	return func(env *cmdEnv, args []string) int { return call(env, &c, args) }
}

func call(env *cmdEnv, c *callConfig, args []string) int {
	if len(args) < 2 || len(args) > 3 {
		return env.usageError("want CLASS/ID HANDLER [JSON_ARGS], got %d arguments", len(args))
	}
	if c.timeout <= 0 {
		return env.usageError("invalid -timeout %s: must be positive", c.timeout)
	}
	to, err := callhost.ParseAddress(args[0])
	if err != nil {
		return env.usageError("%v", err)
	}
	jsonArgs := "[]"
	if len(args) == 3 {
		jsonArgs = args[2]
	}
	callArgs, err := parseJSONArgs(jsonArgs)
	if err != nil {
		return env.usageError("%v", err)
	}
	out, err := callOnce(env, c, to, callhost.Op(args[1], callArgs...))
	if err != nil {
		e := callhost.AsError(err)
		fmt.Fprintf(env.stderr, "error: %s: %s\n", e.Code, e.Message)
		return exitError
	}
	fmt.Fprintf(env.stdout, "%s\n", out)
	return exitOK
}

// callOnce dials the server, runs op on to and returns the result as JSON.
func callOnce(env *cmdEnv, c *callConfig, to callhost.Address,
	op callhost.Operation) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	conn, err := client.Dial(ctx, c.addr, &client.Options{Logger: env.log})
	if err != nil {
		return nil, callhost.Errorf(callhost.CodeUnavailable, "%v", err)
	}
	defer func() {
		if err := conn.Close(); err != nil {
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

// resultJSON converts an encoded result to JSON.
func resultJSON(res callhost.Result) ([]byte, error) {
	v, err := decodeResult(res)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}
