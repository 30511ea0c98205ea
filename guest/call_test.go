//go:build !wasip1

package guest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
)

// callHarness returns a harness with a "done" continuation handler and a
// "run" handler that runs fn and returns the id it returns.
func callHarness(t *testing.T, fn func(c *Ctx) (uint64, error)) *harness {
	h := newHarness(t)
	h.reg.add(bind2("done", false, func(*Ctx, string, Result[int]) (None, error) {
		return None{}, nil
	}))
	h.reg.add(bind0("run", true, fn))
	return h
}

// recordedCall decodes the only call envelope the fake host recorded.
func recordedCall(t *testing.T, h *harness) *abi.Call {
	t.Helper()
	if len(h.host.calls) != 1 {
		t.Fatalf("host recorded %d calls, want 1", len(h.host.calls))
	}
	var c abi.Call
	if err := abi.DecodeCall(h.host.calls[0], &c); err != nil {
		t.Fatalf("decode call envelope: %v", err)
	}
	return &c
}

type stepText struct {
	handler string
	args    string
}

func decodeSteps(t *testing.T, steps []byte) []stepText {
	t.Helper()
	if _, err := abi.CheckOperation(steps); err != nil {
		t.Fatalf("check operation: %v", err)
	}
	var out []stepText
	err := abi.ForEachStep(steps, func(_ int, handler string, args []byte) error {
		out = append(out, stepText{handler, hexString(args)})
		return nil
	})
	if err != nil {
		t.Fatalf("walk operation: %v", err)
	}
	return out
}

func hexString(b []byte) string { return fmt.Sprintf("% x", b) }

func TestCallEncodesEnvelope(t *testing.T) {
	target := Object("inventory", "i9")
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		op := Op("reserve", "sku", 2).Then("confirm", Prev)
		return c.Call(target, op, Then("done", "label", Placeholder),
			Timeout(1500*time.Microsecond))
	})
	id := decodeAs[uint64](t, h.invoke("run"))
	if id != 101 {
		t.Errorf("Call returned id %d, want the host's id 101", id)
	}
	call := recordedCall(t, h)
	if call.Target != target {
		t.Errorf("target = %v, want %v", call.Target, target)
	}
	steps := decodeSteps(t, call.Steps)
	want := []stepText{
		{"reserve", "92 a3 73 6b 75 02"}, // ["sku", 2]
		{"confirm", "91 c7 00 03"},       // [Prev]
	}
	if len(steps) != 2 || steps[0] != want[0] || steps[1] != want[1] {
		t.Errorf("steps = %v, want %v", steps, want)
	}
	if !call.HasCont || call.ContHandler != "done" {
		t.Errorf("continuation = %v %q, want done", call.HasCont, call.ContHandler)
	}
	if got := hexString(call.ContArgs); got != "92 a5 6c 61 62 65 6c c7 00 01" {
		t.Errorf("continuation args = %s, want [\"label\", placeholder]", got)
	}
	if call.TimeoutMS != 2 {
		t.Errorf("timeout = %d ms, want 1.5 ms rounded up to 2", call.TimeoutMS)
	}
	if call.Flags != 0 {
		t.Errorf("flags = %d, want 0", call.Flags)
	}
}

func TestThenOnNamesObject(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		return c.Call(Object("a", "1"), Op("x"), ThenOn(c.Self(), "done", Placeholder))
	})
	h.invoke("run")
	if call := recordedCall(t, h); call.ContObject != testObject {
		t.Errorf("continuation object = %v, want %v", call.ContObject, testObject)
	}
}

func TestCallNestedOperationArgument(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		return c.Send(Object("a", "1"), Op("add", Op("get", "x"), 1))
	})
	h.invoke("run")
	call := recordedCall(t, h)
	info, err := abi.CheckOperation(call.Steps)
	if err != nil {
		t.Fatalf("check operation: %v", err)
	}
	if !info.Ext {
		t.Errorf("operation has no extension values, want a nested operation")
	}
	if call.HasCont {
		t.Errorf("Send recorded a continuation")
	}
	if call.TimeoutMS != 0 {
		t.Errorf("timeout = %d, want 0 (host default)", call.TimeoutMS)
	}
}

