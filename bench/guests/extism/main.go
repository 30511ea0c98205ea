//go:build wasip1

// Command extism is the Extism plugin of the call-delay benchmark. It does
// the same work as the "double" handler of the callhost guest: it reads an
// integer n and returns 2n.
//
// It uses no plugin development kit. It imports the functions of the Extism
// kernel from module "extism:host/env" directly, as the Extism ABI defines
// them: the input is read through input_length and input_load_u64, and
// the output is written to memory the kernel allocates (alloc, store_u64,
// store_u8) and handed over with output_set. Offsets and lengths are i64.
//
// Input and output are 8-byte little-endian integers.
package main

func main() {}

//go:wasmimport extism:host/env input_length
func inputLength() uint64

//go:wasmimport extism:host/env input_load_u64
func inputLoadU64(offset uint64) uint64

//go:wasmimport extism:host/env alloc
func alloc(n uint64) uint64

//go:wasmimport extism:host/env store_u64
func storeU64(offset, v uint64)

//go:wasmimport extism:host/env store_u8
func storeU8(offset uint64, v uint32)

//go:wasmimport extism:host/env output_set
func outputSet(offset, n uint64)

//go:wasmimport extism:host/env error_set
func errorSet(offset uint64)

// Status codes of a plugin function: 0 is success.
const (
	statusOK      = 0
	statusBadSize = 1
)

// double returns 2n for the 8-byte integer n in the input.
//
//go:wasmexport double
func double() int32 {
	if inputLength() != 8 {
		setError("double: input must be 8 bytes")
		return statusBadSize
	}
	n := int64(inputLoadU64(0))
	out := alloc(8)
	storeU64(out, uint64(2*n))
	outputSet(out, 8)
	return statusOK
}

// setError hands msg to the kernel as the call's error message.
func setError(msg string) {
	off := alloc(uint64(len(msg)))
	for i := 0; i < len(msg); i++ {
		storeU8(off+uint64(i), uint32(msg[i]))
	}
	errorSet(off)
}
