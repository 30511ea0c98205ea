package msgp

import (
	"testing"

	"github.com/callhost/callhost/internal/fuzzcheck"
)

// FuzzSkip checks that Skip never panics, always moves forward, and agrees
// with ReadRaw and NextType on every value of the input.
func FuzzSkip(f *testing.F) {
	fuzzcheck.Seed(f,
		[]byte{0x93, 0x01, 0xa1, 'a', 0xc0},                               // [1, "a", nil]
		[]byte{0x81, 0xa1, 'k', 0x92, 0xc3, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}, // {"k": [true, 0.0]}
		[]byte{0xc7, 0x00, 0x01, 0xd4, 0x02, 0x00},                        // two extension values
		[]byte{0xdd, 0xff, 0xff, 0xff, 0xff},                              // forged array count
		[]byte{0xdf, 0x7f, 0xff, 0xff, 0xff, 0xc0},                        // forged map count
		[]byte{0xdb, 0xff, 0xff, 0xff, 0xf0, 'x'},                         // forged str 32 length
		[]byte{0xc9, 0xff, 0xff, 0xff, 0xff, 0x01},                        // forged ext 32 length
		nestedArrays(MaxDepth+2),
		[]byte{0xc1}, // never used
	)
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > fuzzcheck.MaxInput {
			t.Skip()
		}
		r := NewReader(in)
		for r.Len() > 0 {
			start := r.Offset()
			typ := r.NextType()
			raw := NewReader(in[start:])
			v, rawErr := raw.ReadRaw()
			err := r.Skip()
			if (err == nil) != (rawErr == nil) {
				t.Fatalf("Skip error %v, ReadRaw error %v", err, rawErr)
			}
			if err != nil {
				return
			}
			if typ == TypeInvalid {
				t.Fatalf("Skip accepted a value of invalid type at %d", start)
			}
			if r.Offset() <= start || r.Offset()-start != len(v) {
				t.Fatalf("Skip moved from %d to %d, ReadRaw read %d bytes",
					start, r.Offset(), len(v))
			}
		}
	})
}

// nestedArrays returns n arrays, each holding the next, around a nil.
func nestedArrays(n int) []byte {
	b := make([]byte, 0, n+1)
	for range n {
		b = append(b, 0x91)
	}
	return append(b, 0xc0)
}
