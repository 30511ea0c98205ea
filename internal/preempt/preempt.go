// Package preempt rewrites a WebAssembly module so that the host can stop a
// call into it from another goroutine. It works like Wasmtime's epoch
// interruption, with a flag in place of an epoch counter and deadline.
//
// # Mechanism
//
// Instrument appends three mutable i32 globals: the interrupt global,
// initialised to 0 and exported as ExportName, a fuel counter, initialised
// to fuelPeriod, and a scratch global. It inserts this check at the entry of every
// function (after the local declarations) and at the start of every loop
// body:
//
//	global.get $fuel
//	i32.const 1
//	i32.sub
//	global.set $fuel
//	global.get $fuel
//	i32.const 0
//	i32.le_s
//	if
//	  i32.const 0
//	  memory.grow 0
//	  drop
//	  global.get $interrupt
//	  if
//	    unreachable
//	  end
//	  i32.const fuelPeriod
//	  global.set $fuel
//	end
//
// To stop a running call, the host sets the interrupt global to a non-zero
// value with api.MutableGlobal.Set. The guest traps when its fuel next runs
// out, at most fuelPeriod checks later, and the call returns wazero's
// "unreachable" trap error. The global stays set, so later calls trap too.
// A module without memory gets one of 0 pages for the memory.grow.
//
// Before each memory.init, memory.copy and memory.fill, Instrument inserts a
// charge of one unit of fuel per 64 bytes of the instruction's byte count
// (kept in the scratch global while the charge runs), followed by the same
// test of the fuel. A loop of large fills therefore exits to Go about as
// often in time as a tight loop.
//
// The memory.grow of 0 pages is there for Go's scheduler, not for the
// guest. Go cannot preempt the machine code that wazero's compiler
// generates. A guest that runs without leaving it would therefore hold up
// every stop-the-world phase of the garbage collector in the whole process,
// and with it the goroutine that would set the interrupt global, so a
// spinning guest would hang the process at its next collection. wazero runs
// memory.grow in Go, where the goroutine can be preempted, so a collection
// waits at most one fuel period for a running guest. The interrupt global
// is read on the same exit, which keeps the common path to a decrement and
// a branch.
//
// wazero v1.12.0's optimizing compiler reuses a global's loaded value only
// along a chain of blocks with a single predecessor each, and reloads it
// after every call, memory.grow included. The interpreter reads the global
// on every global.get. TestGuestSpinInterrupted and
// TestHandBuiltLoopInterrupted check that a write from another goroutine
// stops a spinning guest while garbage collections run, on both engines.
//
// NOTE: with wazero's interpreter, Set and the guest's global.get access the
// same Go variable without synchronization. That is a data race under the
// Go memory model, and the race detector reports it.
//
// The alternative, wazero.RuntimeConfig.WithCloseOnContextDone, makes every
// compiled loop header exit to Go to check whether the module was closed,
// and starts a goroutine for each call of an exported function. Go's wasm
// backend puts a loop (the dispatch of its resume points) into most
// functions, 919 of the 1262 in testdata/guest built with Go 1.26, so that
// option slows Go guests down on almost every call.
//
// # Cost
//
// Each check is a load, a subtraction, a store and a branch that is not
// taken, plus one exit to Go per fuelPeriod checks; it takes 32 bytes of
// code while the global indexes are below 128. A Go function with a loop
// runs at least two checks per call. BenchmarkCall compares the three
// setups on the Go guest, and BenchmarkInstrument measures the rewrite
// itself.
//
// # Coverage
//
// Instrument decodes the instructions of WebAssembly 2.0, which include sign
// extension, non-trapping float-to-int conversion, multi-value, bulk memory,
// reference types and fixed-width SIMD. It also decodes these proposals:
//
//   - relaxed SIMD
//   - threads (atomics)
//   - tail calls
//   - exception handling, in the legacy form (try, catch, delegate) and the
//     current one (try_table, exnref)
//   - typed function references
//   - the memory index of multi-memory and the 64-bit offset of memory64
//     in memargs
//
// It rejects any other opcode, such as the GC proposal's 0xfb prefix,
// because it cannot skip an instruction whose immediates it does not know.
//
// # Limits
//
// The check does not stop:
//
//   - a guest blocked in a host function (an import). The host function
//     runs in Go and must return on its own, for example when its context
//     is done. The guest traps at its next check after the import returns.
//   - code of other modules. A call into another module, or into a host
//     module, runs without checks until it returns, and each instance has
//     its own global.
//   - a single long instruction, such as memory.fill or memory.copy on a
//     large range, or memory.atomic.wait32 with a long timeout.
//   - functions that wazero.ModuleConfig.WithStartFunctions names (by
//     default _start), which run inside instantiation, before the host can
//     reach the global. To make Go's _initialize interruptible, instantiate
//     with WithStartFunctions() and call _initialize through the instance.
//     The start section's function is moved out of instantiation for the
//     same reason: Instrument removes the section and exports the function
//     as StartExportName, for the host to call first.
//
// A module whose memory 0 is 64-bit fails validation after the rewrite,
// because the check passes memory.grow an i32.
//
// A trap can stop the guest in the middle of updating its memory, for
// example while the Go runtime holds a lock, so an interrupted instance is
// in an unknown state. Close it rather than call it again.
//
// Custom sections are copied unchanged. Code offsets in DWARF sections
// (.debug_*) therefore no longer match the rewritten code, which can make
// source positions in wazero's stack traces wrong.
package preempt

