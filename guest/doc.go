// Package guest is the Go SDK for callhost guest modules: objects written in
// Go, compiled to WebAssembly and run by the callhost host. It implements the
// guest side of the ABI in docs/abi.md.
//
// # Building
//
// A guest is a main package built as a WASI reactor with the standard
// toolchain:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o counter.wasm .
//
// In that mode the host's call of _initialize runs the package init
// functions but not main.main. Register handlers in init; main must exist
// and may be empty, because it never runs. Importing this package adds the
// exports callhost_abi_version, callhost_buffer and callhost_turn.
//
// # Handlers
//
// A handler is a Go function registered under a name with [Expose0] to
// [Expose4] (callable by any object or client) or [Local0] to [Local4]
// (runnable only as a continuation of the same object). Its arguments and
// result are MessagePack values, decoded into and encoded from the Go
// parameter and result types, and [None] is the result type for none.
// Scalars, strings, byte slices and [Result] decode and encode without
// reflection. Other types, such as structs, maps and most slices, go through
// github.com/vmihailenco/msgpack/v5, whose reflection is much slower inside a
// wasm guest, so prefer scalar parameters for handlers that run often.
//
// A call to another object returns at once: [Ctx.Call] records it, and when
// the outcome arrives, the continuation named with [Then] runs as a new turn
// of the caller. The continuation's bound arguments may hold [Placeholder]
// anywhere; a parameter, field, slice element or map value of type
// [Result] receives the outcome there. Arguments are passed as any. Converting
// an int outside 0 to 255 to any allocates, which is costly inside a wasm
// guest, so a loop that makes many calls can box its ints with [Ctx.Int].
//
// A call of one step whose arguments have type int, with no continuation or
// one whose arguments are ints and [Placeholder], reaches the host through the
// call_ints import, which leaves encoding the call to the host. The call must
// have at most 64 arguments per list, no continuation object ([ThenOn]), and
// names of at most 32 KiB. Such a call cost the guest about 40% less than an
// encoded one in the call-delay benchmark. Other calls are encoded in the
// guest.
//
// Each object has its own key-value storage: [Ctx.Get], [Ctx.Put],
// [Ctx.Delete] and [Ctx.List] work on bytes, and [Load] and [Store] on
// MessagePack-encoded values. [Ctx.Add] adds to an integer counter in one
// host call.
//
// An object can schedule work on itself with alarms: [Ctx.SetAlarm] and
// [Ctx.SetAlarmAfter] take a continuation without placeholders, and the
// handler it names runs as a new turn when the alarm is due, with
// [Ctx.Alarm] reporting true. [Ctx.Alarms] lists the object's alarms and
// [Ctx.CancelAlarm] cancels one.
//
// # Turns
//
// The host runs one turn at a time per instance. Storage writes, calls and
// alarm changes made during a turn take effect only if the handler returns a
// nil error. A handler that panics is not recovered: the panic traps the
// instance, the host discards the instance with the turn's writes and calls,
// and the caller sees guest_trap. Blocking until every goroutine is asleep traps the
// same way. Traps and turns past the deadline count against the whole class:
// by default, three within 10 s make the host reject calls to every object of
// the class with throttled for a while (docs/security.md). Goroutines started
// by a handler make progress only while the instance runs a turn, so finish
// work within the turn.
//
// # Example
//
// A counter whose add handler can also report the total to another object:
//
//	//go:build wasip1
//
//	package main
//
//	import (
//		"github.com/callhost/callhost"
//		"github.com/callhost/callhost/guest"
//	)
//
//	func init() {
//		guest.Expose1("add", add)
//		guest.Expose1("report", report)
//		guest.Local2("reported", reported)
//	}
//
//	func main() {}
//
//	// add adds n to the counter and returns the new total.
//	func add(c *guest.Ctx, n int) (int, error) {
//		total, _, err := guest.Load[int](c, "total")
//		if err != nil {
//			return 0, err
//		}
//		total += n
//		return total, guest.Store(c, "total", total)
//	}
//
//	// report sends the total to the "record" handler of the ledger object
//	// named by id and returns the call's id.
//	func report(c *guest.Ctx, id string) (uint64, error) {
//		total, _, err := guest.Load[int](c, "total")
//		if err != nil {
//			return 0, err
//		}
//		ledger := guest.Object("ledger", id)
//		op := guest.Op("record", c.Self().String(), total)
//		return c.Call(ledger, op, guest.Then("reported", total, guest.Placeholder))
//	}
//
//	// reported runs when the outcome of the ledger call arrives.
//	func reported(c *guest.Ctx, total int, r guest.Result[guest.None]) (guest.None, error) {
//		if _, err := r.Get(); err != nil {
//			c.Logger().Warn("report failed", "total", total, "err", err)
//			return guest.None{}, guest.Errorf(callhost.CodeApplication, "report: %v", err)
//		}
//		c.Logger().Info("reported", "total", total)
//		return guest.None{}, nil
//	}
package guest
