//go:build wasip1

// Command guest is a minimal callhost guest used by the host package's tests. It talks
// to the host through //go:wasmexport and //go:wasmimport directly and encodes
// MessagePack by hand, so that it depends on nothing but the standard library.
package main

import (
	"os"
	"time"
	"unsafe"
)

func main() {}

//go:wasmimport callhost call
func hostCall(ptr unsafe.Pointer, n uint32) int64

//go:wasmimport callhost call_ints
func hostCallInts(class unsafe.Pointer, classLen uint32, id unsafe.Pointer, idLen uint32,
	handler unsafe.Pointer, handlerLen uint32, cont unsafe.Pointer, contLen uint32,
	ints uint32, args, contArgs int32, placeholders, timeoutMS uint64, flags int32) int64

//go:wasmimport callhost kv_get
func hostKVGet(key unsafe.Pointer, keyLen uint32, dst unsafe.Pointer, dstCap uint32) int64

//go:wasmimport callhost kv_put
func hostKVPut(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport callhost kv_add
func hostKVAdd(key unsafe.Pointer, keyLen uint32, delta int64, out unsafe.Pointer) int32

//go:wasmimport callhost kv_list
func hostKVList(prefix unsafe.Pointer, prefixLen uint32, start unsafe.Pointer, startLen uint32,
	limit int32, dst unsafe.Pointer, dstCap uint32) int64

//go:wasmimport callhost last_error
func hostLastError(dst unsafe.Pointer, dstCap uint32) int32

//go:wasmimport callhost log
func hostLog(level int32, ptr unsafe.Pointer, n uint32)

// The same imports, declared with raw addresses for handing the host bad ones.

//go:wasmimport callhost kv_get
func rawKVGet(key, keyLen, dst, dstCap uint32) int64

//go:wasmimport callhost log
func rawLog(level int32, ptr, n uint32)

// badAddr is an address far outside the guest's linear memory.
const badAddr = 0xfffff000

var (
	input  []byte
	output []byte
	keep   [][]byte
)

//go:wasmexport callhost_abi_version
func abiVersion() int32 { return 1 }

//go:wasmexport callhost_buffer
func buffer(size int32) int32 {
	if int(size) > cap(input) {
		input = make([]byte, size)
	}
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(input[:cap(input)]))))
}

//go:wasmexport callhost_turn
func turn(n int32) int64 {
	output = handle(input[:n], output[:0])
	p := uintptr(unsafe.Pointer(unsafe.SliceData(output)))
	return int64(p)<<32 | int64(len(output))
}

// handlers is the handler table returned by describe.
var handlers = []struct {
	name    string
	exposed bool
}{
	{"echo", true}, {"spin", true}, {"panic", true}, {"grow", true}, {"kv", true}, {"kvadd", true},
	{"call", true}, {"callints", true}, {"log", true}, {"list", true}, {"badptr", true}, {"stderr", true},
	{"exit", true}, {"busy", true}, {"local", false}, {"alarm", true}, {"cancel", true},
	{"alarms", true}, {"badalarm", true},
}

func handle(req, out []byte) []byte {
	r := reader{b: req}
	r.arrayHeader()
	kind := r.int()
	name := string(r.str())
	argsStart := r.off
	r.skip()
	args := req[argsStart:r.off]
	if r.bad {
		return appendStr(append(out, 0x92, 1), "malformed request")
	}
	if kind == 0 {
		out = append(out, 0x92, 0)
		out = appendArrayHeader(out, len(handlers))
		for _, h := range handlers {
			out = appendStr(append(out, 0x92), h.name)
			flag := byte(0)
			if h.exposed {
				flag = 1
			}
			out = append(out, flag)
		}
		return out
	}
	return invoke(name, args, out)
}

