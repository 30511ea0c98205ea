package host

import (
	"regexp"
)

// Names of WebAssembly proposals that the host does not support and that
// unsupportedFeature detects. The engine enables the features of
// WebAssembly 2.0, the wazero v1.12.0 default.
const (
	featureMemory64 = "64-bit memory (the memory64 proposal)"
	featureGC       = "the GC proposal (garbage-collected structs and arrays)"
)

// gcOpcodeError matches the errors of preempt.Instrument and of wazero
// v1.12.0 for an instruction with the GC proposal's prefix 0xfb.
var gcOpcodeError = regexp.MustCompile(`(unknown opcode|invalid instruction) 0xfb\b`)

// unsupportedFeature returns the name of the unsupported proposal that wasm
// uses, judged from its memory, import and type sections and from err, the
// error of decoding it. It returns "" when it finds none. It reads only
// sections that decode cleanly, and stops at the first one that does not.
func unsupportedFeature(wasm []byte, err error) string {
	if err != nil && gcOpcodeError.MatchString(err.Error()) {
		return featureGC
	}
	r := wasmReader{b: wasm}
	if !r.skip(8) { // magic and version
		return ""
	}
	for r.more() {
		id, ok := r.byte()
		size, ok2 := r.u32()
		content, ok3 := r.bytes(size)
		if !ok || !ok2 || !ok3 {
			return ""
		}
		s := wasmReader{b: content}
		switch id {
		case 1:
			if s.hasGCType() {
				return featureGC
			}
		case 2:
			if s.importsMemory64() {
				return featureMemory64
			}
		case 5:
			if s.definesMemory64() {
				return featureMemory64
			}
		}
	}
	return ""
}

// wasmReader reads the WebAssembly binary format. Each method reports
// whether the input contained what it reads.
type wasmReader struct {
	b []byte
}

func (r *wasmReader) more() bool { return len(r.b) > 0 }

func (r *wasmReader) skip(n uint32) bool {
	_, ok := r.bytes(n)
	return ok
}

func (r *wasmReader) bytes(n uint32) ([]byte, bool) {
	if uint64(n) > uint64(len(r.b)) {
		return nil, false
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v, true
}

func (r *wasmReader) byte() (byte, bool) {
	v, ok := r.bytes(1)
	if !ok {
		return 0, false
	}
	return v[0], true
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (r *wasmReader) u32() (uint32, bool) {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c, ok := r.byte()
		if !ok {
			return 0, false
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return uint32(v), v <= 0xffffffff
		}
	}
	return 0, false
}

// skipLEB skips a signed or unsigned LEB128 number of at most 64 bits.
func (r *wasmReader) skipLEB() bool {
	for range 10 {
		c, ok := r.byte()
		if !ok {
			return false
		}
		if c&0x80 == 0 {
			return true
		}
	}
	return false
}

// skipValueType skips a value type, including a typed reference (ref ht)
// or (ref null ht) of the function-references proposal.
func (r *wasmReader) skipValueType() bool {
	t, ok := r.byte()
	if !ok {
		return false
	}
	if t == 0x63 || t == 0x64 {
		return r.skipLEB() // the heap type, a signed LEB128 number
	}
	return true
}

// memory64Limits reads the flags of a memory's limits, skips the limits,
// and reports whether bit 2 of the flags marks them 64-bit.
func (r *wasmReader) memory64Limits() (is64, ok bool) {
	flags, ok := r.byte()
	if !ok {
		return false, false
	}
	if flags&0x04 != 0 {
		return true, true
	}
	if !r.skipLEB() {
		return false, false
	}
	if flags&0x01 != 0 && !r.skipLEB() {
		return false, false
	}
	return false, true
}

func (r *wasmReader) definesMemory64() bool {
	n, ok := r.u32()
	if !ok {
		return false
	}
	for range n {
		is64, ok := r.memory64Limits()
		if is64 || !ok {
			return is64
		}
	}
	return false
}

func (r *wasmReader) importsMemory64() bool {
	n, ok := r.u32()
	if !ok {
		return false
	}
	for range n {
		module, ok1 := r.u32()
		skipped := ok1 && r.skip(module)
		name, ok2 := r.u32()
		skipped = skipped && ok2 && r.skip(name)
		kind, ok3 := r.byte()
		if !skipped || !ok3 {
			return false
		}
		var is64 bool
		switch kind {
		case 0x00: // function: type index
			ok = r.skipLEB()
		case 0x01: // table: reference type and limits, 64-bit under memory64
			if ok = r.skipValueType(); ok {
				is64, ok = r.memory64Limits()
			}
		case 0x02: // memory: limits
			is64, ok = r.memory64Limits()
		case 0x03: // global: value type and mutability
			ok = r.skipValueType() && r.skip(1)
		case 0x04: // tag: attribute and type index
			ok = r.skip(1) && r.skipLEB()
		default:
			return false
		}
		if is64 || !ok {
			return is64
		}
	}
	return false
}

// hasGCType reports whether the type section has an entry other than a
// function type (0x60): a struct, array, recursive group or subtype of the
// GC proposal.
func (r *wasmReader) hasGCType() bool {
	n, ok := r.u32()
	if !ok {
		return false
	}
	for range n {
		form, ok := r.byte()
		if !ok {
			return false
		}
		switch form {
		case 0x60:
		case 0x4e, 0x4f, 0x50, 0x5e, 0x5f:
			return true
		default:
			return false
		}
		for range 2 { // parameters, then results
			count, ok := r.u32()
			if !ok {
				return false
			}
			for range count {
				if !r.skipValueType() {
					return false
				}
			}
		}
	}
	return false
}
