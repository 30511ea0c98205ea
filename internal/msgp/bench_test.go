package msgp

import "testing"

// BenchmarkRoundTrip encodes and decodes the values that cross the
// host/guest boundary on every call: an array header, an int, a string and
// a byte slice.
func BenchmarkRoundTrip(b *testing.B) {
	payload := make([]byte, 64)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendArrayHeader(buf[:0], 3)
		buf = AppendInt(buf, 123456)
		buf = AppendString(buf, "double")
		buf = AppendBytes(buf, payload)
		r := NewReader(buf)
		if n, err := r.ReadArrayHeader(); err != nil || n != 3 {
			b.Fatal(n, err)
		}
		if v, err := r.ReadInt(); err != nil || v != 123456 {
			b.Fatal(v, err)
		}
		if s, err := r.ReadStringBytes(); err != nil || string(s) != "double" {
			b.Fatal(err)
		}
		if p, err := r.ReadBytes(); err != nil || len(p) != len(payload) {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendUnmarshal measures the generic Append and Unmarshal on an
// int, the path of a handler's scalar argument or result.
func BenchmarkAppendUnmarshal(b *testing.B) {
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Append(buf[:0], 1<<20); err != nil {
			b.Fatal(err)
		}
		var v int
		if err := Unmarshal(buf, &v); err != nil || v != 1<<20 {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkSkip measures skipping a nested value, as ReadRaw does for the
// arguments of every request.
func BenchmarkSkip(b *testing.B) {
	v := AppendArrayHeader(nil, 3)
	v = AppendInt(v, 7)
	v = AppendMapHeader(v, 2)
	v = AppendString(AppendString(v, "a"), "x")
	v = AppendString(AppendInt(v, 1), "y")
	v = AppendArrayHeader(v, 2)
	v = AppendBool(AppendNil(v), true)
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(v)
		if err := r.Skip(); err != nil || r.Len() != 0 {
			b.Fatal(err)
		}
	}
}
