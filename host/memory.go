package host

import (
	"context"

	"github.com/tetratelabs/wazero/experimental"
)

// withMemoryAllocator returns ctx with the allocator of the guests' linear
// memories, for InstantiateModule.
func withMemoryAllocator(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx,
		experimental.MemoryAllocatorFunc(allocateMemory))
}

// sliceMemory is a linear memory in a Go slice, grown as wazero grows a
// memory without an allocator: each growth copies the memory to a larger
// slice.
type sliceMemory struct {
	buf []byte
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	m.buf = append(m.buf, make([]byte, size-uint64(len(m.buf)))...)
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }
