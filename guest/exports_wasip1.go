//go:build wasip1

package guest

import (
	"fmt"
	"unsafe"

	"github.com/callhost/callhost/internal/abi"
)

// minInput is the initial size of the input buffer.
const minInput = 4096

var (
	defaultDispatcher = newDispatcher(&defaultRegistry, wasmHost{})
	// input is the buffer the host writes requests to.
	input []byte
)

//go:wasmexport callhost_abi_version
func exportABIVersion() int32 { return abi.Version }

// exportBuffer returns the address of an input buffer of at least size
// bytes. It returns the same address while size fits.
//
//go:wasmexport callhost_buffer
func exportBuffer(size int32) uint32 {
	if size < 0 {
		panic(fmt.Sprintf("guest: callhost_buffer called with negative size %d", size))
	}
	if int(size) > len(input) {
		input = make([]byte, max(int(size), minInput))
	}
	return address(input)
}

// exportTurn runs the request in the first n bytes of the input buffer and
// returns the response's address in the high 32 bits and its length in the
// low 32 bits. A handler panic is not recovered: it traps the instance, and
// the host discards it.
//
//go:wasmexport callhost_turn
func exportTurn(n int32) uint64 {
	out := defaultDispatcher.turn(input[:n])
	return uint64(address(out))<<32 | uint64(len(out))
}

// address returns the linear-memory address of b's first element; wasm
// pointers are 32 bits.
func address(b []byte) uint32 { return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }
