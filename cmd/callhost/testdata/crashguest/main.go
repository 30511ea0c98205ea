//go:build wasip1

// Command crashguest is the guest of the crash test. It is loaded twice: as
// class "driver", whose fire handler makes calls with continuations, and as
// class "counter", whose objects count the calls they ran.
package main

import (
	"errors"
	"strconv"
	"strings"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

func main() {}

func init() {
	guest.Expose3("fire", fire)
	guest.Local2("done", done)
	guest.Expose0("report", report)
	guest.Expose1("incr", incr)
	guest.Expose0("count", func(c *guest.Ctx) (int, error) {
		n, _, err := guest.Load[int](c, "count")
		return n, err
	})
}

// fire makes n calls, numbered batch*n to batch*n+n-1, to counter objects
// 0..targets-1. A batch fires once: a repeated fire of the same batch, sent
// by a client that did not see the first answer, does nothing.
func fire(c *guest.Ctx, batch, n, targets int) (string, error) {
	key := "batch." + strconv.Itoa(batch)
	if _, ok, err := c.Get(key); err != nil || ok {
		return "repeat", err
	}
	if err := c.Put(key, []byte{1}); err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		call := batch*n + i
		target := guest.Object("counter", strconv.Itoa(call%targets))
		_, err := c.Call(target, guest.Op("incr", call), guest.Then("done", call, guest.Placeholder))
		if err != nil {
			return "", err
		}
	}
	return "fired", nil
}

func bump(c *guest.Ctx, key string) error {
	v, _, err := guest.Load[int](c, key)
	if err != nil {
		return err
	}
	return guest.Store(c, key, v+1)
}

// done records the outcome of one call.
func done(c *guest.Ctx, call int, r guest.Result[int]) (guest.None, error) {
	if err := bump(c, "runs."+strconv.Itoa(call)); err != nil {
		return guest.None{}, err
	}
	if r.Err != nil {
		return guest.None{}, bump(c, "err."+r.Err.Code.String())
	}
	return guest.None{}, bump(c, "ok")
}

// report returns the outcome counts: calls with a recorded outcome, calls
// whose continuation ran more than once, successes and errors by code.
func report(c *guest.Ctx) (map[string]int, error) {
	kvs, err := c.List("")
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, kv := range kvs {
		var v int
		if err := callhost.Result(kv.Value).Decode(&v); err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(kv.Key, "runs."):
			out["calls"]++
			if v > 1 {
				out["repeated"]++
			}
		case kv.Key == "ok" || strings.HasPrefix(kv.Key, "err."):
			out[kv.Key] = v
		}
	}
	return out, nil
}

func incr(c *guest.Ctx, call int) (int, error) {
	if call < 0 {
		return 0, errors.New("negative call number")
	}
	n, _, err := guest.Load[int](c, "count")
	if err != nil {
		return 0, err
	}
	n++
	return n, guest.Store(c, "count", n)
}
