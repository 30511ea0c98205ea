package host

import (
	"bytes"
	"testing"
)

const wasmPage = 64 << 10

func TestLinearMemoryGrowsInPlace(t *testing.T) {
	max := uint64(16 * wasmPage)
	m := allocateMemory(0, max)
	defer m.Free()
	var first *byte
	previous := 0
	for pages := uint64(1); pages <= 16; pages *= 2 {
		buf := m.Reallocate(pages * wasmPage)
		if uint64(len(buf)) != pages*wasmPage {
			t.Fatalf("Reallocate(%d pages) returned %d bytes", pages, len(buf))
		}
		if first == nil {
			first = &buf[0]
		}
		if _, mapped := m.(*mappedMemory); mapped && &buf[0] != first {
			t.Errorf("Reallocate(%d pages) moved the memory", pages)
		}
		added := buf[previous:]
		if !bytes.Equal(added, make([]byte, len(added))) {
			t.Errorf("Reallocate(%d pages): the added bytes are not zero", pages)
		}
		// Every added byte must be writable.
		for i := range added {
			added[i] = byte(pages)
		}
		if buf[0] != 1 {
			t.Errorf("Reallocate(%d pages) lost the first page's content: %d", pages, buf[0])
		}
		previous = len(buf)
	}
}

func TestLinearMemoryBeyondMax(t *testing.T) {
	m := allocateMemory(0, 2*wasmPage)
	defer m.Free()
	if buf := m.Reallocate(2 * wasmPage); len(buf) != 2*wasmPage {
		t.Fatalf("Reallocate(max) returned %d bytes", len(buf))
	}
	if buf := m.Reallocate(3 * wasmPage); buf != nil {
		t.Errorf("Reallocate(max + 1 page) returned %d bytes, want nil", len(buf))
	}
}

func TestLinearMemoryWithoutMax(t *testing.T) {
	m := allocateMemory(0, 0)
	defer m.Free()
	if buf := m.Reallocate(0); len(buf) != 0 {
		t.Errorf("Reallocate(0) returned %d bytes", len(buf))
	}
}
