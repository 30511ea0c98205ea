package guest

import "unsafe"

// intBlock is the number of ints in each block that Ctx.Int boxes into. It
// is a power of two, for the mask in intBoxes.box.
const intBlock = 256

// Int returns n as an argument value for [Op], [Then] and [ThenOn]: the same
// value as any(n), of dynamic type int.
//
// Converting an int outside 0 to 255 to any allocates 8 bytes. In a wasm
// guest that allocation took about 0.4 us in the call-delay benchmark, a
// fifth of the guest's cost of a call. Int instead stores n in a block of
// 256 ints, so it allocates once per 256 values. It is small enough for the
// compiler to inline (cost 65 of 80 with Go 1.26). A stored value is never
// overwritten, so it stays valid for as long as anything refers to it, like
// any other interface value. A value kept that long keeps its whole block
// in memory. Int may be called at any time, also after the turn has
// ended.
func (c *Ctx) Int(n int) any {
	if n >= 0 && n < 256 {
		return n // the Go runtime boxes these without allocating
	}
	return c.d.ints.box(n)
}

// intBoxes hands out interface values whose data lives in shared blocks.
type intBoxes struct {
	base *int // first value of the current block, which fills from its end
	free int  // number of unused values at the start of the block
}

// eface is the layout of an interface value of type any: its dynamic type
// and a pointer to its data.
type eface struct {
	typ  unsafe.Pointer
	data unsafe.Pointer
}

// intType is the dynamic type word of an int stored in an any.
var intType = func() unsafe.Pointer {
	var v any = 0
	return (*eface)(unsafe.Pointer(&v)).typ
}()

// box stores n in the current block and returns an any of type int that
// points to it.
func (b *intBoxes) box(n int) any {
	if b.free <= 0 {
		b.base = &make([]int, intBlock)[0]
		b.free = intBlock
	}
	b.free--
	// The mask keeps the slot inside the block even if a Ctx is misused
	// from two goroutines at once and free goes below 0.
	p := unsafe.Add(unsafe.Pointer(b.base), uintptr(b.free&(intBlock-1))*unsafe.Sizeof(n))
	*(*int)(p) = n
	return *(*any)(unsafe.Pointer(&eface{intType, p}))
}
