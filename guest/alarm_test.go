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

// alarmHarness returns a harness with a local "ring" handler and a "run"
// handler that runs fn and returns the id it returns.
func alarmHarness(t *testing.T, fn func(c *Ctx) (uint64, error)) *harness {
	h := newHarness(t)
	h.reg.add(bind1("ring", false, func(_ *Ctx, note string) (string, error) {
		return note, nil
	}))
	h.reg.add(bind0("run", true, fn))
	return h
}

// recordedAlarm decodes the only alarm envelope the fake host recorded.
func recordedAlarm(t *testing.T, h *harness) *abi.Alarm {
	t.Helper()
	if len(h.host.envelopes) != 1 {
		t.Fatalf("host recorded %d alarm envelopes, want 1", len(h.host.envelopes))
	}
	var a abi.Alarm
	if err := abi.DecodeAlarm(h.host.envelopes[0], &a); err != nil {
		t.Fatalf("decode alarm envelope: %v", err)
	}
	return &a
}

func TestSetAlarmEncodesEnvelope(t *testing.T) {
	at := time.UnixMilli(1_700_000_000_123).Add(time.Microsecond)
	h := alarmHarness(t, func(c *Ctx) (uint64, error) {
		return c.SetAlarm(at, Then("ring", "wake"))
	})
	if id := decodeAs[uint64](t, h.invoke("run")); id != 201 {
		t.Errorf("SetAlarm returned id %d, want the host's id 201", id)
	}
	a := recordedAlarm(t, h)
	if a.At != 1_700_000_000_124 {
		t.Errorf("at = %d ms, want 1700000000123 ms and 1 µs rounded up", a.At)
	}
	if a.Handler != "ring" {
		t.Errorf("handler = %q, want ring", a.Handler)
	}
	if got := hexString(a.Args); got != "91 a4 77 61 6b 65" {
		t.Errorf("args = %s, want [\"wake\"]", got)
	}
}

func TestSetAlarmWholeMillisecond(t *testing.T) {
	h := alarmHarness(t, func(c *Ctx) (uint64, error) {
		return c.SetAlarm(time.UnixMilli(-1500), Then("ring", "past"))
	})
	h.invoke("run")
	if a := recordedAlarm(t, h); a.At != -1500 {
		t.Errorf("at = %d ms, want -1500 unchanged", a.At)
	}
}

func TestSetAlarmAfterUsesClock(t *testing.T) {
	h := alarmHarness(t, func(c *Ctx) (uint64, error) {
		return c.SetAlarmAfter(90*time.Second, Then("ring", "later"))
	})
	before := time.Now().Add(90 * time.Second)
	h.invoke("run")
	after := time.Now().Add(90 * time.Second)
	a := recordedAlarm(t, h)
	if a.At < before.UnixMilli() || a.At > after.UnixMilli()+1 {
		t.Errorf("at = %d ms, want between %d and %d", a.At, before.UnixMilli(),
			after.UnixMilli()+1)
	}
}

func TestSetAlarmThenOnSelf(t *testing.T) {
	h := alarmHarness(t, func(c *Ctx) (uint64, error) {
		return c.SetAlarm(time.UnixMilli(5), ThenOn(c.Self(), "ring", "self"))
	})
	h.invoke("run")
	if a := recordedAlarm(t, h); a.Handler != "ring" {
		t.Errorf("handler = %q, want ring", a.Handler)
	}
}

func TestSetAlarmRejects(t *testing.T) {
	at := time.UnixMilli(1000)
	cases := []struct {
		name string
		set  func(c *Ctx) (uint64, error)
		code callhost.Code
		msg  string
	}{
		{"nil continuation", func(c *Ctx) (uint64, error) { return c.SetAlarm(at, nil) },
			callhost.CodeBadRequest, "needs a continuation"},
		{"placeholder", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, Then("ring", Placeholder))
		}, callhost.CodeBadRequest, "extension type 1"},
		{"nested placeholder", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, Then("ring", map[string]any{"r": []any{Placeholder}}))
		}, callhost.CodeBadRequest, "extension type 1"},
		{"previous result", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, Then("ring", Prev))
		}, callhost.CodeBadRequest, "extension type 3"},
		{"operation", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, Then("ring", Op("get")))
		}, callhost.CodeBadRequest, "extension type 2"},
		{"other object", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, ThenOn(Object("counter", "c2"), "ring", "x"))
		}, callhost.CodeForbidden, "names object counter/c2"},
		{"unknown handler", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(at, Then("nope"))
		}, callhost.CodeNotFound, `alarm handler "nope" is not registered`},
		{"zero time", func(c *Ctx) (uint64, error) {
			return c.SetAlarm(time.Time{}, Then("ring", "x"))
		}, callhost.CodeBadRequest, "zero time.Time"},
		{"negative delay", func(c *Ctx) (uint64, error) {
			return c.SetAlarmAfter(-time.Second, Then("ring", "x"))
		}, callhost.CodeBadRequest, "invalid alarm delay -1s"},
	}
	for _, tc := range cases {
		h := alarmHarness(t, tc.set)
		failed := h.invokeErr("run")
		if failed.Code != tc.code {
			t.Errorf("%s: code = %v, want %v", tc.name, failed.Code, tc.code)
		}
		if !strings.Contains(failed.Message, tc.msg) {
			t.Errorf("%s: message = %q, want it to contain %q", tc.name, failed.Message, tc.msg)
		}
		if strings.Contains(failed.Message, failed.Code.String()+":") {
			t.Errorf("%s: message = %q repeats the code %s", tc.name, failed.Message, failed.Code)
		}
		if len(h.host.envelopes) != 0 {
			t.Errorf("%s: the alarm reached the host", tc.name)
		}
	}
}

