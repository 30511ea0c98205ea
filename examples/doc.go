// Package examples holds small callhost programs for new users, each in a
// directory of its own. The guest examples are WebAssembly modules, and each
// directory's name is the class name the module is served under:
//
//   - counter: an object with storage; add, get and reset a running total.
//   - pair: one object calls another and receives the outcome in a
//     continuation whose result placeholder sits between bound arguments,
//     including the guest_error and timeout outcomes.
//   - pipeline: a request that travels through three objects with Forward
//     and is answered by the last one.
//   - pingpong: two objects play 10,000 rounds of call and continuation.
//
// The embed directory is an ordinary Go program that runs the counter
// module in an embedded runtime, without a server.
//
// This package has no code of its own. Its tests build every example and run
// it in a real runtime; the pipeline test goes through the WebSocket server
// and the Go client. README.md says how to build and call the examples by
// hand.
package examples