import (
	"fmt"
	"math"
)

// ExportName is the name under which Instrument exports the interrupt global.
const ExportName = "callhost.interrupt"

// StartExportName is the name under which Instrument exports the function of
// the module's start section, which it removes. The start function runs
// inside instantiation, before the host can reach the interrupt global, so a
// host that wants every guest instruction to be interruptible instantiates
// the output and then calls this export, when present, before any other.
const StartExportName = "callhost.start"

// Instrument returns a copy of module with an interrupt check at the entry
// of every function and at the start of every loop body. The interrupt
// global and the fuel global that the checks read are appended to the
// global section, and the interrupt global is exported as ExportName. The
// package documentation describes the checks.
//
// Instrument decodes every instruction and rejects a module that it cannot
// rewrite safely:
//
//   - a malformed or truncated module
//   - an opcode outside the proposals that the package documentation lists
//   - a module that already exports ExportName
//   - a module whose code, global initializers or exports refer to a global
//     index at or above the module's global count, which would become the
//     index of an appended global
//
// Constant expressions in element and data segments are copied without that
// last check, because they can only read a global, and only during
// instantiation, while the appended globals hold their initial values. Instrument does not
// otherwise validate the module. Errors start with "preempt:" and name the
// section and, where they apply, the function index and the byte offset in
// module.
//
// The output depends only on module, so it can serve as a compilation
// cache key. Instrument does not modify module, and it is safe for
// concurrent use.
func Instrument(module []byte) ([]byte, error) {
	m, err := decodeModule(module)
	if err != nil {
		return nil, err
	}
	return m.rewrite(len(module))
}

// decodedModule is a module split into sections, with the counts and
// positions that rewriting it needs.
type decodedModule struct {
	sections []section
	// The sections that the rewrite changes, or nil where absent.
	globals, exports, code, start *section

	importedFunctions uint32
	hasMemory         bool // imported or defined
	definedGlobals    uint32
	globalEntries     int // offset of the first global definition in globals.content
	in                *instrumenter
}

