//go:build !linux && !darwin

package host

import "github.com/tetratelabs/wazero/experimental"

// allocateMemory returns a linear memory in a Go slice: this system has no
// reservation of address space in package syscall.
func allocateMemory(capacity, max uint64) experimental.LinearMemory {
	return &sliceMemory{buf: make([]byte, 0, capacity)}
}
