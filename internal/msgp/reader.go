package msgp

import (
	"errors"
	"fmt"
	"math"
)

// MaxDepth is the deepest nesting of arrays and maps that [Reader.Skip] accepts.
const MaxDepth = 64

var (
	// ErrShort reports input that ends in the middle of a value.
	ErrShort = errors.New("msgpack: unexpected end of input")
	// ErrTooDeep reports nesting deeper than [MaxDepth].
	ErrTooDeep = fmt.Errorf("msgpack: nesting deeper than %d levels", MaxDepth)
)

// Type is the family of a MessagePack value.
type Type uint8

// Value families reported by [Reader.NextType].
const (
	TypeInvalid Type = iota
	TypeNil
	TypeBool
	TypeInt
	TypeUint
	TypeFloat
	TypeString
	TypeBinary
	TypeArray
	TypeMap
	TypeExt
)

// TypeError reports a value of an unexpected type.
type TypeError struct {
	Want string
	Got  byte
}

func (e *TypeError) Error() string {
	return fmt.Sprintf("msgpack: expected %s, got %s (format byte 0x%02x)",
		e.Want, typeOf(e.Got), e.Got)
}

var typeNames = [...]string{
	TypeInvalid: "an invalid format byte",
	TypeNil:     "nil",
	TypeBool:    "a boolean",
	TypeInt:     "an integer",
	TypeUint:    "an integer",
	TypeFloat:   "a float",
	TypeString:  "a string",
	TypeBinary:  "binary data",
	TypeArray:   "an array",
	TypeMap:     "a map",
	TypeExt:     "an extension value",
}

// String returns the name of the family, with an article, for messages.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "an unknown type"
}

// Reader reads values from a byte slice without copying. Slices it returns alias
// the input.
type Reader struct {
	buf []byte
	off int
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{buf: b} }

// Reset points r at b.
func (r *Reader) Reset(b []byte) { r.buf, r.off = b, 0 }

// Len returns the number of unread bytes.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// Offset returns the number of bytes read so far.
func (r *Reader) Offset() int { return r.off }

func (r *Reader) need(n int) ([]byte, error) {
	if n < 0 || len(r.buf)-r.off < n {
		return nil, ErrShort
	}
	p := r.buf[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *Reader) peek() (byte, error) {
	if r.off >= len(r.buf) {
		return 0, ErrShort
	}
	return r.buf[r.off], nil
}

// NextType returns the family of the next value without consuming it.
func (r *Reader) NextType() Type {
	c, err := r.peek()
	if err != nil {
		return TypeInvalid
	}
	return typeOf(c)
}

func typeOf(c byte) Type {
	switch {
	case c <= 0x7f, c >= 0xe0:
		return TypeInt
	case c <= 0x8f:
		return TypeMap
	case c <= 0x9f:
		return TypeArray
	case c <= 0xbf:
		return TypeString
	}
	switch c {
	case 0xc0:
		return TypeNil
	case 0xc2, 0xc3:
		return TypeBool
	case 0xc4, 0xc5, 0xc6:
		return TypeBinary
	case 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		return TypeExt
	case 0xca, 0xcb:
		return TypeFloat
	case 0xcc, 0xcd, 0xce, 0xcf:
		return TypeUint
	case 0xd0, 0xd1, 0xd2, 0xd3:
		return TypeInt
	case 0xd9, 0xda, 0xdb:
		return TypeString
	case 0xdc, 0xdd:
		return TypeArray
	case 0xde, 0xdf:
		return TypeMap
	}
	return TypeInvalid
}

// IsNil consumes a nil and reports true, or consumes nothing and reports false.
func (r *Reader) IsNil() bool {
	if c, err := r.peek(); err == nil && c == 0xc0 {
		r.off++
		return true
	}
	return false
}

func (r *Reader) uintN(n int) (uint64, error) {
	if n < 0 || len(r.buf)-r.off < n {
		return 0, ErrShort
	}
	// A loop rather than a switch over binary.BigEndian keeps uintN small
	// enough to inline.
	var v uint64
	for _, b := range r.buf[r.off : r.off+n] {
		v = v<<8 | uint64(b)
	}
	r.off += n
	return v, nil
}

// The Try methods read the one-byte form of a value, the usual form in
// envelopes, and report false, consuming nothing, for any other form or a
// short input. Each is small enough to inline, which saves a wasm guest a
// function call per value. The Read methods are too large to inline.

// TryInt reads a positive or negative fixint.
func (r *Reader) TryInt() (int64, bool) {
	if off := r.off; off < len(r.buf) && int8(r.buf[off]) >= -32 {
		r.off = off + 1
		return int64(int8(r.buf[off])), true
	}
	return 0, false
}

// TryUint32 reads an integer in the uint32 form, the form of integers from
// 65536 to 2^32-1.
func (r *Reader) TryUint32() (int64, bool) {
	off := r.off
	if len(r.buf)-off < 5 || r.buf[off] != 0xce {
		return 0, false
	}
	b := r.buf[off+1 : off+5]
	r.off = off + 5
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]), true
}