// decodeModule splits module into sections, counts its globals and checks
// the global and export sections. Function bodies are decoded later, while
// they are rewritten.
func decodeModule(module []byte) (*decodedModule, error) {
	sections, err := splitSections(module)
	if err != nil {
		return nil, fmt.Errorf("preempt: %w", err)
	}
	m := &decodedModule{sections: sections}
	var imports *section
	for i := range sections {
		switch s := &sections[i]; s.id {
		case sectionImport:
			imports = s
		case sectionMemory:
			m.hasMemory = true
		case sectionStart:
			m.start = s
		case sectionGlobal:
			m.globals = s
		case sectionExport:
			m.exports = s
		case sectionCode:
			m.code = s
		}
	}

	var counts importCounts
	if imports != nil {
		if counts, err = countImports(imports.reader()); err != nil {
			return nil, fmt.Errorf("preempt: import section: %w", err)
		}
	}
	m.importedFunctions = counts.functions
	m.hasMemory = m.hasMemory || counts.memories > 0
	var globalsReader *reader
	if m.globals != nil {
		globalsReader = m.globals.reader()
		// A global is at least a value type, a mutability byte and a
		// constant expression of two bytes.
		if m.definedGlobals, err = globalsReader.readCount(4, "global count"); err != nil {
			return nil, fmt.Errorf("preempt: global section: %w", err)
		}
		m.globalEntries = globalsReader.pos
	}
	globalCount := uint64(counts.globals) + uint64(m.definedGlobals)
	if globalCount > math.MaxUint32-insertedGlobals {
		return nil, fmt.Errorf("preempt: the module has %d globals, so the indexes of the globals "+
			"Instrument appends would not fit in a u32", globalCount)
	}
	m.in = newInstrumenter(uint32(globalCount))
	if m.start != nil {
		r := m.start.reader()
		if m.in.start, err = r.readU32("start function index"); err != nil {
			return nil, fmt.Errorf("preempt: start section: %w", err)
		}
		if !r.done() {
			return nil, fmt.Errorf("preempt: start section: %w",
				r.errorf(r.offset(), "trailing data after the function index"))
		}
		m.in.hasStart = true
	}
	if m.globals != nil {
		if err := m.in.checkGlobals(globalsReader, m.definedGlobals); err != nil {
			return nil, fmt.Errorf("preempt: global section: %w", err)
		}
	}
	if m.exports != nil {
		if err := m.in.checkExports(m.exports.reader()); err != nil {
			return nil, fmt.Errorf("preempt: export section: %w", err)
		}
	}
	return m, nil
}

// rewrite returns the instrumented module. It copies every section except
// the global, export and code sections unchanged, and creates a global or
// export section where the module has none, at the position that the
// section order requires.
func (m *decodedModule) rewrite(inputSize int) ([]byte, error) {
	in := m.in
	out := make([]byte, 0, inputSize+inputSize/4+64)
	out = append(out, header[:]...)
	memoryDone, globalDone, exportDone := m.hasMemory, false, false
	var err error
	for i := range m.sections {
		s := &m.sections[i]
		if s.id != sectionCustom {
			if !memoryDone && sectionOrder[s.id] > sectionOrder[sectionMemory] {
				out = appendNewMemorySection(out)
				memoryDone = true
			}
			if !globalDone && sectionOrder[s.id] > sectionOrder[sectionGlobal] {
				out = in.appendNewGlobalSection(out)
				globalDone = true
			}
			if !exportDone && sectionOrder[s.id] > sectionOrder[sectionExport] {
				out = in.appendNewExportSection(out)
				exportDone = true
			}
		}
		switch s {
		case m.globals:
			if out, err = in.appendGlobalSection(out, s, m.definedGlobals, m.globalEntries); err != nil {
				return nil, fmt.Errorf("preempt: global section: %w", err)
			}
			globalDone = true
		case m.exports:
			if out, err = in.appendExportSection(out, s); err != nil {
				return nil, fmt.Errorf("preempt: export section: %w", err)
			}
			exportDone = true
		case m.code:
			if out, err = in.appendCodeSection(out, s, m.importedFunctions); err != nil {
				return nil, fmt.Errorf("preempt: code section: %w", err)
			}
		case m.start:
			// Exported as StartExportName instead.
		default:
			out = append(out, s.raw...)
		}
	}
	if !memoryDone {
		out = appendNewMemorySection(out)
	}
	if !globalDone {
		out = in.appendNewGlobalSection(out)
	}
	if !exportDone {
		out = in.appendNewExportSection(out)
	}
	return out, nil
}
