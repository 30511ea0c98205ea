// Package callhost holds the types shared by every part of callhost: object
// addresses, operations, results and the stable error codes that cross the wire
// and the host/guest boundary.
//
// callhost runs objects written as WebAssembly guest modules. An object calls
// another with call(class, id, operation, continuation): the call returns at
// once, and when the outcome is known the continuation (a named handler of the
// caller, its bound arguments and a result placeholder) runs as a new turn on the
// caller. No guest waits for another, so call cycles cannot deadlock.
//
// The engine is in package runtime, the wazero integration in package host, the
// guest SDK in package guest and the WebSocket client in package client. The
// guest ABI is specified in docs/abi.md and the wire protocol in docs/protocol.md.
package callhost
