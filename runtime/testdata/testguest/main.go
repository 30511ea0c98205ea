//go:build wasip1

// Command testguest is the guest module the runtime tests load, under several
// class names. Every handler records what it saw in the object's storage so
// tests can read it back through the exposed "stats" handler.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

func main() {}

func init() {
	guest.Expose1("double", func(c *guest.Ctx, n int) (int, error) { return 2 * n, nil })
	guest.Expose2("add", func(c *guest.Ctx, a, b int) (int, error) { return a + b, nil })
	guest.Expose1("fail", func(c *guest.Ctx, msg string) (guest.None, error) {
		return guest.None{}, errors.New(msg)
	})
	guest.Expose1("appfail", func(c *guest.Ctx, code int) (guest.None, error) {
		return guest.None{}, guest.Errorf(callhost.Code(code), "application failure %d", code)
	})
	guest.Expose0("panic", func(c *guest.Ctx) (guest.None, error) { panic("boom from guest") })
	guest.Expose1("spin", spin)
	guest.Expose0("whoami", whoami)
	guest.Local1("secret", func(c *guest.Ctx, n int) (int, error) { return n, nil })

	guest.Expose1("incr", incr)
	guest.Expose1("incrThenFail", func(c *guest.Ctx, n int) (int, error) {
		if _, err := incr(c, n); err != nil {
			return 0, err
		}
		return 0, errors.New("failed after write")
	})
	guest.Expose0("stats", stats)
	guest.Expose1("churn", churn)

	guest.Expose3("fire", fire)
	guest.Local2("gotDouble", gotDouble)
	guest.Expose2("callOnce", callOnce)
	guest.Expose2("callThenFail", callThenFail)
	guest.Local2("record", record)
	guest.Expose1("selfCall", selfCall)
	guest.Expose1("nested", nested)
	guest.Local1("gotNested", gotNested)
	guest.Expose2("pingpong", pingpong)
	guest.Local2("pong", pong)
	guest.Expose1("forwardTo", forwardTo)
	guest.Expose2("callLocalOf", callLocalOf)
	guest.Expose1("forgeContinuation", forgeContinuation)

	guest.Expose2("sendSeq", sendSeq)
	guest.Expose1("expectSeq", expectSeq)
	guest.Local1("seqDone", func(c *guest.Ctx, r guest.Result[guest.None]) (guest.None, error) {
		return guest.None{}, nil
	})

	guest.Expose2("alarmIn", alarmIn)
	guest.Local1("onAlarm", onAlarm)
	guest.Local1("flakyAlarm", flakyAlarm)
	guest.Expose1("cancelAlarm", func(c *guest.Ctx, id int) (bool, error) {
		return c.CancelAlarm(uint64(id))
	})
	guest.Expose0("alarms", func(c *guest.Ctx) (int, error) {
		as, err := c.Alarms()
		return len(as), err
	})
}

// sendSeq calls expectSeq n times on object id of class calc, numbered on
// from the last number this object sent. Each call has a continuation, so
// that applying the calls includes recording them as pending.
func sendSeq(c *guest.Ctx, id string, n int) (int, error) {
	for i := 0; i < n; i++ {
		seq, err := c.Add("sent", 1)
		if err != nil {
			return i, err
		}
		_, err = c.Call(guest.Object("calc", id), guest.Op("expectSeq", int(seq)),
			guest.Then("seqDone", guest.Placeholder))
		if err != nil {
			return i, err
		}
	}
	return n, nil
}

// expectSeq records seq as the last number received, and counts it under
// "out_of_order" unless it follows the previous one.
func expectSeq(c *guest.Ctx, seq int) (guest.None, error) {
	last, _, err := guest.Load[int](c, "last")
	if err != nil {
		return guest.None{}, err
	}
	if seq != last+1 {
		if _, err := c.Add("out_of_order", 1); err != nil {
			return guest.None{}, err
		}
	}
	return guest.None{}, guest.Store(c, "last", seq)
}

// alarmIn sets an alarm that runs onAlarm(label) after ms milliseconds, or
// flakyAlarm when label starts with "flaky".
func alarmIn(c *guest.Ctx, ms int, label string) (int, error) {
	handler := "onAlarm"
	if len(label) >= 5 && label[:5] == "flaky" {
		handler = "flakyAlarm"
	}
	id, err := c.SetAlarmAfter(time.Duration(ms)*time.Millisecond, guest.Then(handler, label))
	return int(id), err
}