// TryArrayHeader reads a fixarray header.
func (r *Reader) TryArrayHeader() (int, bool) {
	if off := r.off; off < len(r.buf) && r.buf[off]&0xf0 == 0x90 {
		r.off = off + 1
		return int(r.buf[off] & 0x0f), true
	}
	return 0, false
}

// TryStringBytes reads a fixstr and returns its bytes without copying.
func (r *Reader) TryStringBytes() ([]byte, bool) {
	off := r.off
	if off >= len(r.buf) || r.buf[off]&0xe0 != 0xa0 {
		return nil, false
	}
	end := off + 1 + int(r.buf[off]&0x1f)
	if end > len(r.buf) {
		return nil, false
	}
	r.off = end
	return r.buf[off+1 : end], true
}

// ReadBool reads a boolean.
func (r *Reader) ReadBool() (bool, error) {
	c, err := r.peek()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc2:
		r.off++
		return false, nil
	case 0xc3:
		r.off++
		return true, nil
	}
	return false, &TypeError{"bool", c}
}

// ReadInt reads any integer that fits in an int64. On an error it consumes
// nothing.
//
// It reads each width without a loop, because an instrumented wasm guest
// pays an interrupt check per loop iteration, and the guest SDK decodes with
// ReadInt the integers that TryInt and TryUint32 leave to it.
func (r *Reader) ReadInt() (int64, error) {
	b := r.buf[r.off:]
	if len(b) == 0 {
		return 0, ErrShort
	}
	c := b[0]
	if c <= 0x7f || c >= 0xe0 {
		r.off++
		return int64(int8(c)), nil
	}
	var n int
	switch c {
	case 0xcc, 0xd0:
		n = 1
	case 0xcd, 0xd1:
		n = 2
	case 0xce, 0xd2:
		n = 4
	case 0xcf, 0xd3:
		n = 8
	default:
		return 0, &TypeError{"integer", c}
	}
	if len(b) <= n {
		return 0, ErrShort
	}
	var v uint64
	switch n {
	case 1:
		v = uint64(b[1])
	case 2:
		v = uint64(b[1])<<8 | uint64(b[2])
	case 4:
		v = uint64(b[1])<<24 | uint64(b[2])<<16 | uint64(b[3])<<8 | uint64(b[4])
	default:
		v = uint64(b[1])<<56 | uint64(b[2])<<48 | uint64(b[3])<<40 | uint64(b[4])<<32 |
			uint64(b[5])<<24 | uint64(b[6])<<16 | uint64(b[7])<<8 | uint64(b[8])
	}
	if c >= 0xd0 {
		// Sign-extend the n-byte two's complement value.
		shift := 64 - 8*n
		r.off += 1 + n
		return int64(v<<shift) >> shift, nil
	}
	if v > math.MaxInt64 {
		return 0, fmt.Errorf("msgpack: integer %d overflows int64", v)
	}
	r.off += 1 + n
	return int64(v), nil
}

// ReadUint reads a non-negative integer.
func (r *Reader) ReadUint() (uint64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	if c >= 0xcc && c <= 0xcf {
		r.off++
		return r.uintN(1 << (c - 0xcc))
	}
	v, err := r.ReadInt()
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("msgpack: negative integer %d for unsigned value", v)
	}
	return uint64(v), nil
}

// ReadFloat64 reads a float or an integer as a float64.
func (r *Reader) ReadFloat64() (float64, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xca:
		r.off++
		v, err := r.uintN(4)
		return float64(math.Float32frombits(uint32(v))), err
	case 0xcb:
		r.off++
		v, err := r.uintN(8)
		return math.Float64frombits(v), err
	}
	if t := typeOf(c); t == TypeUint {
		v, err := r.ReadUint()
		return float64(v), err
	}
	v, err := r.ReadInt()
	return float64(v), err
}

// ReadStringBytes reads a string and returns its bytes without copying.
func (r *Reader) ReadStringBytes() ([]byte, error) {
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		r.off++
		n = uint64(c & 0x1f)
	case c == 0xd9 || c == 0xda || c == 0xdb:
		r.off++
		if n, err = r.uintN(1 << (c - 0xd9)); err != nil {
			return nil, err
		}
	default:
		return nil, &TypeError{"string", c}
	}
	return r.need(int(n))
}

