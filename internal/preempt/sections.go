package preempt

import (
	"errors"
	"fmt"
	"math"
)

// Section ids of the binary format.
const (
	sectionCustom    = 0
	sectionType      = 1
	sectionImport    = 2
	sectionFunction  = 3
	sectionTable     = 4
	sectionMemory    = 5
	sectionGlobal    = 6
	sectionExport    = 7
	sectionStart     = 8
	sectionElement   = 9
	sectionCode      = 10
	sectionData      = 11
	sectionDataCount = 12
	sectionTag       = 13
)

// sectionOrder is the position that the binary format requires of each
// non-custom section, indexed by section id. The tag section sits between
// the memory and global sections, and the data count section before the
// code section.
var sectionOrder = [...]int{
	sectionType:      1,
	sectionImport:    2,
	sectionFunction:  3,
	sectionTable:     4,
	sectionMemory:    5,
	sectionTag:       6,
	sectionGlobal:    7,
	sectionExport:    8,
	sectionStart:     9,
	sectionElement:   10,
	sectionDataCount: 11,
	sectionCode:      12,
	sectionData:      13,
}

var sectionNames = [...]string{
	sectionCustom:    "custom",
	sectionType:      "type",
	sectionImport:    "import",
	sectionFunction:  "function",
	sectionTable:     "table",
	sectionMemory:    "memory",
	sectionGlobal:    "global",
	sectionExport:    "export",
	sectionStart:     "start",
	sectionElement:   "element",
	sectionCode:      "code",
	sectionData:      "data",
	sectionDataCount: "data count",
	sectionTag:       "tag",
}

// header is the magic number "\0asm" followed by version 1 as a
// little-endian u32.
var header = [8]byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// section is one section of the input module.
type section struct {
	id      byte
	raw     []byte // the whole section: id, size and content
	content []byte
	offset  int // offset of content in the module
}

func (s *section) reader() *reader { return newReader(s.content, s.offset) }

// splitSections checks the header and the order of the sections and returns
// the sections.
func splitSections(module []byte) ([]section, error) {
	if len(module) < len(header) {
		return nil, fmt.Errorf("module is %d bytes, shorter than the 8-byte header", len(module))
	}
	if string(module[:4]) != string(header[:4]) {
		return nil, fmt.Errorf("offset 0x0: invalid magic number % x, expected % x (\"\\0asm\"): "+
			"the input is not a WebAssembly binary module", module[:4], header[:4])
	}
	if string(module[4:8]) != string(header[4:8]) {
		version := uint32(module[4]) | uint32(module[5])<<8 | uint32(module[6])<<16 | uint32(module[7])<<24
		return nil, fmt.Errorf("offset 0x4: unsupported binary format version 0x%x: "+
			"only version 1, a core module, is supported", version)
	}
	r := newReader(module[len(header):], len(header))
	var sections []section
	lastID := -1
	for !r.done() {
		start := r.pos
		at := r.offset()
		id, err := r.readByte("section id")
		if err != nil {
			return nil, err
		}
		if int(id) >= len(sectionNames) {
			return nil, r.errorf(at, "unknown section id %d", id)
		}
		name := sectionNames[id] + " section"
		size, err := r.readU32(name + " size")
		if err != nil {
			return nil, err
		}
		offset := r.offset()
		content, err := r.readBytes(int(size), name)
		if err != nil {
			return nil, err
		}
		if id != sectionCustom {
			if lastID >= 0 && sectionOrder[id] <= sectionOrder[lastID] {
				if id == byte(lastID) {
					return nil, r.errorf(at, "duplicate %s", name)
				}
				return nil, r.errorf(at, "%s is out of order: it must come before the %s section",
					name, sectionNames[lastID])
			}
			lastID = int(id)
		}
		sections = append(sections, section{
			id:      id,
			raw:     r.buf[start:r.pos],
			content: content,
			offset:  offset,
		})
	}
	return sections, nil
}

// importCounts contains the numbers of imported functions and globals,
// which come before the defined ones in their index spaces.
type importCounts struct {
	functions uint32
	globals   uint32
	memories  uint32
}