func invoke(name string, args, out []byte) []byte {
	a := reader{b: args}
	a.arrayHeader()
	switch name {
	case "echo":
		return append(append(out, 0x92, 0), args...)
	case "spin":
		for {
		}
	case "panic":
		panic("boom")
	case "grow":
		for {
			keep = append(keep, make([]byte, 1<<20))
		}
	case "kv":
		return kv(a.bin(), a.bin(), out)
	case "kvadd":
		key := a.bin()
		var sum int64
		if hostKVAdd(ptr(key), uint32(len(key)), int64(a.int()), unsafe.Pointer(&sum)) != 0 {
			return failed(out)
		}
		return appendInt(append(out, 0x92, 0), sum)
	case "call":
		env := a.bin()
		id := hostCall(ptr(env), uint32(len(env)))
		return appendInt(append(out, 0x92, 0), id)
	case "callints":
		return callInts(&a, out)
	case "log":
		level := a.int()
		msg := a.str()
		hostLog(int32(level), ptr(msg), uint32(len(msg)))
		return append(out, 0x92, 0, 0xc0)
	case "list":
		return list(a.bin(), a.bin(), int32(a.int()), out)
	case "badptr":
		return badPointer(out)
	case "stderr":
		os.Stderr.WriteString(string(a.str()))
		return append(out, 0x92, 0, 0xc0)
	case "exit":
		os.Exit(3)
	case "busy":
		end := time.Now().Add(time.Duration(a.int()) * time.Millisecond)
		for time.Now().Before(end) {
		}
		return append(out, 0x92, 0, 0xc0)
	case "alarm":
		return setAlarm(a.bin(), out)
	case "cancel":
		return cancelAlarm(a.int(), out)
	case "alarms":
		return listAlarms(a.int(), out)
	case "badalarm":
		return badAlarmPointers(out)
	}
	return appendStr(append(out, 0x92, 2), "no handler "+name)
}

// kv stores val under key, reads it back through a buffer too small for it, and
// returns what the second, large enough read returned.
func kv(key, val, out []byte) []byte {
	if rc := hostKVPut(ptr(key), uint32(len(key)), ptr(val), uint32(len(val))); rc != 0 {
		return failed(out)
	}
	small := make([]byte, 1)
	n := hostKVGet(ptr(key), uint32(len(key)), ptr(small), uint32(len(small)))
	switch {
	case n == -1:
		return appendStr(append(out, 0x92, 2), "absent")
	case n < 0:
		return failed(out)
	case int(n) <= len(small):
		return appendBin(append(out, 0x92, 0), small[:n])
	}
	big := make([]byte, n)
	m := hostKVGet(ptr(key), uint32(len(key)), ptr(big), uint32(len(big)))
	if m != n {
		return appendStr(append(out, 0x92, 7), "retry returned another length")
	}
	return appendBin(append(out, 0x92, 0), big)
}

func list(prefix, start []byte, limit int32, out []byte) []byte {
	buf := make([]byte, 2)
	for {
		n := hostKVList(ptr(prefix), uint32(len(prefix)), ptr(start), uint32(len(start)),
			limit, ptr(buf), uint32(len(buf)))
		if n < 0 {
			return failed(out)
		}
		if int(n) <= len(buf) {
			return append(append(out, 0x92, 0), buf[:n]...)
		}
		buf = make([]byte, n)
	}
}

// badPointer hands the host addresses outside memory and returns
// [kv_get result, last_error bytes, log then last_error bytes].
func badPointer(out []byte) []byte {
	rc := rawKVGet(badAddr, 16, 0, 0)
	first := lastError()
	rawLog(0, badAddr, 64)
	second := lastError()
	out = appendInt(append(out, 0x92, 0, 0x93), rc)
	return appendBin(appendBin(out, first), second)
}

// callInts passes its arguments to call_ints: the target's class and id, the
// handler, the continuation's handler and the ints as bins, then the two
// argument counts, the placeholder mask, the timeout and the flags. An ints
// bin of "bad" passes an address outside memory.
func callInts(a *reader, out []byte) []byte {
	class, id, handler, cont, ints := a.bin(), a.bin(), a.bin(), a.bin(), a.bin()
	args, contArgs, placeholders := a.int(), a.int(), a.int()
	timeout, flags := a.int(), a.int()
	at := uint32(uintptr(ptr(ints)))
	if string(ints) == "bad" {
		at = badAddr
	}
	rc := hostCallInts(ptr(class), uint32(len(class)), ptr(id), uint32(len(id)),
		ptr(handler), uint32(len(handler)), ptr(cont), uint32(len(cont)),
		at, int32(args), int32(contArgs), uint64(placeholders), uint64(timeout), int32(flags))
	if rc < 0 {
		return failed(out)
	}
	return appendInt(append(out, 0x92, 0), rc)
}

// failed returns the host's last error as a guest error.
func failed(out []byte) []byte {
	return appendBin(append(out, 0x92, 7), lastError())
}

func lastError() []byte {
	buf := make([]byte, 4)
	for {
		n := hostLastError(ptr(buf), uint32(len(buf)))
		if int(n) <= len(buf) {
			return buf[:n]
		}
		buf = make([]byte, n)
	}
}

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
