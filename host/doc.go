// Package host runs callhost guest modules: WebAssembly modules that implement the
// guest ABI of docs/abi.md, run by the wazero runtime.
//
// An [Engine] owns one wazero runtime with WASI preview 1 and the host module
// "callhost". [Engine.Compile] compiles a module, checks its exports, imports and
// ABI version, and reads its handler table with a describe request. A [Pool] hands
// out [Instance] values of one module; [Instance.Turn] runs one request envelope
// and returns the guest's response envelope, routing the guest's host imports to
// the [Effects] given for that turn.
//
//	e, err := host.NewEngine(ctx, host.Config{CacheDir: dir})
//	m, err := e.Compile(ctx, "counter", wasm)
//	p, err := m.NewPool(ctx, host.PoolConfig{Warm: 1})
//	inst, err := p.Get(ctx)
//	resp, err := inst.Turn(ctx, request, effects)
//	p.Put(inst)
//
// # Failures
//
// A turn fails with a [*TrapError] when the guest traps (a Go panic, running out
// of memory, an unreachable instruction, proc_exit) or breaks the ABI, and with an
// error wrapping [ErrTurnDeadline] when it runs past [Config.TurnTimeout]. Either
// way the instance is broken and closed: a trapped guest's runtime cannot be
// trusted again even when later calls seem to work. [Pool.Put] frees its slot.
//
// # Deadlines
//
// By default [Engine.Compile] rewrites each module so that the host can stop it:
// package preempt inserts a check of an exported interrupt global at every
// function entry and loop header. One watchdog goroutine per engine checks the
// running turns on each tick (a sixteenth of the timeout, between 1 and 100 ms).
// When a turn runs past its deadline, or the context given to Turn is done, the
// watchdog sets the instance's global, and the guest traps when its fuel next
// runs out. A check is a decrement and a branch, with an exit to Go every 16384
// checks so that the Go runtime can preempt the goroutine. wazero's own
// mechanism, WithCloseOnContextDone, which the engine does not use, exits to Go
// at every loop header and starts a goroutine per export call.
//
// With [Config.Uninterruptible] guests run unchanged, but a late turn can only
// be failed after it returns, and a guest that never returns keeps its
// goroutine forever. Neither mode interrupts a
// host import that blocks, or a guest blocked in a WASI call. The guest's
// clocks are real, and WASI's poll_oneoff sleeps without using CPU (a Go
// guest's time.Sleep calls it). In interruptible mode the sleep ends by the
// turn deadline plus one watchdog tick, and a sleep past the deadline is
// then stopped like a loop.
//
// # Host imports
//
// Import functions find their instance through the context of the export call,
// which each instance allocates once, so a turn allocates nothing on the host side.
// An import given a range outside the guest's memory does
// not trap: it sets last_error to bad_request (code 1) and returns -2; log, which
// returns nothing, drops the message. last_error returns 0 bytes when no import
// failed during the turn. An error from an [Effects] method reaches the guest with
// its ErrorCode(), or internal (12). When the output of kv_get, kv_list or
// alarm_list does not fit the guest's buffer, the host keeps it until the next
// import, so the guest's retry with a larger buffer does not run the lookup again.
// The host does not check key or value sizes, nor decode alarm envelopes:
// [Effects] does.
//
// Guest stdout is discarded; stderr is kept per turn (its first and last
// kilobytes) for [TrapError.Message]. Guests should log through the log import.
package host
