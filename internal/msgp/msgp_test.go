package msgp

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestAppendMatchesReferenceEncoder(t *testing.T) {
	values := []any{
		nil, true, false, 0, 1, 127, 128, 255, 256, 65535, 65536, math.MaxInt64,
		-1, -32, -33, -128, -129, -32768, -32769, math.MinInt64,
		uint64(math.MaxUint64), 1.5, "", "short", string(bytes.Repeat([]byte("x"), 40)),
		string(bytes.Repeat([]byte("y"), 300)), string(bytes.Repeat([]byte("z"), 70000)),
		[]byte{}, []byte("bin"), []any{1, "a", nil}, []string{"a", "b"}, []int{1, 2},
	}
	for _, v := range values {
		got, err := Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", v, err)
		}
		var back any
		if err := msgpack.Unmarshal(got, &back); err != nil {
			t.Fatalf("reference decoder rejects encoding of %T %v: %v", v, v, err)
		}
		want, _ := msgpack.Marshal(v)
		var wantBack any
		_ = msgpack.Unmarshal(want, &wantBack)
		if !reflect.DeepEqual(back, wantBack) {
			t.Errorf("%T %v: decoded %v, reference %v", v, v, back, wantBack)
		}
	}
}

func TestMapRoundTrip(t *testing.T) {
	in := map[string]any{"a": 1, "b": []any{"x", true}}
	b, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out["a"] != int8(1) || len(out["b"].([]any)) != 2 {
		t.Fatalf("round trip = %v", out)
	}
}