func countImports(r *reader) (importCounts, error) {
	var counts importCounts
	// An import is at least two one-byte name lengths, a kind and a
	// one-byte descriptor.
	n, err := r.readCount(4, "import count")
	if err != nil {
		return counts, err
	}
	for range n {
		if _, err := r.readName("import module name"); err != nil {
			return counts, err
		}
		if _, err := r.readName("import name"); err != nil {
			return counts, err
		}
		at := r.offset()
		kind, err := r.readByte("import kind")
		if err != nil {
			return counts, err
		}
		switch kind {
		case 0x00: // function: type index
			_, err = r.readU32("import type index")
			counts.functions++
		case 0x01: // table: reference type and limits
			if err = r.readValueType(); err == nil {
				err = r.readLimits()
			}
		case 0x02: // memory: limits
			err = r.readLimits()
			counts.memories++
		case 0x03: // global: value type and mutability
			if err = r.readValueType(); err == nil {
				err = r.readMutability()
			}
			counts.globals++
		case 0x04: // tag: attribute and type index
			if err = r.readTagAttribute(); err == nil {
				_, err = r.readU32("tag type index")
			}
		default:
			return counts, r.errorf(at, "unknown import kind 0x%02x", kind)
		}
		if err != nil {
			return counts, err
		}
	}
	if !r.done() {
		return counts, r.errorf(r.offset(), "trailing data after the last import")
	}
	return counts, nil
}

// readLimits skips the limits of a table or memory type. Flag bit 0 marks a
// maximum, bit 1 a shared memory (threads) and bit 2 64-bit limits
// (memory64).
func (r *reader) readLimits() error {
	at := r.offset()
	flags, err := r.readByte("limits flags")
	if err != nil {
		return err
	}
	if flags > 0x07 {
		return r.errorf(at, "unknown limits flags 0x%02x", flags)
	}
	bits := uint(32)
	if flags&0x04 != 0 {
		bits = 64
	}
	if _, err := r.readLEB(bits, false, "limits minimum"); err != nil {
		return err
	}
	if flags&0x01 != 0 {
		_, err = r.readLEB(bits, false, "limits maximum")
	}
	return err
}

func (r *reader) readMutability() error {
	at := r.offset()
	b, err := r.readByte("global mutability")
	if err != nil {
		return err
	}
	if b > 1 {
		return r.errorf(at, "invalid global mutability 0x%02x", b)
	}
	return nil
}

func (r *reader) readTagAttribute() error {
	at := r.offset()
	b, err := r.readByte("tag attribute")
	if err != nil {
		return err
	}
	if b != 0 {
		return r.errorf(at, "unknown tag attribute 0x%02x", b)
	}
	return nil
}

// checkGlobals decodes the n global definitions that follow the count in r.
func (in *instrumenter) checkGlobals(r *reader, n uint32) error {
	for i := range n {
		if err := r.readValueType(); err != nil {
			return fmt.Errorf("global %d: %w", in.globalCount-n+i, err)
		}
		if err := r.readMutability(); err != nil {
			return fmt.Errorf("global %d: %w", in.globalCount-n+i, err)
		}
		if err := in.skipConstExpr(r); err != nil {
			return fmt.Errorf("global %d: %w", in.globalCount-n+i, err)
		}
	}
	if !r.done() {
		return r.errorf(r.offset(), "trailing data after the last global")
	}
	return nil
}

// checkExports rejects an export named ExportName and an export of a
// global index at or above the global count.
func (in *instrumenter) checkExports(r *reader) error {
	// An export is at least a one-byte name length, a kind and an index.
	n, err := r.readCount(3, "export count")
	if err != nil {
		return err
	}
	for range n {
		at := r.offset()
		name, err := r.readName("export name")
		if err != nil {
			return err
		}
		if string(name) == ExportName || string(name) == StartExportName {
			return r.errorf(at, "the module already exports %q, a name that Instrument adds: "+
				"it was instrumented before, or it uses the name for something else", name)
		}
		kindAt := r.offset()
		kind, err := r.readByte("export kind")
		if err != nil {
			return err
		}
		index, err := r.readU32("export index")
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01, 0x02, 0x04: // function, table, memory, tag
		case 0x03:
			if index >= in.globalCount {
				return r.errorf(kindAt, "export %q of global %d is out of range: the module's global count is %d",
					name, index, in.globalCount)
			}
		default:
			return r.errorf(kindAt, "unknown export kind 0x%02x", kind)
		}
	}
	if !r.done() {
		return r.errorf(r.offset(), "trailing data after the last export")
	}
	return nil
}

// appendGlobals appends the definitions of the insertedGlobals globals: the
// interrupt global, a mutable i32 initialised to 0, the fuel counter, a
// mutable i32 initialised to fuelPeriod, and a scratch i32 for the byte
// count of bulk memory instructions.
// insertedGlobals is the number of globals Instrument appends.
const insertedGlobals = 3

func appendGlobals(out []byte) []byte {
	out = append(out, typeI32, 0x01, opI32Const, 0x00, opEnd)
	out = append(out, typeI32, 0x01, opI32Const)
	out = appendS32(out, fuelPeriod)
	out = append(out, opEnd)
	return append(out, typeI32, 0x01, opI32Const, 0x00, opEnd)
}

