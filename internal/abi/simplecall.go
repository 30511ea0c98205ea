package abi

import "github.com/callhost/callhost"

// decodeSimpleCall decodes and checks an envelope of the shape that
// appendSimpleCall writes: one step, fixstr strings, fixarray arguments of
// integers (and placeholders among the continuation's), no continuation
// object, and a timeout and flags under 128, with nothing after it. It
// reports false, having set nothing, for any other envelope, which
// DecodeCheckedCall then reads in full. For an envelope it accepts, c and chk
// are what the general decoder and checks give, which a test compares.
//
// The host decodes every call a turn makes, so the common shape is read in
// one pass over the bytes.
func (l Limits) decodeSimpleCall(b []byte, c *CallView, chk *CallChecks) bool {
	if !l.AllowsSimpleCalls() || len(b) < 12 || b[0] != 0x95 || b[1] != 0x92 {
		return false
	}

	p := simpleReader{b: b, off: 2}
	class, ok := p.fixstr()
	id, ok2 := p.fixstr()
	if !ok || !ok2 || !p.byte2(0x91, 0x92) {
		return false
	}
	opStart := p.off - 2 // at 0x91
	if _, ok := p.fixstr(); !ok {
		return false
	}
	if _, ok := p.args(false); !ok {
		return false
	}
	opEnd := p.off

	var view CallView
	var placeholder bool
	switch {
	case p.next(0xc0):
	case p.next(0x92), p.next(0x93):
		threeElements := b[p.off-1] == 0x93
		handler, ok := p.fixstr()
		if !ok {
			return false
		}
		argsStart := p.off
		if placeholder, ok = p.args(true); !ok {
			return false
		}
		view.HasCont, view.ContHandler, view.ContArgs = true, handler, b[argsStart:p.off]
		if threeElements && !p.next(0xc0) {
			return false
		}
	default:
		return false
	}

	if p.off+2 != len(b) || b[p.off] >= 0x80 || b[p.off+1] >= 0x80 {
		return false
	}
	view.TargetClass, view.TargetID, view.Steps = class, id, b[opStart:opEnd]
	view.TimeoutMS, view.Flags = uint64(b[p.off]), uint64(b[p.off+1])
	*c = view
	*chk = CallChecks{Operation: OperationInfo{Steps: 1}, Placeholder: placeholder}
	return true
}

// AllowsSimpleCalls reports whether l accepts every call of one step whose
// arguments are scalars, as decodeSimpleCall and AppendIntCallView assume.
// Such a call needs MaxSteps >= 1 and, for the arguments' elements,
// MaxDepth >= 2.
func (l Limits) AllowsSimpleCalls() bool { return l.MaxSteps >= 1 && l.MaxDepth >= 2 }

// simpleReader reads the values that decodeSimpleCall accepts. Each method
// reports false when the next value is not of its kind or runs past the
// end, and then leaves off at an unspecified position.
type simpleReader struct {
	b   []byte
	off int
}

// next consumes c when it is the next byte.
func (p *simpleReader) next(c byte) bool {
	if p.off < len(p.b) && p.b[p.off] == c {
		p.off++
		return true
	}
	return false
}

// byte2 consumes c and then d.
func (p *simpleReader) byte2(c, d byte) bool { return p.next(c) && p.next(d) }

// fixstr reads a string of at most 31 bytes.
func (p *simpleReader) fixstr() ([]byte, bool) {
	if p.off >= len(p.b) || p.b[p.off]&0xe0 != 0xa0 {
		return nil, false
	}
	end := p.off + 1 + int(p.b[p.off]&0x1f)
	if end > len(p.b) {
		return nil, false
	}
	s := p.b[p.off+1 : end]
	p.off = end
	return s, true
}

// args reads a fixarray of integers and, when placeholders is set, result
// placeholders, and reports whether it held a placeholder.
func (p *simpleReader) args(placeholders bool) (found, ok bool) {
	if p.off >= len(p.b) || p.b[p.off]&0xf0 != 0x90 {
		return false, false
	}
	n := int(p.b[p.off] & 0x0f)
	p.off++
	for i := 0; i < n; i++ {
		if p.off >= len(p.b) {
			return false, false
		}
		c := p.b[p.off]
		size := 0 // bytes after the type byte
		switch {
		case c < 0x80 || c >= 0xe0: // fixint
		case c >= 0xcc && c <= 0xcf: // uint 8 to 64
			size = 1 << (c - 0xcc)
		case c >= 0xd0 && c <= 0xd3: // int 8 to 64
			size = 1 << (c - 0xd0)
		case c == 0xc7 && placeholders: // ext 8, which must be an empty placeholder
			if p.off+2 >= len(p.b) || p.b[p.off+1] != 0 || int8(p.b[p.off+2]) != callhost.ExtPlaceholder {
				return false, false
			}
			found, size = true, 2
		default:
			return false, false
		}
		p.off += 1 + size
		if p.off > len(p.b) {
			return false, false
		}
	}
	return found, true
}
