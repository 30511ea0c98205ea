// Package runtime is the callhost engine: it activates objects on demand, queues
// the calls sent to them, runs their turns on pooled wasm instances, keeps
// pending calls with their continuations and deadlines, and commits each turn's
// storage writes and outgoing calls only when the turn succeeds.
//
// The package is named after its directory. A program that also needs the
// standard library's runtime package imports this one under another name:
//
//	import chrt "github.com/callhost/callhost/runtime"
//
// # Objects and turns
//
// An object is addressed by class and id. A class is a loaded guest module.
// Objects exist in memory only while they have queued messages; between turns
// they cost nothing but their storage. An object runs one turn at a time, and
// the calls one sender makes to one object start in the order they were sent.
//
// A turn runs one handler (or the steps of one operation) on one instance. Its
// storage writes and the calls it makes are staged; they take effect only if
// every step succeeds. A trap, a handler error or the turn deadline discards
// them and fails the call being served.
//
// # Calls and continuations
//
// A call returns to the guest at once. When the target's turn ends, or the
// call's deadline passes, exactly one outcome reaches the caller: a
// continuation turn on the calling object for calls made by guests, or a
// callback for calls made through [Runtime.Submit] and [Runtime.Call]. A late
// result after a timeout is dropped. No goroutine or instance waits for an
// outcome, so call cycles cannot deadlock.
//
// When a pending-work limit is reached, the call fails at once with
// callhost.CodeOverloaded; the runtime never blocks a turn to wait for room.
//
// # Concurrency
//
// A [Runtime] is safe for concurrent use. Turns run on a fixed set of worker
// goroutines; [Runtime.Shutdown] stops them.
package runtime
