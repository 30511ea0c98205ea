//go:build wasip1

// Command hostile is a guest module whose handlers misbehave on purpose: they
// loop, exhaust memory, trap, exit, return huge or merely large results, flood the runtime
// with calls to objects that do not exist, flood the host's log, and sleep or
// read stdin inside a turn. The runtime tests load it beside a well-behaved class and check that
// each failure is contained.
package main

import (
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

func main() {}

// hoard keeps the memory bomb's allocations reachable.
var hoard [][]byte

func init() {
	guest.Expose0("ok", func(c *guest.Ctx) (string, error) { return "ok", nil })
	guest.Expose0("loop", loop)
	guest.Expose0("bomb", bomb)
	guest.Expose0("panic", func(c *guest.Ctx) (int, error) { panic("hostile panic") })
	guest.Expose0("nilmap", nilMap)
	guest.Expose1("index", index)
	guest.Expose1("exit", func(c *guest.Ctx, code int) (int, error) { os.Exit(code); return 0, nil })
	guest.Expose1("huge", func(c *guest.Ctx, mib int) (string, error) {
		return strings.Repeat("x", mib<<20), nil
	})
	guest.Expose1("blob", func(c *guest.Ctx, n int) (string, error) {
		return strings.Repeat("b", n), nil
	})
	guest.Expose2("flood", flood)
	guest.Expose2("logs", logs)
	guest.Local2("record", record)
	guest.Expose0("stats", stats)
	guest.Expose1("sleep", func(c *guest.Ctx, ms int) (string, error) {
		time.Sleep(time.Duration(ms) * time.Millisecond)
		return "woke", nil
	})
	guest.Expose0("stdin", readStdin)
}

// loop never returns.
func loop(c *guest.Ctx) (int, error) {
	n := 0
	for {
		n++
	}
}

// bomb allocates 16 MiB blocks until the memory limit stops it.
func bomb(c *guest.Ctx) (int, error) {
	for {
		hoard = append(hoard, make([]byte, 16<<20))
	}
}

func nilMap(c *guest.Ctx) (int, error) {
	var m map[string]int
	m["x"] = 1
	return len(m), nil
}

func index(c *guest.Ctx, i int) (int, error) {
	xs := []int{1, 2, 3}
	return xs[i], nil
}

// flood makes n fire-and-forget calls to a class that does not exist, and k
// calls with a continuation: half to that class, half to a missing handler of
// a real class.
func flood(c *guest.Ctx, n, k int) (int, error) {
	for i := 0; i < n; i++ {
		if _, err := c.Send(guest.Object("no-such-class", "x"), guest.Op("f", i)); err != nil {
			return i, err
		}
	}
	for i := 0; i < k; i++ {
		target := guest.Object("no-such-class", "y")
		if i%2 == 1 {
			target = guest.Object(c.Self().Class, "peer")
		}
		_, err := c.Call(target, guest.Op("no-such-handler", i),
			guest.Then("record", i, guest.Placeholder))
		if err != nil {
			return n + i, err
		}
	}
	return n + k, nil
}

// logs writes count info lines of size bytes each through the log import and
// returns count. Line i starts with "line i:" and is padded with x.
func logs(c *guest.Ctx, count, size int) (int, error) {
	for i := range count {
		line := "line " + strconv.Itoa(i) + ":"
		if pad := size - len(line); pad > 0 {
			line += strings.Repeat("x", pad)
		}
		c.Logger().Info(line)
	}
	return count, nil
}

// record counts the outcome codes of flood's continuations.
func record(c *guest.Ctx, i int, r guest.Result[any]) (guest.None, error) {
	key := "code.ok"
	if r.Err != nil {
		key = "code." + r.Err.Code.String()
	}
	n, _, err := guest.Load[int](c, key)
	if err != nil {
		return guest.None{}, err
	}
	return guest.None{}, guest.Store(c, key, n+1)
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

// readStdin reads the guest's stdin to its end.
func readStdin(c *guest.Ctx) (int, error) {
	b, err := io.ReadAll(os.Stdin)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return len(b), nil
}