func TestAlarmHostErrors(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind0("ring", false, func(*Ctx) (None, error) { return None{}, nil }))
	h.reg.add(bind1("run", true, func(c *Ctx, op string) (None, error) {
		var err error
		switch op {
		case "set":
			_, err = c.SetAlarm(time.UnixMilli(1), Then("ring"))
		case "cancel":
			_, err = c.CancelAlarm(1)
		case "list":
			_, err = c.Alarms()
		}
		return None{}, err
	}))
	h.host.failAlarms = callhost.Errorf(callhost.CodeOverloaded, "too many alarms")
	for _, op := range []string{"set", "cancel", "list"} {
		failed := h.invokeErr("run", op)
		if failed.Code != callhost.CodeOverloaded || failed.Message != "too many alarms" {
			t.Errorf("%s: error = %v, want overloaded: too many alarms", op, failed)
		}
	}
}

func TestCancelAlarm(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind0("ring", false, func(*Ctx) (None, error) { return None{}, nil }))
	h.reg.add(bind0("set", true, func(c *Ctx) (uint64, error) {
		return c.SetAlarm(time.UnixMilli(1), Then("ring"))
	}))
	h.reg.add(bind1("cancel", true, func(c *Ctx, id uint64) (bool, error) {
		return c.CancelAlarm(id)
	}))
	id := decodeAs[uint64](t, h.invoke("set"))
	if !decodeAs[bool](t, h.invoke("cancel", id)) {
		t.Errorf("CancelAlarm(%d) = false, want true for a set alarm", id)
	}
	if decodeAs[bool](t, h.invoke("cancel", id)) {
		t.Errorf("CancelAlarm(%d) = true, want false for a cancelled alarm", id)
	}
	if len(h.host.alarms) != 0 {
		t.Errorf("host still holds %d alarms", len(h.host.alarms))
	}
}

func TestAlarmsList(t *testing.T) {
	h := newHarness(t)
	// A long handler name makes the list outgrow the first alarm_list buffer.
	long := "ring" + strings.Repeat("g", 60)
	h.reg.add(bind0(long, false, func(*Ctx) (None, error) { return None{}, nil }))
	h.reg.add(bind0("list", true, func(c *Ctx) ([]string, error) {
		for i := range 20 {
			if _, err := c.SetAlarm(time.UnixMilli(int64(20-i)*1000), Then(long)); err != nil {
				return nil, err
			}
		}
		alarms, err := c.Alarms()
		out := make([]string, 0, len(alarms))
		for _, a := range alarms {
			out = append(out, fmt.Sprintf("%d@%d:%t", a.ID, a.At.UnixMilli(), a.Handler == long))
		}
		return out, err
	}))
	got := decodeAs[[]string](t, h.invoke("list"))
	if len(got) != 20 {
		t.Fatalf("Alarms returned %d alarms, want 20", len(got))
	}
	if got[0] != "220@1000:true" || got[19] != "201@20000:true" {
		t.Errorf("Alarms = %v, want 220@1000 first and 201@20000 last", got)
	}
}

func TestAlarmTurn(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind1("ring", false, func(c *Ctx, note string) (string, error) {
		_, hasCaller := c.Caller()
		return fmt.Sprintf("%s id=%d alarm=%t continuation=%t caller=%t hops=%d", note,
			c.CallID(), c.Alarm(), c.Continuation(), hasCaller, len(c.Hops())), nil
	}))
	q := request(abi.KindAlarm, "ring", "wake")
	q.Caller, q.CallID = callhost.Address{}, 207
	value, failed := h.turn(q)
	if failed != nil {
		t.Fatalf("alarm turn of a local handler: %v", failed)
	}
	want := "wake id=207 alarm=true continuation=false caller=false hops=0"
	if got := decodeAs[string](t, value); got != want {
		t.Errorf("ring = %q, want %q", got, want)
	}

	q = request(abi.KindAlarm, "nope")
	if _, failed := h.turn(q); failed == nil || failed.Code != callhost.CodeNotFound {
		t.Errorf("alarm turn of an unknown handler = %v, want not_found", failed)
	}
}

func TestAlarmFalseOutsideAlarmTurn(t *testing.T) {
	h := newHarness(t)
	h.reg.add(bind0("kind", true, func(c *Ctx) (bool, error) { return c.Alarm(), nil }))
	if decodeAs[bool](t, h.invoke("kind")) {
		t.Errorf("Alarm() = true in an invoke turn")
	}
}

func TestAlarmMethodsAfterTurn(t *testing.T) {
	h := newHarness(t)
	var kept *Ctx
	h.reg.add(bind0("ring", false, func(*Ctx) (None, error) { return None{}, nil }))
	h.reg.add(bind0("keep", true, func(c *Ctx) (None, error) {
		kept = c
		return None{}, nil
	}))
	h.invoke("keep")
	if _, err := kept.SetAlarm(time.UnixMilli(1), Then("ring")); err != errTurnEnded {
		t.Errorf("SetAlarm after the turn = %v, want errTurnEnded", err)
	}
	if _, err := kept.CancelAlarm(1); err != errTurnEnded {
		t.Errorf("CancelAlarm after the turn = %v, want errTurnEnded", err)
	}
	if _, err := kept.Alarms(); err != errTurnEnded {
		t.Errorf("Alarms after the turn = %v, want errTurnEnded", err)
	}
}
