//go:build wasip1

// Command counter is the smallest useful callhost guest: an object that keeps
// a running total in its storage. It shows how to register handlers, how
// arguments and results map to Go types, and how Load and Store persist state
// between turns.
//
// Every object of the class has a total of its own: counter/a and counter/b
// never see each other's. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm .
//
// Handlers:
//
//	add(n int) int  adds n to the total and returns the new total
//	get() int       returns the total, 0 for an object that never added
//	reset()         sets the total back to 0
package main

import "github.com/callhost/callhost/guest"

// totalKey is the storage key of the total. Storage is per object, so one key
// is enough for every counter.
const totalKey = "total"

// The host runs the package init functions when it loads the module, but
// never main, so handlers are registered here. Expose makes a handler
// callable by other objects and by clients.
func init() {
	guest.Expose1("add", add)
	guest.Expose0("get", get)
	guest.Expose0("reset", reset)
}

// main must exist for a main package but never runs: the module is built as
// a WASI reactor.
func main() {}

// add adds n to the total and returns the new total. The write is staged and
// committed only when add returns a nil error, so a failed turn leaves the
// total as it was.
func add(c *guest.Ctx, n int) (int, error) {
	total, err := get(c)
	if err != nil {
		return 0, err
	}
	total += n
	if err := guest.Store(c, totalKey, total); err != nil {
		return 0, err
	}
	return total, nil
}

// get returns the total. A counter that never stored one reads as 0, because
// Load leaves the zero value when the key is absent.
func get(c *guest.Ctx) (int, error) {
	total, _, err := guest.Load[int](c, totalKey)
	return total, err
}

// reset deletes the total. None is the result type of a handler that returns
// nothing: callers receive nil.
func reset(c *guest.Ctx) (guest.None, error) {
	return guest.None{}, c.Delete(totalKey)
}
