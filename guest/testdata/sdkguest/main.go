//go:build wasip1

// Command sdkguest is the guest module that the guest package's end-to-end
// tests and benchmarks load with wazero. Each handler exercises one part of
// the SDK.
package main

import (
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

// mainRan records whether main ran; _initialize of a c-shared build runs
// only the init functions.
var mainRan bool

func main() { mainRan = true }

func init() {
	guest.Expose1("echo", echo)
	guest.Expose2("concat", concat)
	guest.Expose4("sum4", sum4)
	guest.Expose2("fail", fail)
	guest.Expose0("plainfail", plainFail)
	guest.Expose2("put", put)
	guest.Expose1("get", get)
	guest.Expose1("del", del)
	guest.Expose1("keys", keys)
	guest.Expose2("storeItem", storeItem)
	guest.Expose1("loadItem", loadItem)
	guest.Expose0("info", info)
	guest.Expose2("start", start)
	guest.Expose1("send", send)
	guest.Expose1("forward", forward)
	guest.Expose1("log", logLevels)
	guest.Expose0("panic", panicNow)
	guest.Expose0("mainRan", func(*guest.Ctx) (bool, error) { return mainRan, nil })
	guest.Expose0("mallocs", mallocs)
	guest.Local1("secret", func(_ *guest.Ctx, n int) (int, error) { return n * 2, nil })
	guest.Local1("done", done)
	guest.Expose2("remindAt", remindAt)
	guest.Expose2("remindAfter", remindAfter)
	guest.Expose1("remindWrong", remindWrong)
	guest.Expose1("cancelAlarm", cancelAlarm)
	guest.Expose0("alarms", alarms)
	guest.Local1("ring", ring)
}

func echo(_ *guest.Ctx, n int) (int, error) { return n, nil }

func concat(_ *guest.Ctx, a, b string) (string, error) { return a + b, nil }

func sum4(_ *guest.Ctx, a, b, c, d int) (int, error) { return a + b + c + d, nil }

func fail(_ *guest.Ctx, code int, msg string) (guest.None, error) {
	return guest.None{}, fmt.Errorf("wrapped: %w", guest.Errorf(callhost.Code(code), "%s", msg))
}

func plainFail(*guest.Ctx) (guest.None, error) {
	return guest.None{}, errors.New("plain failure")
}

func put(c *guest.Ctx, key, value string) (guest.None, error) {
	return guest.None{}, c.Put(key, []byte(value))
}

// get returns the value of key, or nil when it is absent.
func get(c *guest.Ctx, key string) (*string, error) {
	v, ok, err := c.Get(key)
	if !ok || err != nil {
		return nil, err
	}
	s := string(v)
	return &s, nil
}

func del(c *guest.Ctx, key string) (guest.None, error) { return guest.None{}, c.Delete(key) }

func keys(c *guest.Ctx, prefix string) ([]string, error) {
	kvs, err := c.List(prefix)
	out := make([]string, 0, len(kvs))
	for _, kv := range kvs {
		out = append(out, kv.Key+"="+string(kv.Value))
	}
	return out, err
}

type item struct {
	Name  string
	Count int
}

func storeItem(c *guest.Ctx, name string, count int) (guest.None, error) {
	return guest.None{}, guest.Store(c, "item/"+name, item{Name: name, Count: count})
}

func loadItem(c *guest.Ctx, name string) (item, error) {
	it, ok, err := guest.Load[item](c, "item/"+name)
	if err == nil && !ok {
		err = guest.Errorf(callhost.CodeApplication, "item %q not found", name)
	}
	return it, err
}

type requestInfo struct {
	Self         string
	Caller       string
	HasCaller    bool
	Hops         []string
	CallID       uint64
	Continuation bool
}

func info(c *guest.Ctx) (requestInfo, error) {
	in := requestInfo{Self: c.Self().String(), CallID: c.CallID(), Continuation: c.Continuation()}
	caller, ok := c.Caller()
	in.Caller, in.HasCaller = caller.String(), ok
	for _, h := range c.Hops() {
		in.Hops = append(in.Hops, h.String())
	}
	return in, nil
}

// labeled is a continuation argument with the placeholder in a struct field.
type labeled struct {
	Label string
	R     callhost.Marker
}

// start calls peer id with the chain double(n) then inc(previous result);
// the outcome goes to done.
func start(c *guest.Ctx, id string, n int) (uint64, error) {
	op := guest.Op("double", n).Then("inc", guest.Prev)
	then := guest.Then("done", labeled{Label: "lbl", R: guest.Placeholder})
	return c.Call(guest.Object("peer", id), op, then, guest.Timeout(2*time.Second))
}

// done receives the outcome of start's call.
func done(c *guest.Ctx, in struct {
	Label string
	R     guest.Result[int]
}) (string, error) {
	v, err := in.R.Get()
	if err != nil {
		return "", guest.Errorf(callhost.CodeApplication+1, "%s: %v", in.Label, err)
	}
	return fmt.Sprintf("%s:%d:%d:%t", in.Label, v, c.CallID(), c.Continuation()), nil
}

func send(c *guest.Ctx, id string) (uint64, error) {
	return c.Send(guest.Object("peer", id), guest.Op("ping"))
}

func forward(c *guest.Ctx, id string) (string, error) {
	return "ignored", c.Forward(guest.Object("peer", id), guest.Op("answer", c.CallID()))
}

func logLevels(c *guest.Ctx, msg string) (guest.None, error) {
	log := c.Logger().With("object", c.Self().String())
	log.Debug(msg, "n", 1)
	log.Info(msg, "n", 2)
	log.Warn(msg, "n", 3)
	log.WithGroup("g").Error(msg, "n", 4)
	return guest.None{}, nil
}

func panicNow(*guest.Ctx) (guest.None, error) { panic("boom from sdkguest") }

func mallocs(*guest.Ctx) (uint64, error) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs, nil
}

// remindAt sets an alarm at atMS, Unix milliseconds, that runs ring(note).
func remindAt(c *guest.Ctx, atMS int64, note string) (uint64, error) {
	return c.SetAlarm(time.UnixMilli(atMS), guest.Then("ring", note))
}

// remindAfter sets an alarm ms milliseconds from now that runs ring(note).
func remindAfter(c *guest.Ctx, ms int, note string) (uint64, error) {
	return c.SetAlarmAfter(time.Duration(ms)*time.Millisecond, guest.Then("ring", note))
}

// remindWrong sets an alarm that SetAlarm must reject: one with a
// placeholder, or with mistake "other" one for another object.
func remindWrong(c *guest.Ctx, mistake string) (uint64, error) {
	then := guest.Then("ring", guest.Placeholder)
	if mistake == "other" {
		then = guest.ThenOn(guest.Object("counter", "other"), "ring", "x")
	}
	return c.SetAlarm(time.UnixMilli(1), then)
}

func cancelAlarm(c *guest.Ctx, id uint64) (bool, error) { return c.CancelAlarm(id) }

// alarms returns the object's alarms as "id@unix-ms:handler".
func alarms(c *guest.Ctx) ([]string, error) {
	list, err := c.Alarms()
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, fmt.Sprintf("%d@%d:%s", a.ID, a.At.UnixMilli(), a.Handler))
	}
	return out, err
}

// ring is the handler the alarms run. It returns note and the turn's request
// fields.
func ring(c *guest.Ctx, note string) (string, error) {
	_, hasCaller := c.Caller()
	return fmt.Sprintf("%s id=%d alarm=%t continuation=%t caller=%t hops=%d", note,
		c.CallID(), c.Alarm(), c.Continuation(), hasCaller, len(c.Hops())), nil
}
