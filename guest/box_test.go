//go:build !wasip1

package guest

import (
	"bytes"
	"math"
	"testing"

	"github.com/callhost/callhost/internal/msgp"
)

func TestIntIsTheValueAsAny(t *testing.T) {
	c := &newHarness(t).d.ctx
	for _, n := range []int{math.MinInt, -1 << 40, -256, -1, 0, 1, 255, 256, 1 << 40, math.MaxInt} {
		v := c.Int(n)
		if got, ok := v.(int); !ok || got != n {
			t.Errorf("Int(%d) = %#v, want int %d", n, v, n)
		}
		if v != any(n) {
			t.Errorf("Int(%d) != any(%d)", n, n)
		}
		want, _ := msgp.Append(nil, n)
		if got, err := msgp.Append(nil, v); err != nil || !bytes.Equal(got, want) {
			t.Errorf("Int(%d) encodes as % x, %v; want % x", n, got, err, want)
		}
	}
}

func TestIntValuesOutliveTheirBlock(t *testing.T) {
	c := &newHarness(t).d.ctx
	values := make([]any, 3*intBlock+7)
	for i := range values {
		values[i] = c.Int(1000 + i)
	}
	for i, v := range values {
		if v != any(1000+i) {
			t.Fatalf("value %d is %v after %d more were boxed, want %d",
				i, v, len(values)-i-1, 1000+i)
		}
	}
}

// intSink makes boxed values escape, as call arguments do.
var intSink any

func TestIntAllocatesOncePerBlock(t *testing.T) {
	c := &newHarness(t).d.ctx
	n := 1000
	allocs := testing.AllocsPerRun(10, func() {
		for i := 0; i < intBlock; i++ {
			intSink = c.Int(n + i)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per %d values, want at most 1", allocs, intBlock)
	}
}

func TestCallWithIntArguments(t *testing.T) {
	h := callHarness(t, func(c *Ctx) (uint64, error) {
		n := c.Int(1 << 33)
		return c.Call(Object("calc", "t"), Op("double", n),
			Then("done", c.Int(-70000), n, Placeholder))
	})
	h.invoke("run")
	call := recordedCall(t, h)
	steps := decodeSteps(t, call.Steps)
	if want := hexString(msgp.AppendInt(msgp.AppendArrayHeader(nil, 1), 1<<33)); len(steps) != 1 ||
		steps[0].args != want {
		t.Errorf("operation steps %v, want double with args %s", steps, want)
	}
	args := msgp.AppendArrayHeader(nil, 3)
	args = msgp.AppendInt(msgp.AppendInt(args, -70000), 1<<33)
	args, _ = msgp.Append(args, Placeholder)
	if !call.HasCont || call.ContHandler != "done" || !bytes.Equal(call.ContArgs, args) {
		t.Errorf("continuation %s(% x), want done(% x)", call.ContHandler, call.ContArgs, args)
	}
}