func TestUnmarshalFastPaths(t *testing.T) {
	var i int
	var s string
	var f float64
	var u uint64
	var bs []byte
	var ok bool
	cases := []struct {
		in   any
		into any
		want any
	}{
		{-5, &i, -5},
		{"hello", &s, "hello"},
		{2.5, &f, 2.5},
		{7, &f, 7.0},
		{uint64(math.MaxUint64), &u, uint64(math.MaxUint64)},
		{[]byte("ab"), &bs, []byte("ab")},
		{true, &ok, true},
	}
	for _, tc := range cases {
		b, _ := Marshal(tc.in)
		if err := Unmarshal(b, tc.into); err != nil {
			t.Fatalf("Unmarshal(%v) into %T: %v", tc.in, tc.into, err)
		}
		got := reflect.ValueOf(tc.into).Elem().Interface()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Unmarshal(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestUnmarshalRejectsTrailingBytes(t *testing.T) {
	var i int
	if err := Unmarshal([]byte{0x01, 0x02}, &i); err == nil {
		t.Fatal("Unmarshal accepted two values as one")
	}
}

func TestUnmarshalTypeMismatch(t *testing.T) {
	var i int
	err := Unmarshal([]byte{0xa1, 'x'}, &i)
	var te *TypeError
	if !errors.As(err, &te) {
		t.Fatalf("error = %v, want *TypeError", err)
	}
}

func TestReaderShortInput(t *testing.T) {
	inputs := [][]byte{
		{}, {0xcd, 0x01}, {0xa5, 'a'}, {0xc4, 0x05, 1}, {0x92, 0x01},
		{0xdd, 0xff, 0xff, 0xff, 0xff}, {0xc7, 0x05, 0x01}, {0xdf, 0, 0, 0, 9},
	}
	for _, in := range inputs {
		r := NewReader(in)
		if err := r.Skip(); err == nil {
			t.Errorf("Skip(% x) succeeded on truncated input", in)
		}
	}
}

func TestReaderForgedLengthDoesNotAllocate(t *testing.T) {
	r := NewReader([]byte{0xdd, 0x7f, 0xff, 0xff, 0xff})
	if _, err := r.ReadArrayHeader(); !errors.Is(err, ErrShort) {
		t.Fatalf("ReadArrayHeader on a forged length: %v, want ErrShort", err)
	}
}

func TestSkipDepthLimit(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, MaxDepth+5)
	deep = append(deep, 0x00)
	r := NewReader(deep)
	if err := r.Skip(); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("Skip of %d nested arrays: %v, want ErrTooDeep", MaxDepth+5, err)
	}
}

func TestExtFormats(t *testing.T) {
	for _, n := range []int{0, 1, 2, 4, 8, 16, 300, 70000} {
		payload := bytes.Repeat([]byte{7}, n)
		b := AppendExt(nil, 3, payload)
		r := NewReader(b)
		typ, got, err := r.ReadExt()
		if err != nil || typ != 3 || !bytes.Equal(got, payload) {
			t.Fatalf("ext of %d bytes: type %d, %d bytes, %v", n, typ, len(got), err)
		}
	}
	// fixext 1 as written by other encoders
	r := NewReader([]byte{0xd4, 0x02, 0x09})
	typ, got, err := r.ReadExt()
	if err != nil || typ != 2 || !bytes.Equal(got, []byte{9}) {
		t.Fatalf("fixext1: type %d, % x, %v", typ, got, err)
	}
}

// The Try methods must agree with the Read methods on every value they
// accept, and consume nothing on the values they leave to them.
func TestTryMatchesRead(t *testing.T) {
	values := []any{0, 1, 127, 128, -1, -32, -33, 65535, 65536, 1<<32 - 1, 1 << 32, math.MinInt32,
		"", "abc", string(bytes.Repeat([]byte("s"), 31)),
		string(bytes.Repeat([]byte("l"), 32)), []any{}, []any{1, 2}, make([]any, 16), nil}
	for _, v := range values {
		b, err := Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		// Both integer Try methods must agree with ReadInt.
		for _, tryInt := range []struct {
			name string
			read func(*Reader) (int64, bool)
		}{{"TryInt", (*Reader).TryInt}, {"TryUint32", (*Reader).TryUint32}} {
			try, read := NewReader(b), NewReader(b)
			if n, ok := tryInt.read(&try); ok {
				if m, err := read.ReadInt(); err != nil || m != n || try.Offset() != read.Offset() {
					t.Errorf("%#v: %s = %d at %d, ReadInt = %d, %v at %d", v, tryInt.name, n,
						try.Offset(), m, err, read.Offset())
				}
			} else if try.Offset() != 0 {
				t.Errorf("%#v: %s failed and consumed %d bytes", v, tryInt.name, try.Offset())
			}
		}
		try, read := NewReader(b), NewReader(b)
		if n, ok := try.TryArrayHeader(); ok {
			if m, err := read.ReadArrayHeader(); err != nil || m != n || try.Offset() != read.Offset() {
				t.Errorf("%#v: TryArrayHeader = %d, ReadArrayHeader = %d, %v", v, n, m, err)
			}
		} else if try.Offset() != 0 {
			t.Errorf("%#v: TryArrayHeader failed and consumed %d bytes", v, try.Offset())
		}
		try, read = NewReader(b), NewReader(b)
		if s, ok := try.TryStringBytes(); ok {
			if r, err := read.ReadStringBytes(); err != nil || !bytes.Equal(r, s) ||
				try.Offset() != read.Offset() {
				t.Errorf("%#v: TryStringBytes = %q, ReadStringBytes = %q, %v", v, s, r, err)
			}
		} else if try.Offset() != 0 {
			t.Errorf("%#v: TryStringBytes failed and consumed %d bytes", v, try.Offset())
		}
	}
}

func TestTryUint32Forms(t *testing.T) {
	for _, in := range [][]byte{{0xce, 0, 1, 0, 0}, {0xce, 0xff, 0xff, 0xff, 0xff}} {
		r := NewReader(in)
		if _, ok := r.TryUint32(); !ok {
			t.Errorf("TryUint32(% x) failed", in)
		}
		if r.Offset() != 5 {
			t.Errorf("TryUint32(% x) stopped at %d, want 5", in, r.Offset())
		}
	}
	short := NewReader([]byte{0xce, 0, 1, 0})
	if v, ok := short.TryUint32(); ok {
		t.Errorf("TryUint32 of 4 bytes = %d, want false", v)
	}
	if short.Offset() != 0 {
		t.Errorf("TryUint32 of 4 bytes consumed %d bytes, want none", short.Offset())
	}
}

func TestTryStringBytesShortInput(t *testing.T) {
	r := NewReader([]byte{0xa3, 'a', 'b'}) // a fixstr of 3 bytes with 2 present
	if s, ok := r.TryStringBytes(); ok {
		t.Fatalf("TryStringBytes on a short input = %q, want false", s)
	}
	if _, err := r.ReadStringBytes(); !errors.Is(err, ErrShort) {
		t.Errorf("ReadStringBytes on a short input: %v, want ErrShort", err)
	}
}

// TestReadIntEveryForm decodes each integer form of each value, cut to the
// form's width, and compares ReadInt with the reference decoder.
func TestReadIntEveryForm(t *testing.T) {
	bigEndian := func(v uint64, n int) []byte {
		b := make([]byte, n)
		for i := n - 1; i >= 0; i-- {
			b[i], v = byte(v), v>>8
		}
		return b
	}
	values := []int64{0, 1, 127, 128, 255, 256, 65535, 65536, 1<<31 - 1, 1 << 31,
		1<<32 - 1, 1 << 32, math.MaxInt64, -1, -32, -33, -128, -129, -32768, -32769,
		math.MinInt32, math.MinInt32 - 1, math.MinInt64}
	for _, v := range values {
		for i, n := range []int{1, 2, 4, 8} {
			forms := [][]byte{append([]byte{0xd0 + byte(i)}, bigEndian(uint64(v), n)...)}
			if v >= 0 {
				forms = append(forms, append([]byte{0xcc + byte(i)}, bigEndian(uint64(v), n)...))
			}
			for _, in := range forms {
				var want int64
				if err := msgpack.Unmarshal(in, &want); err != nil {
					t.Fatalf("% x: reference decoder: %v", in, err)
				}
				r := NewReader(append(in, 0xc0))
				got, err := r.ReadInt()
				if err != nil || got != want {
					t.Errorf("% x: ReadInt = %d, %v, want %d", in, got, err, want)
				}
				if r.Offset() != len(in) {
					t.Errorf("% x: ReadInt stopped at %d, want %d", in, r.Offset(), len(in))
				}

				short := NewReader(in[:len(in)-1])
				if _, err := short.ReadInt(); !errors.Is(err, ErrShort) {
					t.Errorf("% x without its last byte: ReadInt error %v, want ErrShort", in, err)
				}
				if short.Offset() != 0 {
					t.Errorf("% x without its last byte: ReadInt consumed %d bytes, want none",
						in, short.Offset())
				}
			}
		}
	}
	r := NewReader([]byte{0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0})
	if v, err := r.ReadInt(); err == nil {
		t.Errorf("ReadInt of 2^63 as uint64 = %d, want an overflow error", v)
	}
	if r.Offset() != 0 {
		t.Errorf("ReadInt of 2^63 as uint64 consumed %d bytes, want none", r.Offset())
	}
	r = NewReader([]byte{0xc3})
	var te *TypeError
	if _, err := r.ReadInt(); !errors.As(err, &te) {
		t.Errorf("ReadInt of true: error %v, want a *TypeError", err)
	}
}
