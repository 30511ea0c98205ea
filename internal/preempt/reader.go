package preempt

import (
	"fmt"
)

// reader decodes the primitive values of the WebAssembly binary format from
// buf. Offsets in its errors are absolute positions in the module, so that
// they can be looked up in a hex dump or in wasm-objdump output. The field
// argument of its methods names the value for error messages.
type reader struct {
	buf  []byte
	pos  int
	base int // offset of buf[0] in the module
}

func newReader(buf []byte, base int) *reader {
	return &reader{buf: buf, base: base}
}

// offset returns the position of the next unread byte in the module.
func (r *reader) offset() int { return r.base + r.pos }

func (r *reader) remaining() int { return len(r.buf) - r.pos }

func (r *reader) done() bool { return r.pos == len(r.buf) }

// errorf returns an error for the item at offset at in the module.
func (r *reader) errorf(at int, format string, args ...any) error {
	return fmt.Errorf("offset 0x%x: %s", at, fmt.Sprintf(format, args...))
}

func (r *reader) readByte(field string) (byte, error) {
	if r.pos >= len(r.buf) {
		return 0, r.errorf(r.offset(), "truncated %s", field)
	}
	b := r.buf[r.pos]
	r.pos++
	return b, nil
}

// readBytes returns the next n bytes without copying them.
func (r *reader) readBytes(n int, field string) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, r.errorf(r.offset(), "truncated %s: %d bytes expected, %d remaining",
			field, n, r.remaining())
	}
	b := r.buf[r.pos : r.pos+n]
	r.pos += n
	return b, nil
}

func (r *reader) skip(n int, field string) error {
	_, err := r.readBytes(n, field)
	return err
}

// readLEB decodes a LEB128 integer of the given width in bits. It rejects an
// encoding longer than ceil(bits/7) bytes and, as the binary format requires,
// a final byte whose unused high bits are not all zero (unsigned) or not all
// copies of the sign bit (signed). A signed result is sign-extended to 64 bits.
func (r *reader) readLEB(bits uint, signed bool, field string) (uint64, error) {
	start := r.offset()
	maxBytes := int((bits + 6) / 7)
	var value uint64
	var shift uint
	for i := 0; ; i++ {
		if r.pos >= len(r.buf) {
			return 0, r.errorf(start, "truncated %s", field)
		}
		b := r.buf[r.pos]
		r.pos++
		value |= uint64(b&0x7f) << shift
		shift += 7
		if i == maxBytes-1 {
			// The final permitted byte: no continuation, and the bits beyond
			// the integer's width must be padding.
			if b&0x80 != 0 {
				return 0, r.errorf(start, "invalid %s: LEB128 encoding longer than %d bytes", field, maxBytes)
			}
			valueBits := bits - 7*uint(maxBytes-1) // bits of the integer in this byte
			if signed {
				padding := (b & 0x7f) >> (valueBits - 1) // sign bit and the bits above it
				if padding != 0 && padding != 0x7f>>(valueBits-1) {
					return 0, r.errorf(start, "invalid %s: signed LEB128 value out of range for %d bits", field, bits)
				}
			} else if (b&0x7f)>>valueBits != 0 {
				return 0, r.errorf(start, "invalid %s: LEB128 value out of range for %d bits", field, bits)
			}
		}
		if b&0x80 == 0 {
			if signed && shift < 64 && b&0x40 != 0 {
				value |= ^uint64(0) << shift
			}
			return value, nil
		}
	}
}

// skipLEB skips a LEB128 integer of at most maxBytes bytes without decoding
// it. It serves the constant immediates of i32.const and i64.const, whose
// value Instrument does not need. The unused bits of the final byte are not
// checked, because wazero v1.12.0 accepts some final bytes that the binary
// format rejects, and a module that wazero runs must not be rejected here.
func (r *reader) skipLEB(maxBytes int, field string) error {
	start := r.offset()
	for i := range maxBytes {
		if r.pos >= len(r.buf) {
			return r.errorf(start, "truncated %s", field)
		}
		b := r.buf[r.pos]
		r.pos++
		if b&0x80 == 0 {
			return nil
		}
		if i == maxBytes-1 {
			break
		}
	}
	return r.errorf(start, "invalid %s: LEB128 encoding longer than %d bytes", field, maxBytes)
}

