//go:build wasip1

package guest

import "unsafe"

// wasmHost calls the imports of module "callhost". A string parameter of a
// wasmimport function is passed as two i32 values, its address and length.
type wasmHost struct{}

// hostAPI is the dispatcher's host. In a wasm guest it is the concrete
// wasmHost, so that each import is a direct call the compiler can inline
// rather than an interface call through a wrapper, which costs a wasm guest
// tens of nanoseconds per import.
type hostAPI = wasmHost

var _ hostImports = wasmHost{}

//go:wasmimport callhost call
func importCall(ptr unsafe.Pointer, n uint32) int64

// importCallInts does not keep its arguments, so the strings of a Continuation
// need not escape to the heap.
//
//go:wasmimport callhost call_ints
//go:noescape
func importCallInts(class, id, handler, cont string, ints unsafe.Pointer, args, contArgs int32,
	placeholders, timeoutMS uint64, flags int32) int64

//go:wasmimport callhost kv_get
func importKVGet(key string, dst unsafe.Pointer, dstCap uint32) int64

//go:wasmimport callhost kv_put
func importKVPut(key string, value unsafe.Pointer, n uint32) int32

//go:wasmimport callhost kv_delete
func importKVDelete(key string) int32

//go:wasmimport callhost kv_add
func importKVAdd(key string, delta int64, sum unsafe.Pointer) int32

//go:wasmimport callhost kv_list
func importKVList(prefix string, start unsafe.Pointer, startLen uint32, limit int32,
	dst unsafe.Pointer, dstCap uint32) int64

//go:wasmimport callhost last_error
func importLastError(dst unsafe.Pointer, dstCap uint32) int32

//go:wasmimport callhost log
func importLog(level int32, msg unsafe.Pointer, n uint32)

//go:wasmimport callhost alarm_set
func importAlarmSet(envelope unsafe.Pointer, n uint32) int64

//go:wasmimport callhost alarm_cancel
func importAlarmCancel(id uint64) int32

//go:wasmimport callhost alarm_list
func importAlarmList(dst unsafe.Pointer, dstCap uint32) int64

func ptr(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }

func (wasmHost) call(envelope []byte) int64 {
	return importCall(ptr(envelope), uint32(len(envelope)))
}

func (wasmHost) callInts(class, id, handler, cont string, ints []int64, args, contArgs int32,
	placeholders, timeoutMS uint64, flags int32) int64 {
	return importCallInts(class, id, handler, cont, unsafe.Pointer(unsafe.SliceData(ints)),
		args, contArgs, placeholders, timeoutMS, flags)
}

func (wasmHost) kvGet(key string, dst []byte) int64 {
	return importKVGet(key, ptr(dst), uint32(len(dst)))
}

func (wasmHost) kvPut(key string, value []byte) int32 {
	return importKVPut(key, ptr(value), uint32(len(value)))
}

func (wasmHost) kvDelete(key string) int32 { return importKVDelete(key) }

func (wasmHost) kvAdd(key string, delta int64, sum *int64) int32 {
	return importKVAdd(key, delta, unsafe.Pointer(sum))
}

func (wasmHost) kvList(prefix string, start []byte, limit int32, dst []byte) int64 {
	return importKVList(prefix, ptr(start), uint32(len(start)), limit, ptr(dst), uint32(len(dst)))
}

func (wasmHost) lastError(dst []byte) int32 {
	return importLastError(ptr(dst), uint32(len(dst)))
}

func (wasmHost) log(level int32, msg []byte) {
	importLog(level, ptr(msg), uint32(len(msg)))
}

func (wasmHost) alarmSet(envelope []byte) int64 {
	return importAlarmSet(ptr(envelope), uint32(len(envelope)))
}

func (wasmHost) alarmCancel(id uint64) int32 { return importAlarmCancel(id) }

func (wasmHost) alarmList(dst []byte) int64 { return importAlarmList(ptr(dst), uint32(len(dst))) }
