// Package msgp reads and writes MessagePack without reflection for the types that
// cross the host/guest boundary on every call, and falls back to
// github.com/vmihailenco/msgpack/v5 for everything else.
//
// It is shared by the host and by guests compiled to WebAssembly, where
// reflection-based encoding costs more than the rest of a call.
package msgp
