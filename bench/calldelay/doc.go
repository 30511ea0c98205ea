// Package calldelay is the call-delay benchmark: it measures what a call with
// a continuation costs in callhost against the ways of calling the same
// guest work without one, from 25 operations in one batch up to a million.
//
// A sweep runs, for each size, one row per mode (see [Mode]) and per fan-out
// variant, each in a new child process so that its peak RSS is its own. A
// child writes events to its standard output (package bench/internal/load).
// For ctn and await-ws the child serves callhost over WebSocket on a
// loopback port, and the runner drives it as a client. A row that makes no
// progress for
// [Config.Stall] is reported as hung, with the count it reached, and its
// child is killed.
//
// bench/README.md tells how to run it and read the results.
package calldelay