func TestForwardSetsFlag(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		return 0, c.Forward(Object("b", "2"), Op("answer"))
	})
	h.invoke("run")
	call := recordedCall(t, h)
	if call.Flags != abi.FlagForward {
		t.Errorf("flags = %d, want forward (%d)", call.Flags, abi.FlagForward)
	}
	if call.HasCont {
		t.Errorf("Forward recorded a continuation")
	}
}

func TestCallRejectsInvalidCalls(t *testing.T) {
	cases := []struct {
		name string
		call func(c *Ctx) (uint64, error)
		code callhost.Code
		msg  string
	}{
		{"unregistered continuation", func(c *Ctx) (uint64, error) {
			return c.Call(Object("a", "1"), Op("x"), Then("nope", Placeholder))
		}, callhost.CodeNotFound, `guest: continuation handler "nope" is not registered`},
		{"empty operation", func(c *Ctx) (uint64, error) {
			return c.Send(Object("a", "1"), Operation{})
		}, callhost.CodeBadRequest, "guest: call to a/1 has an empty operation"},
		{"negative timeout", func(c *Ctx) (uint64, error) {
			return c.Send(Object("a", "1"), Op("x"), Timeout(-time.Second))
		}, callhost.CodeBadRequest, "guest: invalid call timeout -1s: must not be negative"},
		{"unencodable argument", func(c *Ctx) (uint64, error) {
			return c.Send(Object("a", "1"), Op("x", make(chan int)))
		}, callhost.CodeBadRequest, "guest: encode call to a/1: "},
	}
	for _, tc := range cases {
		h := callHarness(t, tc.call)
		failed := h.invokeErr("run")
		if failed.Code != tc.code {
			t.Errorf("%s: code = %v, want %v", tc.name, failed.Code, tc.code)
		}
		if !strings.HasPrefix(failed.Message, tc.msg) {
			t.Errorf("%s: message = %q, want prefix %q", tc.name, failed.Message, tc.msg)
		}
		if len(h.host.calls) != 0 {
			t.Errorf("%s: host recorded %d calls, want 0", tc.name, len(h.host.calls))
		}
	}
}

func TestCallRejectedByHost(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		return c.Send(Object("a", "1"), Op("x"))
	})
	h.host.failCall = callhost.Errorf(callhost.CodeForbidden, "calls to a are not allowed")
	failed := h.invokeErr("run")
	if failed.Code != callhost.CodeForbidden {
		t.Errorf("code = %v, want forbidden", failed.Code)
	}
	if failed.Message != "calls to a are not allowed" {
		t.Errorf("message = %q", failed.Message)
	}
}

func TestCtxUnusableAfterTurn(t *testing.T) {
	h := newHarness(t)
	var kept *Ctx
	var self Address
	h.reg.add(bind0("keep", true, func(c *Ctx) (None, error) {
		kept, self = c, c.Self()
		return None{}, nil
	}))
	h.invoke("keep")
	checks := map[string]error{
		"Put":    kept.Put("k", nil),
		"Delete": kept.Delete("k"),
	}
	_, _, checks["Get"] = kept.Get("k")
	_, checks["List"] = kept.List("")
	_, checks["Send"] = kept.Send(Object("a", "1"), Op("x"))
	for name, err := range checks {
		if err != errTurnEnded {
			t.Errorf("%s after the turn: error = %v, want errTurnEnded", name, err)
		}
	}

	if self := kept.Self(); !self.IsZero() {
		t.Errorf("Self after the turn = %v, want the zero address", self)
	}
	h.invoke("keep")
	if self != testObject {
		t.Errorf("Self in the next turn = %v, want %v", self, testObject)
	}
}

func TestThenEncodesPlaceholderAtDepth(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		args := map[string]any{"list": []any{1, Placeholder}}
		return c.Call(Object("a", "1"), Op("x"), Then("done", args))
	})
	h.invoke("run")
	call := recordedCall(t, h)
	placeholder, err := abi.CheckContinuationArgs(call.ContArgs)
	if err != nil {
		t.Fatalf("check continuation arguments: %v", err)
	}
	if !placeholder {
		t.Errorf("continuation arguments %s hold no placeholder", hexString(call.ContArgs))
	}
}
