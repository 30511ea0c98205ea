//go:build wasip1

package main

import "encoding/binary"

// reader decodes the few MessagePack forms this guest needs. Any error sets bad.
type reader struct {
	b   []byte
	off int
	bad bool
}

func (r *reader) next(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.off < n {
		r.bad = true
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *reader) byte() byte {
	p := r.next(1)
	if p == nil {
		return 0xc1
	}
	return p[0]
}

func (r *reader) size(n int) int {
	p := r.next(n)
	switch {
	case p == nil:
		return 0
	case n == 1:
		return int(p[0])
	case n == 2:
		return int(binary.BigEndian.Uint16(p))
	case n == 4:
		return int(binary.BigEndian.Uint32(p))
	}
	return int(binary.BigEndian.Uint64(p))
}

func (r *reader) arrayHeader() int {
	c := r.byte()
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f)
	case c == 0xdc:
		return r.size(2)
	case c == 0xdd:
		return r.size(4)
	}
	r.bad = true
	return 0
}

func (r *reader) int() int64 {
	c := r.byte()
	switch {
	case c <= 0x7f:
		return int64(c)
	case c >= 0xe0:
		return int64(int8(c))
	case c >= 0xcc && c <= 0xcf:
		return int64(r.size(1 << (c - 0xcc)))
	case c == 0xd0:
		return int64(int8(r.size(1)))
	case c == 0xd1:
		return int64(int16(r.size(2)))
	case c == 0xd2:
		return int64(int32(r.size(4)))
	case c == 0xd3:
		return int64(r.size(8))
	}
	r.bad = true
	return 0
}

// str reads a string or binary value.
func (r *reader) str() []byte {
	c := r.byte()
	switch {
	case c >= 0xa0 && c <= 0xbf:
		return r.next(int(c & 0x1f))
	case c == 0xd9 || c == 0xc4:
		return r.next(r.size(1))
	case c == 0xda || c == 0xc5:
		return r.next(r.size(2))
	case c == 0xdb || c == 0xc6:
		return r.next(r.size(4))
	}
	r.bad = true
	return nil
}

func (r *reader) bin() []byte { return r.str() }

// skip reads past one value of any type.
func (r *reader) skip() {
	c := r.byte()
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
	case c <= 0x8f:
		r.skipN(2 * int(c&0x0f))
	case c <= 0x9f:
		r.skipN(int(c & 0x0f))
	case c <= 0xbf:
		r.next(int(c & 0x1f))
	case c == 0xc4 || c == 0xd9:
		r.next(r.size(1))
	case c == 0xc5 || c == 0xda:
		r.next(r.size(2))
	case c == 0xc6 || c == 0xdb:
		r.next(r.size(4))
	case c == 0xc7 || c == 0xc8 || c == 0xc9:
		r.next(r.size(1<<(c-0xc7)) + 1)
	case c == 0xca:
		r.next(4)
	case c == 0xcb:
		r.next(8)
	case c >= 0xcc && c <= 0xcf:
		r.next(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3:
		r.next(1 << (c - 0xd0))
	case c >= 0xd4 && c <= 0xd8:
		r.next(1<<(c-0xd4) + 1)
	case c == 0xdc:
		r.skipN(r.size(2))
	case c == 0xdd:
		r.skipN(r.size(4))
	case c == 0xde:
		r.skipN(2 * r.size(2))
	case c == 0xdf:
		r.skipN(2 * r.size(4))
	default:
		r.bad = true
	}
}

func (r *reader) skipN(n int) {
	for i := 0; i < n && !r.bad; i++ {
		r.skip()
	}
}

func appendArrayHeader(b []byte, n int) []byte {
	if n < 16 {
		return append(b, 0x90|byte(n))
	}
	return binary.BigEndian.AppendUint16(append(b, 0xdc), uint16(n))
}

func appendStr(b []byte, s string) []byte {
	if len(s) < 32 {
		return append(append(b, 0xa0|byte(len(s))), s...)
	}
	return append(binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(len(s))), s...)
}

func appendBin(b, v []byte) []byte {
	return append(binary.BigEndian.AppendUint32(append(b, 0xc6), uint32(len(v))), v...)
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 && v < 128 {
		return append(b, byte(v))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(v))
}