// appendNewMemorySection appends a memory section that defines one memory
// of no pages, for a module that has none: the slow path of the check runs
// memory.grow on memory 0.
func appendNewMemorySection(out []byte) []byte {
	return append(out, sectionMemory, 3, 1, 0x00, 0x00)
}

// exportCount returns the number of exports Instrument adds.
func (in *instrumenter) exportCount() uint32 {
	if in.hasStart {
		return 2
	}
	return 1
}

// appendExport appends the export of the interrupt global as ExportName,
// and that of the start function as StartExportName.
func (in *instrumenter) appendExport(out []byte) []byte {
	out = appendU32(out, uint32(len(ExportName)))
	out = append(out, ExportName...)
	out = append(out, 0x03) // export kind global
	out = appendU32(out, in.globalCount)
	if !in.hasStart {
		return out
	}
	out = appendU32(out, uint32(len(StartExportName)))
	out = append(out, StartExportName...)
	out = append(out, 0x00) // export kind function
	return appendU32(out, in.start)
}

// appendNewGlobalSection appends a global section that defines only the
// interrupt global.
func (in *instrumenter) appendNewGlobalSection(out []byte) []byte {
	content := appendGlobals(appendU32(nil, insertedGlobals))
	out = append(out, sectionGlobal)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

// appendNewExportSection appends an export section that exports only the
// interrupt global.
func (in *instrumenter) appendNewExportSection(out []byte) []byte {
	content := in.appendExport(appendU32(nil, in.exportCount()))
	out = append(out, sectionExport)
	out = appendU32(out, uint32(len(content)))
	return append(out, content...)
}

// appendGlobalSection appends s with the interrupt global added. The
// definitions of the n original globals start at entries in s.content.
func (in *instrumenter) appendGlobalSection(out []byte, s *section, n uint32, entries int) ([]byte, error) {
	out = append(out, sectionGlobal)
	return appendSized(out, func(out []byte) ([]byte, error) {
		out = appendU32(out, n+insertedGlobals)
		out = append(out, s.content[entries:]...)
		return appendGlobals(out), nil
	})
}

// appendExportSection appends s with the export of the interrupt global
// added.
func (in *instrumenter) appendExportSection(out []byte, s *section) ([]byte, error) {
	r := s.reader()
	n, err := r.readU32("export count")
	if err != nil {
		return nil, err
	}
	out = append(out, sectionExport)
	return appendSized(out, func(out []byte) ([]byte, error) {
		out = appendU32(out, n+in.exportCount())
		out = append(out, s.content[r.pos:]...)
		return in.appendExport(out), nil
	})
}

// appendCodeSection appends s with checks inserted into every function body.
// importedFunctions is the index of the first body's function.
func (in *instrumenter) appendCodeSection(out []byte, s *section, importedFunctions uint32) ([]byte, error) {
	r := s.reader()
	// A body is at least a one-byte size, a local declaration count and end.
	n, err := r.readCount(3, "function body count")
	if err != nil {
		return nil, err
	}
	out = append(out, sectionCode)
	return appendSized(out, func(out []byte) ([]byte, error) {
		out = appendU32(out, n)
		for i := range n {
			function := uint64(importedFunctions) + uint64(i)
			size, err := r.readU32("function body size")
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", function, err)
			}
			offset := r.offset()
			body, err := r.readBytes(int(size), "function body")
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", function, err)
			}
			out, err = appendSized(out, func(out []byte) ([]byte, error) {
				return in.appendBody(out, newReader(body, offset))
			})
			if err != nil {
				return nil, fmt.Errorf("function %d: %w", function, err)
			}
		}
		if !r.done() {
			return nil, r.errorf(r.offset(), "trailing data after the last function body")
		}
		return out, nil
	})
}

// errTooLarge is returned when a rewritten section or body exceeds the
// maximum size that the binary format can encode.
var errTooLarge = errors.New("rewritten size exceeds 4 GiB, the maximum the binary format can encode")

// appendSized appends the bytes that write appends, preceded by their
// length as a u32 in the shortest LEB128 encoding.
func appendSized(out []byte, write func([]byte) ([]byte, error)) ([]byte, error) {
	const reserved = 5 // the maximum length of a u32 in LEB128
	prefixAt := len(out)
	out = append(out, 0, 0, 0, 0, 0)
	out, err := write(out)
	if err != nil {
		return nil, err
	}
	size := len(out) - prefixAt - reserved
	if uint64(size) > math.MaxUint32 {
		return nil, errTooLarge
	}
	var buf [reserved]byte
	prefix := appendU32(buf[:0], uint32(size))
	// Move the content left over the unused part of the reserved bytes.
	copy(out[prefixAt+len(prefix):], out[prefixAt+reserved:])
	copy(out[prefixAt:], prefix)
	return out[:prefixAt+len(prefix)+size], nil
}
