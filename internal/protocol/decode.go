package protocol

import (
	"encoding/binary"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// Header is the part of a frame that every frame type shares.
type Header struct {
	Type Type
	// ID is the second element when it is an unsigned integer: the req_id of
	// a call or result, the reply_to of a reply or invoke. Otherwise it is 0.
	ID uint64
}

// ReadHeader decodes the type and the id of a frame without checking the
// rest. It works on a truncated frame too, which lets a receiver name the
// request of a frame it rejects for its size.
func ReadHeader(b []byte) (Header, error) {
	n, body, ok := splitArrayHeader(b)
	if !ok {
		return Header{}, badFrame("frame is not a MessagePack array")
	}
	if n < 2 {
		return Header{}, badFrame("frame has %d elements, want at least 2", n)
	}
	r := msgp.NewReader(body)
	t, err := r.ReadUint()
	if err != nil {
		return Header{}, badFrame("frame type: %v", err)
	}
	h := Header{Type: Type(t)}
	h.ID, _ = r.ReadUint()
	return h, nil
}

// splitArrayHeader returns the element count of the array that b starts with
// and the bytes after the array header. Unlike msgp.Reader it does not check
// the count against the input, which may be truncated.
func splitArrayHeader(b []byte) (n int, body []byte, ok bool) {
	switch {
	case len(b) >= 1 && b[0] >= 0x90 && b[0] <= 0x9f:
		return int(b[0] & 0x0f), b[1:], true
	case len(b) >= 3 && b[0] == 0xdc:
		return int(binary.BigEndian.Uint16(b[1:])), b[3:], true
	case len(b) >= 5 && b[0] == 0xdd:
		return int(binary.BigEndian.Uint32(b[1:])), b[5:], true
	}
	return 0, nil, false
}

func badFrame(format string, args ...any) *callhost.Error {
	return callhost.Errorf(callhost.CodeBadRequest, format, args...)
}

// decoder reads the elements of one frame and names the frame and the field
// in its errors.
type decoder struct {
	r     msgp.Reader
	frame Type
	left  int // elements not read yet
}

// open reads the array header and the type of a frame of type want with at
// least min elements.
func open(b []byte, want Type, min int) (*decoder, error) {
	d := &decoder{r: msgp.NewReader(b), frame: want}
	n, err := d.r.ReadArrayHeader()
	if err != nil {
		return nil, badFrame("%s frame is not a MessagePack array: %v", want, err)
	}
	if n < min {
		return nil, badFrame("%s frame has %d elements, want %d", want, n, min)
	}
	d.left = n
	t, err := d.uint("type")
	if err != nil {
		return nil, err
	}
	if Type(t) != want {
		return nil, badFrame("frame type is %d, want %d (%s)", t, want, want)
	}
	return d, nil
}

func (d *decoder) fail(field string, err error) error {
	return badFrame("%s frame: %s: %v", d.frame, field, err)
}

func (d *decoder) uint(field string) (uint64, error) {
	d.left--
	v, err := d.r.ReadUint()
	if err != nil {
		return 0, d.fail(field, err)
	}
	return v, nil
}

func (d *decoder) int(field string) (int64, error) {
	d.left--
	v, err := d.r.ReadInt()
	if err != nil {
		return 0, d.fail(field, err)
	}
	return v, nil
}

func (d *decoder) str(field string) (string, error) {
	d.left--
	v, err := d.r.ReadString()
	if err != nil {
		return "", d.fail(field, err)
	}
	return v, nil
}

func (d *decoder) raw(field string) ([]byte, error) {
	d.left--
	v, err := d.r.ReadRaw()
	if err != nil {
		return nil, d.fail(field, err)
	}
	return v, nil
}

// array reads a value that must be an array and returns its encoding.
func (d *decoder) array(field string) ([]byte, error) {
	if d.r.NextType() != msgp.TypeArray {
		return nil, badFrame("%s frame: %s is not an array", d.frame, field)
	}
	return d.raw(field)
}

func (d *decoder) address(field string) (callhost.Address, error) {
	d.left--
	a, err := abi.ReadAddress(&d.r)
	if err != nil {
		return a, d.fail(field, err)
	}
	return a, nil
}

// finish skips elements that a later protocol version may append and rejects
// bytes after the frame.
func (d *decoder) finish() error {
	for ; d.left > 0; d.left-- {
		if err := d.r.Skip(); err != nil {
			return badFrame("%s frame: extra element: %v", d.frame, err)
		}
	}
	if d.r.Len() != 0 {
		return badFrame("%s frame has %d bytes after its array", d.frame, d.r.Len())
	}
	return nil
}