func onAlarm(c *guest.Ctx, label string) (guest.None, error) {
	if !c.Alarm() {
		return guest.None{}, errors.New("onAlarm ran outside an alarm")
	}
	return guest.None{}, bump(c, "alarm."+label)
}

// flakyAlarm always fails, so the runtime retries it until it gives up.
func flakyAlarm(c *guest.Ctx, label string) (guest.None, error) {
	return guest.None{}, errors.New("flaky alarm failure " + label)
}

func spin(c *guest.Ctx, ms int) (int, error) {
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	n := 0
	for ms < 0 || time.Now().Before(end) {
		n++
	}
	return n, nil
}

func whoami(c *guest.Ctx) (map[string]any, error) {
	caller, _ := c.Caller()
	hops := []string{}
	for _, h := range c.Hops() {
		hops = append(hops, h.String())
	}
	return map[string]any{
		"self": c.Self().String(), "caller": caller.String(), "hops": hops,
	}, nil
}

func incr(c *guest.Ctx, n int) (int, error) {
	v, _, err := guest.Load[int](c, "count")
	if err != nil {
		return 0, err
	}
	v += n
	return v, guest.Store(c, "count", v)
}

func bump(c *guest.Ctx, key string) error {
	v, _, err := guest.Load[int](c, key)
	if err != nil {
		return err
	}
	return guest.Store(c, key, v+1)
}

func stats(c *guest.Ctx) (map[string]int, error) {
	kvs, err := c.List("")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, kv := range kvs {
		var v int
		if err := callhost.Result(kv.Value).Decode(&v); err == nil {
			out[kv.Key] = v
		}
	}
	return out, nil
}

// churn adds 2 to each of the counters "c.0" to "c.<n-1>" in two passes,
// puts and deletes "c.tmp", and checks that Get and List see every staged
// write of the turn. It returns the sum of the counters.
func churn(c *guest.Ctx, n int) (int, error) {
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			key := "c." + strconv.Itoa(i)
			v, _, err := guest.Load[int](c, key)
			if err != nil {
				return 0, err
			}
			if err := guest.Store(c, key, v+1); err != nil {
				return 0, err
			}
			if got, _, err := guest.Load[int](c, key); err != nil || got != v+1 {
				return 0, fmt.Errorf("%s reads %d (%v) after storing %d", key, got, err, v+1)
			}
		}
		if err := guest.Store(c, "c.tmp", pass); err != nil {
			return 0, err
		}
		if err := c.Delete("c.tmp"); err != nil {
			return 0, err
		}
		if _, found, err := c.Get("c.tmp"); err != nil || found {
			return 0, fmt.Errorf("c.tmp found=%v (%v) after its deletion", found, err)
		}
	}
	kvs, err := c.List("c.")
	if err != nil {
		return 0, err
	}
	if len(kvs) != n {
		return 0, fmt.Errorf("List(\"c.\") returned %d pairs, want %d", len(kvs), n)
	}
	sum := 0
	for _, kv := range kvs {
		var v int
		if err := callhost.Result(kv.Value).Decode(&v); err != nil {
			return 0, err
		}
		sum += v
	}
	return sum, nil
}

// fire makes n calls to target/id "double" with i as argument; each
// continuation checks the result.
func fire(c *guest.Ctx, class, id string, n int) (int, error) {
	for i := 0; i < n; i++ {
		_, err := c.Call(guest.Object(class, id), guest.Op("double", i),
			guest.Then("gotDouble", i, guest.Placeholder))
		if err != nil {
			return i, err
		}
	}
	return n, nil
}

func gotDouble(c *guest.Ctx, i int, r guest.Result[int]) (guest.None, error) {
	v, err := r.Get()
	switch {
	case err != nil:
		var e *callhost.Error
		errors.As(err, &e)
		return guest.None{}, bump(c, "code."+e.Code.String())
	case v != 2*i:
		return guest.None{}, bump(c, "invalid")
	}
	return guest.None{}, bump(c, "ok")
}

// callOnce calls target.op with an operation given as [class, id, handler,
// arg, timeout_ms] and records the outcome under key.
func callOnce(c *guest.Ctx, key string, spec []any) (guest.None, error) {
	target, op := specCall(spec)
	timeout := time.Duration(toInt(spec[4])) * time.Millisecond
	_, err := c.Call(target, op, guest.Then("record", key, guest.Placeholder),
		guest.Timeout(timeout))
	return guest.None{}, err
}

