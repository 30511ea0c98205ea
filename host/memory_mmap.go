//go:build linux || darwin

package host

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// mappedMemory is a linear memory in an anonymous mapping that reserves the
// memory's max size up front, without access. Growing it makes more of the
// mapping readable and writable in place, so nothing is copied, the kernel
// provides the new pages zeroed on first touch, and pages that the guest
// never touches take no physical memory. Free unmaps it at once instead of
// leaving it to the garbage collector.
//
// Without it, wazero v1.12.0 grows a memory by appending to a Go slice, so
// every growth allocates and copies. A guest that grows its memory to its
// limit of 128 MiB in steps of 16 MiB cost 380 ms of host CPU that way and
// 10 ms with mappedMemory (the soak test's memory bomb, on 2 CPUs).
type mappedMemory struct {
	mapping   []byte // the whole reservation
	committed uint64 // bytes at the start of mapping that are accessible
}

// allocateMemory returns a linear memory of at most max bytes. It falls back
// to a Go slice when the reservation fails or max is 0.
func allocateMemory(capacity, max uint64) experimental.LinearMemory {
	if max == 0 {
		return &sliceMemory{buf: make([]byte, 0, capacity)}
	}
	mapping, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_NONE,
		syscall.MAP_PRIVATE|syscall.MAP_ANON|syscall.MAP_NORESERVE)
	if err != nil {
		return &sliceMemory{buf: make([]byte, 0, capacity)}
	}
	return &mappedMemory{mapping: mapping}
}

// Reallocate makes the first size bytes accessible and returns them, or
// returns nil when size exceeds the reservation or the kernel refuses the
// access change, which makes the guest's memory.grow fail.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.mapping)) {
		return nil
	}
	if size > m.committed {
		if err := syscall.Mprotect(m.mapping[m.committed:size],
			syscall.PROT_READ|syscall.PROT_WRITE); err != nil {
			return nil
		}
		m.committed = size
	}
	return m.mapping[:size:size]
}

// Free unmaps the memory. The memory must not be used afterwards.
func (m *mappedMemory) Free() {
	if m.mapping == nil {
		return
	}
	// Munmap fails only for a range that is not a mapping, and this one is.
	_ = syscall.Munmap(m.mapping)
	m.mapping, m.committed = nil, 0
}
