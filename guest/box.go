package guest

import "unsafe"

// intBlock is the number of ints in each block that Ctx.Int boxes into.
const intBlock = 256

// Int returns n as an argument value for [Op], [Then] and [ThenOn]: the same
// value as any(n), of dynamic type int.
//
// Converting an int outside 0 to 255 to any allocates 8 bytes. In a wasm
// guest that allocation took about 0.4 us in the call-delay benchmark, a
// fifth of the guest's cost of a call. Int instead stores n in a block of 256
// ints, so it allocates once per 256 values. A stored value is never
// overwritten, so it stays valid for as long as anything refers to it, like
// any other interface value. A value kept that long keeps its whole 2 KiB
// block in memory. Int may be called at any time, also after the turn has
// ended.
func (c *Ctx) Int(n int) any {
	if n >= 0 && n < 256 {
		return n // the Go runtime boxes these without allocating
	}
	return c.d.ints.box(n)
}

// intBoxes hands out interface values whose data lives in shared blocks.
type intBoxes struct {
	block []int // current block; its length is the number of values used
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
	if len(b.block) == cap(b.block) {
		b.block = make([]int, 0, intBlock)
	}
	b.block = append(b.block, n)
	var v any
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = intType, unsafe.Pointer(&b.block[len(b.block)-1])
	return v
}