// specCall returns the target and the operation that spec names: class, id,
// handler and argument, as callOnce takes them.
func specCall(spec []any) (guest.Address, guest.Operation) {
	class, _ := spec[0].(string)
	id, _ := spec[1].(string)
	handler, _ := spec[2].(string)
	return guest.Object(class, id), guest.Op(handler, spec[3])
}

// callThenFail makes the call of callOnce and sends the same operation
// without a continuation, then fails, so that neither call may leave.
func callThenFail(c *guest.Ctx, key string, spec []any) (guest.None, error) {
	if _, err := callOnce(c, key, spec); err != nil {
		return guest.None{}, err
	}
	target, op := specCall(spec)
	if _, err := c.Send(target, op); err != nil {
		return guest.None{}, err
	}
	return guest.None{}, errors.New("failed after calls")
}

func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// record stores the outcome under key: "<key>.runs" counts runs,
// "<key>.code" the code and "<key>.value" the value.
func record(c *guest.Ctx, key string, r guest.Result[any]) (guest.None, error) {
	if err := bump(c, key+".runs"); err != nil {
		return guest.None{}, err
	}
	code := 0
	if r.Err != nil {
		code = int(r.Err.Code)
		if err := c.Put(key+".message", []byte(r.Err.Message)); err != nil {
			return guest.None{}, err
		}
	}
	if err := guest.Store(c, key+".code", code); err != nil {
		return guest.None{}, err
	}
	return guest.None{}, guest.Store(c, key+".value", toInt(r.Value))
}

func selfCall(c *guest.Ctx, n int) (guest.None, error) {
	_, err := c.Call(c.Self(), guest.Op("double", n), guest.Then("record", "self", guest.Placeholder))
	return guest.None{}, err
}

type nestedArgs struct {
	Label  string
	Result guest.Result[int]
	List   []guest.Result[int]
}

// nested runs op on target/class and puts the outcome inside a struct and a
// slice of the continuation's argument.
func nested(c *guest.Ctx, which string) (guest.None, error) {
	target := guest.Object("calc", "n1")
	var op guest.Operation
	switch which {
	case "nest":
		op = guest.Op("add", guest.Op("double", 3), 4) // 2*3 + 4 = 10
	case "chain":
		op = guest.Op("double", 5).Then("add", guest.Prev, 1) // 2*5 + 1 = 11
	case "deep":
		op = guest.Op("add", guest.Op("add", guest.Op("double", 1), 1), 1) // 4
	case "failing":
		op = guest.Op("double", 2).Then("fail", "chain step failed")
	}
	arg := map[string]any{
		"Label":  which,
		"Result": guest.Placeholder,
		"List":   []any{guest.Placeholder, guest.Placeholder},
	}
	_, err := c.Call(target, op, guest.Then("gotNested", arg))
	return guest.None{}, err
}

func gotNested(c *guest.Ctx, a nestedArgs) (guest.None, error) {
	v, err := a.Result.Get()
	if err != nil {
		return guest.None{}, guest.Store(c, a.Label+".code", int(a.Result.Err.Code))
	}
	same := len(a.List) == 2 && a.List[0].Value == v && a.List[1].Value == v
	if !same {
		return guest.None{}, bump(c, a.Label+".mismatch")
	}
	return guest.None{}, guest.Store(c, a.Label+".value", v)
}

// pingpong plays rounds of calls with the object peer of the same class.
func pingpong(c *guest.Ctx, peer string, rounds int) (guest.None, error) {
	return guest.None{}, nextRound(c, peer, rounds, 0)
}

func nextRound(c *guest.Ctx, peer string, rounds, done int) error {
	if done == rounds {
		return guest.Store(c, "rounds", done)
	}
	st := pingState{Peer: peer, Rounds: rounds, Done: done}
	_, err := c.Call(guest.Object(c.Self().Class, peer), guest.Op("double", done),
		guest.Then("pong", st, guest.Placeholder))
	return err
}

type pingState struct {
	Peer   string
	Rounds int
	Done   int
}