func (r *reader) readU32(field string) (uint32, error) {
	v, err := r.readLEB(32, false, field)
	return uint32(v), err
}

func (r *reader) readU64(field string) (uint64, error) {
	return r.readLEB(64, false, field)
}

func (r *reader) readS33(field string) (int64, error) {
	v, err := r.readLEB(33, true, field)
	return int64(v), err
}

// readCount reads a vector length and rejects it unless at least minSize
// bytes per element remain, so that no loop or allocation is sized by a
// count that the input cannot back.
func (r *reader) readCount(minSize int, field string) (uint32, error) {
	start := r.offset()
	n, err := r.readU32(field)
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(r.remaining()) {
		return 0, r.errorf(start, "%s %d needs at least %d bytes, but %d remain",
			field, n, uint64(n)*uint64(minSize), r.remaining())
	}
	return n, nil
}

// readName skips a name (a length-prefixed byte string) and returns it
// without copying.
func (r *reader) readName(field string) ([]byte, error) {
	n, err := r.readCount(1, field+" length")
	if err != nil {
		return nil, err
	}
	return r.readBytes(int(n), field)
}

// Value type encodings. A reference type with a heap type operand starts
// with refNullPrefix or refPrefix.
const (
	typeI32       = 0x7f
	typeI64       = 0x7e
	typeF32       = 0x7d
	typeF64       = 0x7c
	typeV128      = 0x7b
	typeFuncref   = 0x70
	typeExternref = 0x6f
	typeExnref    = 0x69
	refNullPrefix = 0x63 // (ref null ht)
	refPrefix     = 0x64 // (ref ht)
	emptyBlock    = 0x40
)

// Abstract heap types as the signed values of their one-byte s33 encodings
// (0x70 func, 0x6f extern, 0x69 exn).
const (
	heapFunc   = int64(typeFuncref) - 0x80
	heapExtern = int64(typeExternref) - 0x80
	heapExn    = int64(typeExnref) - 0x80
)

// readValueType skips a value type: a number type, v128, a short reference
// type, or (ref null? ht) from the typed function references proposal.
func (r *reader) readValueType() error {
	start := r.offset()
	b, err := r.readByte("value type")
	if err != nil {
		return err
	}
	switch b {
	case typeI32, typeI64, typeF32, typeF64, typeV128, typeFuncref, typeExternref, typeExnref:
		return nil
	case refNullPrefix, refPrefix:
		return r.readHeapType()
	}
	return r.errorf(start, "unknown value type 0x%02x", b)
}

// readHeapType skips a heap type: an abstract heap type or a type index,
// encoded as s33.
func (r *reader) readHeapType() error {
	start := r.offset()
	v, err := r.readS33("heap type")
	if err != nil {
		return err
	}
	if v >= 0 {
		return nil
	}
	switch v {
	case heapFunc, heapExtern, heapExn:
		return nil
	}
	return r.errorf(start, "unknown heap type %d", v)
}

// readBlockType skips a block type: empty (0x40), one value type, or a type
// index as a non-negative s33. It decodes the s33 first and then classifies
// the value, as wazero v1.12.0 does, so that a value type in a multi-byte
// s33 encoding ends the immediate where wazero ends it.
func (r *reader) readBlockType() error {
	start := r.offset()
	v, err := r.readS33("block type")
	if err != nil {
		return err
	}
	if v >= 0 {
		return nil // type index
	}
	if v < -0x40 {
		return r.errorf(start, "invalid block type %d", v)
	}
	// v is in [-64, -1], so v+0x80 is the one-byte encoding of the same value.
	switch byte(v + 0x80) {
	case emptyBlock, typeI32, typeI64, typeF32, typeF64, typeV128, typeFuncref, typeExternref, typeExnref:
		return nil
	case refNullPrefix, refPrefix:
		return r.readHeapType()
	}
	return r.errorf(start, "invalid block type 0x%02x", byte(v+0x80))
}

// appendU32 appends the shortest LEB128 encoding of v.
func appendU32(out []byte, v uint32) []byte {
	for v >= 0x80 {
		out = append(out, byte(v)|0x80)
		v >>= 7
	}
	return append(out, byte(v))
}

// appendS32 appends v in signed LEB128.
func appendS32(out []byte, v int32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