// ReadString reads a string.
func (r *Reader) ReadString() (string, error) {
	p, err := r.ReadStringBytes()
	return string(p), err
}

// ReadBytes reads binary data, or a string, without copying.
func (r *Reader) ReadBytes() ([]byte, error) {
	c, err := r.peek()
	if err != nil {
		return nil, err
	}
	if c < 0xc4 || c > 0xc6 {
		if typeOf(c) == TypeString {
			return r.ReadStringBytes()
		}
		return nil, &TypeError{"binary", c}
	}
	r.off++
	n, err := r.uintN(1 << (c - 0xc4))
	if err != nil {
		return nil, err
	}
	return r.need(int(n))
}

// ReadArrayHeader reads the header of an array and returns its length.
func (r *Reader) ReadArrayHeader() (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch {
	case c >= 0x90 && c <= 0x9f:
		r.off++
		return int(c & 0x0f), nil
	case c == 0xdc || c == 0xdd:
		r.off++
		n, err := r.uintN(2 << (c - 0xdc))
		return r.checkCount(n, 1, err)
	}
	return 0, &TypeError{"array", c}
}

// ReadMapHeader reads the header of a map and returns its number of pairs.
func (r *Reader) ReadMapHeader() (int, error) {
	c, err := r.peek()
	if err != nil {
		return 0, err
	}
	switch {
	case c >= 0x80 && c <= 0x8f:
		r.off++
		return int(c & 0x0f), nil
	case c == 0xde || c == 0xdf:
		r.off++
		n, err := r.uintN(2 << (c - 0xde))
		return r.checkCount(n, 2, err)
	}
	return 0, &TypeError{"map", c}
}

// checkCount rejects element counts that the remaining input cannot hold, so a
// forged header never makes a caller allocate for elements that are not there.
func (r *Reader) checkCount(n uint64, perElement int, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	if n*uint64(perElement) > uint64(r.Len()) {
		return 0, ErrShort
	}
	return int(n), nil
}

// ReadExtHeader reads the header of an extension value and returns its type and
// payload length. The payload follows.
func (r *Reader) ReadExtHeader() (typ int8, n int, err error) {
	c, err := r.peek()
	if err != nil {
		return 0, 0, err
	}
	var size uint64
	switch c {
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8:
		r.off++
		size = 1 << (c - 0xd4)
	case 0xc7, 0xc8, 0xc9:
		r.off++
		if size, err = r.uintN(1 << (c - 0xc7)); err != nil {
			return 0, 0, err
		}
	default:
		return 0, 0, &TypeError{"extension", c}
	}
	t, err := r.need(1)
	if err != nil {
		return 0, 0, err
	}
	if size > uint64(r.Len()) {
		return 0, 0, ErrShort
	}
	return int8(t[0]), int(size), nil
}

// ReadExt reads an extension value and returns its type and payload.
func (r *Reader) ReadExt() (int8, []byte, error) {
	typ, n, err := r.ReadExtHeader()
	if err != nil {
		return 0, nil, err
	}
	p, err := r.need(n)
	return typ, p, err
}

// ReadRaw reads the next value and returns its encoded bytes.
func (r *Reader) ReadRaw() ([]byte, error) {
	start := r.off
	if err := r.Skip(); err != nil {
		return nil, err
	}
	return r.buf[start:r.off], nil
}

// Skip reads past the next value, which may nest at most [MaxDepth] levels.
func (r *Reader) Skip() error { return r.skip(0) }

func (r *Reader) skip(depth int) error {
	if depth > MaxDepth {
		return ErrTooDeep
	}
	c, err := r.peek()
	if err != nil {
		return err
	}
	switch typeOf(c) {
	case TypeArray:
		n, err := r.ReadArrayHeader()
		return r.skipN(n, depth, err)
	case TypeMap:
		n, err := r.ReadMapHeader()
		return r.skipN(2*n, depth, err)
	case TypeExt:
		_, _, err := r.ReadExt()
		return err
	case TypeString, TypeBinary:
		_, err := r.ReadBytes()
		return err
	case TypeNil, TypeBool:
		r.off++
		return nil
	case TypeFloat:
		_, err := r.ReadFloat64()
		return err
	case TypeUint:
		_, err := r.ReadUint()
		return err
	case TypeInt:
		_, err := r.ReadInt()
		return err
	}
	return &TypeError{"a value", c}
}

func (r *Reader) skipN(n, depth int, err error) error {
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if err := r.skip(depth + 1); err != nil {
			return err
		}
	}
	return nil
}