func pong(c *guest.Ctx, st pingState, r guest.Result[int]) (guest.None, error) {
	v, err := r.Get()
	if err != nil {
		return guest.None{}, err
	}
	if v != 2*st.Done {
		return guest.None{}, bump(c, "invalid")
	}
	return guest.None{}, nextRound(c, st.Peer, st.Rounds, st.Done+1)
}

func forwardTo(c *guest.Ctx, path []string) (string, error) {
	if len(path) == 0 {
		return "end at " + c.Self().String() + " after " + strconv.Itoa(len(c.Hops())) + " hops", nil
	}
	return "", c.Forward(guest.Object(c.Self().Class, path[0]), guest.Op("forwardTo", path[1:]))
}

func callLocalOf(c *guest.Ctx, class, id string) (guest.None, error) {
	_, err := c.Call(guest.Object(class, id), guest.Op("secret", 1),
		guest.Then("record", "local", guest.Placeholder))
	return guest.None{}, err
}

func forgeContinuation(c *guest.Ctx, id string) (string, error) {
	_, err := c.Call(guest.Object("calc", "x"), guest.Op("double", 1),
		guest.ThenOn(guest.Object(c.Self().Class, id), "record", "forged", guest.Placeholder))
	if err == nil {
		return "accepted", nil
	}
	return fmt.Sprint(err), nil
}

// Handlers for the limit and call-rule tests.
func init() {
	guest.Expose3("tryCall", tryCall)
	guest.Expose1("flood", flood)
	guest.Expose2("sendPadded", sendPadded)
	guest.Expose1("countPadded", func(c *guest.Ctx, s string) (guest.None, error) {
		return guest.None{}, bump(c, "padded")
	})
	guest.Expose1("bigResult", func(c *guest.Ctx, n int) (string, error) {
		return string(make([]byte, n)), nil
	})
	guest.Expose2("tryPut", tryPut)
	guest.Expose1("tryGet", tryGet)
	guest.Expose2("addTo", func(c *guest.Ctx, key string, delta int64) (int64, error) {
		return c.Add(key, delta)
	})
}

// tryPut stores a value of valueSize bytes under a key of keySize bytes and
// returns the kv_put import's error as text, or "stored".
func tryPut(c *guest.Ctx, keySize, valueSize int) (string, error) {
	err := c.Put(strings.Repeat("k", keySize), make([]byte, valueSize))
	if err == nil {
		return "stored", nil
	}
	return fmt.Sprint(err), nil
}

// tryGet reads the key of keySize bytes that tryPut writes and returns the
// size of its value, "absent", or the kv_get import's error as text.
func tryGet(c *guest.Ctx, keySize int) (string, error) {
	v, ok, err := c.Get(strings.Repeat("k", keySize))
	switch {
	case err != nil:
		return fmt.Sprint(err), nil
	case !ok:
		return "absent", nil
	}
	return fmt.Sprintf("%d bytes", len(v)), nil
}

// tryCall calls class/id "double" with a continuation, passing a string of
// pad bytes as an extra argument when pad > 0, and returns the call import's
// error as text, or "accepted".
func tryCall(c *guest.Ctx, class, id string, pad int) (string, error) {
	args := []any{1}
	if pad > 0 {
		args = append(args, string(make([]byte, pad)))
	}
	_, err := c.Call(guest.Object(class, id), guest.Op("double", args...),
		guest.Then("record", "try", guest.Placeholder))
	if err == nil {
		return "accepted", nil
	}
	return fmt.Sprint(err), nil
}

// sendPadded sends n calls to calc/padded without continuations, each
// carrying a string of pad bytes, which countPadded counts on arrival.
func sendPadded(c *guest.Ctx, n, pad int) (guest.None, error) {
	s := strings.Repeat("p", pad)
	for i := 0; i < n; i++ {
		if _, err := c.Send(guest.Object("calc", "padded"), guest.Op("countPadded", s)); err != nil {
			return guest.None{}, err
		}
	}
	return guest.None{}, nil
}

// flood makes n fire-and-forget calls to calc/flooded and reports how many
// the call import accepted and the first error.
func flood(c *guest.Ctx, n int) (string, error) {
	for i := 0; i < n; i++ {
		if _, err := c.Call(guest.Object("calc", "flooded"), guest.Op("double", i), nil); err != nil {
			return fmt.Sprintf("accepted %d: %v", i, err), nil
		}
	}
	return fmt.Sprintf("accepted %d", n), nil
}
