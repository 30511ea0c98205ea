package preempt

import (
	"bytes"
	"fmt"
)

// Encoders for hand-built test modules. They are written apart from the
// package's own encoders, so that a bug in one does not hide in the other.

func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// uleb returns the shortest unsigned LEB128 encoding of v.
func uleb(v uint64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// sleb returns the shortest signed LEB128 encoding of v.
func sleb(v int64) []byte {
	var out []byte
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && b&0x40 == 0) || (v == -1 && b&0x40 != 0) {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// padded5 returns v as a five-byte unsigned LEB128 encoding, as some
// linkers write section and body sizes.
func padded5(v uint32) []byte {
	return []byte{
		byte(v) | 0x80, byte(v>>7) | 0x80, byte(v>>14) | 0x80, byte(v>>21) | 0x80, byte(v >> 28),
	}
}

func vec(items ...[]byte) []byte {
	return cat(uleb(uint64(len(items))), cat(items...))
}

func name(s string) []byte {
	return cat(uleb(uint64(len(s))), []byte(s))
}

func sec(id byte, content ...[]byte) []byte {
	c := cat(content...)
	return cat([]byte{id}, uleb(uint64(len(c))), c)
}

func wasmModule(sections ...[]byte) []byte {
	return cat([]byte("\x00asm\x01\x00\x00\x00"), cat(sections...))
}

// funcType encodes a function type. params and results hold one value type
// byte each.
func funcType(params, results []byte) []byte {
	return cat([]byte{0x60}, uleb(uint64(len(params))), params, uleb(uint64(len(results))), results)
}

func i32Const(v int32) []byte { return cat([]byte{0x41}, sleb(int64(v))) }

func i64Const(v int64) []byte { return cat([]byte{0x42}, sleb(v)) }

// global encodes a global definition whose initializer is init followed by
// end.
func global(valueType byte, mutable bool, init []byte) []byte {
	mut := byte(0)
	if mutable {
		mut = 1
	}
	return cat([]byte{valueType, mut}, init, []byte{0x0b})
}

func export(name string, kind byte, index uint32) []byte {
	return cat(uleb(uint64(len(name))), []byte(name), []byte{kind}, uleb(uint64(index)))
}

func importEntry(module, field string, kind byte, desc ...byte) []byte {
	return cat(name(module), name(field), []byte{kind}, desc)
}

// locals encodes local declarations. Each pair is a count and a value type.
func locals(pairs ...[]byte) []byte { return vec(pairs...) }

var noLocals = locals()

// checkMarker marks a point in a function body where Instrument is expected
// to insert a check.
type checkMarker struct{}

var check checkMarker

// bulkMarker marks the point before a memory.init, memory.copy or
// memory.fill where Instrument is expected to insert its fuel charge.
type bulkMarker struct{}

var bulk bulkMarker

// variant selects which of two encodings a test case builds: the module as
// written, which is the input of Instrument, or the module that Instrument
// is expected to return.
type variant struct {
	instrumented bool
	interrupt    uint32 // index of the interrupt global
}

// expectedBulk encodes the charge before a bulk memory instruction: keep
// the byte count in the scratch global after the fuel one, take a unit of
// fuel per 64 bytes, and run the slow path of expectedCheck.
func expectedBulk(interrupt uint32) []byte {
	fuel, scratch := uleb(uint64(interrupt)+1), uleb(uint64(interrupt)+2)
	check := expectedCheck(interrupt)
	slow := check[len(cat([]byte{0x23}, fuel, i32Const(1), []byte{0x6b, 0x24}, fuel)):]
	return cat(
		[]byte{0x24}, scratch, []byte{0x23}, fuel, []byte{0x23}, scratch,
		i32Const(6), []byte{0x76, 0x6b, 0x24}, fuel, []byte{0x23}, scratch,
		slow,
	)
}

// expectedCheck encodes the check with the interrupt global at index
// interrupt and the fuel global after it. The check counts down the fuel.
// When the fuel runs out, it grows memory 0 by 0 pages, traps if the
// interrupt global is set, and refills the fuel.
func expectedCheck(interrupt uint32) []byte {
	fuel := uleb(uint64(interrupt) + 1)
	return cat(
		[]byte{0x23}, fuel, i32Const(1), []byte{0x6b, 0x24}, fuel, // fuel -= 1
		[]byte{0x23}, fuel, i32Const(0), []byte{0x4c, 0x04, 0x40}, // if fuel <= 0
		i32Const(0), []byte{0x40, 0x00, 0x1a}, // memory.grow 0; drop
		[]byte{0x23}, uleb(uint64(interrupt)), []byte{0x04, 0x40, 0x00, 0x0b},
		i32Const(fuelPeriod), []byte{0x24}, fuel, []byte{0x0b},
	)
}

// addedMemory returns the memory section of one empty memory that
// Instrument adds to a module without memory, in the instrumented variant
// of such a module, and nil otherwise.
func (v variant) addedMemory() []byte {
	if !v.instrumented {
		return nil
	}
	return sec(sectionMemory, vec([]byte{0x00, 0x00}))
}

// body encodes a function body with its size prefix.
func (v variant) body(parts ...any) []byte {
	code := v.code(parts...)
	return cat(uleb(uint64(len(code))), code)
}

// code encodes a function body without its size prefix. Parts are byte
// slices, single bytes (as byte or untyped constants), or check, which
// becomes a check in the instrumented variant and nothing in the original.
func (v variant) code(parts ...any) []byte {
	var b []byte
	for _, part := range parts {
		switch p := part.(type) {
		case []byte:
			b = append(b, p...)
		case byte:
			b = append(b, p)
		case int:
			if p < 0 || p > 0xff {
				panic(fmt.Sprintf("body part %d is not a byte", p))
			}
			b = append(b, byte(p))
		case checkMarker:
			if v.instrumented {
				b = append(b, expectedCheck(v.interrupt)...)
			}
		case bulkMarker:
			if v.instrumented {
				b = append(b, expectedBulk(v.interrupt)...)
			}
		default:
			panic(fmt.Sprintf("body part of type %T", part))
		}
	}
	return b
}

// The definitions that Instrument appends: the interrupt global and the
// fuel global.
var (
	interruptGlobal = global(0x7f, true, i32Const(0))
	fuelGlobal      = global(0x7f, true, i32Const(fuelPeriod))
	scratchGlobal   = global(0x7f, true, i32Const(0))
)

// globalSection encodes the global section of the variant: the given
// globals, followed by the interrupt global if instrumented. It returns nil
// for an original module without globals.
func (v variant) globalSection(globals ...[]byte) []byte {
	if v.instrumented {
		globals = append(globals, interruptGlobal, fuelGlobal, scratchGlobal)
	}
	if len(globals) == 0 {
		return nil
	}
	return sec(sectionGlobal, vec(globals...))
}

// exportSection encodes the export section of the variant, like
// globalSection.
func (v variant) exportSection(exports ...[]byte) []byte {
	if v.instrumented {
		exports = append(exports, export(ExportName, 0x03, v.interrupt))
	}
	if len(exports) == 0 {
		return nil
	}
	return sec(sectionExport, vec(exports...))
}

// startSections encodes the export section and the start section of the
// variant, in section order. The original has exports and a start section
// that names function start. The instrumented variant has no start section,
// and its exports end with the interrupt global and, as StartExportName, the
// start function.
func (v variant) startSections(start uint32, exports ...[]byte) (exportSec, startSec []byte) {
	if !v.instrumented {
		return sec(sectionExport, vec(exports...)), sec(sectionStart, uleb(uint64(start)))
	}
	exports = append(exports, export(ExportName, 0x03, v.interrupt),
		export(StartExportName, 0x00, start))
	return sec(sectionExport, vec(exports...)), nil
}

// firstDifference returns the offset of the first byte where a and b differ.
func firstDifference(a, b []byte) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// hexAround formats the bytes of b around offset for a failure message.
func hexAround(b []byte, offset int) string {
	start := max(0, offset-8)
	end := min(len(b), offset+8)
	return fmt.Sprintf("[0x%x:0x%x] % x", start, end, b[start:end])
}
