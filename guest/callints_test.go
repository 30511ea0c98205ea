//go:build !wasip1

package guest

import (
	"bytes"
	"strings"
	"testing"

	"github.com/callhost/callhost/internal/abi"
)

func TestCallChoosesIntImport(t *testing.T) {
	target := Object("calc", "t")
	for _, tc := range []struct {
		name    string
		ints    bool // whether the call goes through call_ints
		op      Operation
		then    *Continuation
		forward bool
	}{
		{name: "ints and a placeholder", ints: true,
			op: Op("double", 1<<40), then: Then("done", -7, Placeholder)},
		{name: "no continuation", ints: true, op: Op("double", 3)},
		{name: "forward", ints: true, op: Op("double", 3), forward: true},
		{name: "string argument", op: Op("echo", "x"), then: Then("done", 1, Placeholder)},
		{name: "int64 argument", op: Op("double", int64(3))},
		{name: "string bound", op: Op("double", 3), then: Then("done", "label", Placeholder)},
		{name: "two steps", op: Op("double", 3).Then("double", Prev)},
		{name: "long handler", op: Op(strings.Repeat("h", abi.MaxIntCallStrings/2), 3)},
		{name: "continuation object", op: Op("double", 3),
			then: ThenOn(testObject, "done", 1, Placeholder)},
	} {
		h := callHarness(t, func(c *Ctx) (uint64, error) {
			if tc.forward {
				return 0, c.Forward(target, tc.op)
			}
			return c.Call(target, tc.op, tc.then)
		})
		h.invoke("run")
		if got := h.host.intCalls == 1; got != tc.ints {
			t.Errorf("%s: made with call_ints %v, want %v", tc.name, got, tc.ints)
		}
		var cont *abi.Continuation
		if tc.then != nil {
			cont = &abi.Continuation{Handler: tc.then.handler, Args: tc.then.args,
				Object: tc.then.object}
		}
		var flags uint64
		if tc.forward {
			flags = abi.FlagForward
		}
		want, err := abi.AppendCall(nil, target, tc.op, cont, 0, flags)
		if err != nil {
			t.Fatal(err)
		}
		if len(h.host.calls) != 1 || !bytes.Equal(h.host.calls[0], want) {
			t.Errorf("%s: host recorded % x, want % x", tc.name, h.host.calls, want)
		}
	}
}
