package preempt

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// allFeatures are the features that wazero v1.12.0 implements.
const allFeatures = api.CoreFeaturesV2 |
	experimental.CoreFeaturesThreads |
	experimental.CoreFeaturesTailCall |
	experimental.CoreFeaturesExtendedConst |
	experimental.CoreFeaturesExceptionHandling |
	experimental.CoreFeaturesTypedFunctionReferences

// fuzzRuntime compiles the fuzz inputs and outputs. It uses the
// interpreter, which validates modules as the compiler does and compiles
// them faster.
var fuzzRuntime struct {
	once    sync.Once
	runtime wazero.Runtime
}

func closeFuzzRuntime() {
	if fuzzRuntime.runtime != nil {
		fuzzRuntime.runtime.Close(context.Background())
	}
}

// wazeroCompile returns the error of compiling module with all features.
// A panic in wazero becomes an error, because wazero v1.12.0 panics on some
// invalid modules, for example a tag whose type index is beyond the type
// section when a try_table catches it.
func wazeroCompile(module []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("wazero panicked: %v", p)
		}
	}()
	ctx := context.Background()
	fuzzRuntime.once.Do(func() {
		fuzzRuntime.runtime = wazero.NewRuntimeWithConfig(ctx,
			wazero.NewRuntimeConfigInterpreter().WithCoreFeatures(allFeatures))
	})
	compiled, err := fuzzRuntime.runtime.CompileModule(ctx, module)
	if err != nil {
		return err
	}
	return compiled.Close(ctx)
}

// wazeroSafeToDecode reports whether wazero v1.12.0 can decode module
// without a huge allocation. Its decoder sizes slices by the counts that a
// module declares, without checking them against the bytes that follow, so
// a module of a few bytes can make it allocate gigabytes and crash the fuzz
// worker. This check bounds each such count by the bytes that remain, and
// it returns false for a module that it cannot decode, or that has a
// "name" custom section, whose counts wazero also allocates by.
func wazeroSafeToDecode(module []byte) bool {
	sections, err := splitSections(module)
	if err != nil {
		return false
	}
	for _, s := range sections {
		r := s.reader()
		var ok bool
		switch s.id {
		case sectionCustom:
			sectionName, err := r.readName("custom section name")
			ok = err == nil && string(sectionName) != "name"
		case sectionStart, sectionDataCount:
			ok = true
		case sectionType:
			ok = typeCountsBounded(r)
		case sectionElement:
			ok = elementCountsBounded(r)
		case sectionCode:
			ok = localCountsBounded(r)
		case sectionData:
			ok = dataCountsBounded(r)
		default:
			_, err := r.readCount(1, "count")
			ok = err == nil
		}
		if !ok {
			return false
		}
	}
	return true
}

func typeCountsBounded(r *reader) bool {
	n, err := r.readCount(1, "type count")
	if err != nil {
		return false
	}
	for range n {
		if form, err := r.readByte("type form"); err != nil || form != 0x60 {
			return false
		}
		for range 2 { // parameters, then results
			types, err := r.readCount(1, "value type count")
			if err != nil {
				return false
			}
			for range types {
				if r.readValueType() != nil {
					return false
				}
			}
		}
	}
	return true
}

// elementCountsBounded checks the element counts of the eight segment
// encodings, which the flags field selects.
func elementCountsBounded(r *reader) bool {
	in := newInstrumenter(math.MaxUint32)
	n, err := r.readCount(1, "segment count")
	if err != nil {
		return false
	}
	for range n {
		flags, err := r.readU32("segment flags")
		if err != nil || flags > 7 {
			return false
		}
		if flags&0x02 != 0 && flags&0x01 == 0 { // explicit table index
			if _, err := r.readU32("table index"); err != nil {
				return false
			}
		}
		if flags&0x01 == 0 && in.skipConstExpr(r) != nil { // active segment offset
			return false
		}
		if flags&0x03 != 0 { // element kind or reference type
			var err error
			if flags&0x04 == 0 {
				_, err = r.readByte("element kind")
			} else {
				err = r.readValueType()
			}
			if err != nil {
				return false
			}
		}
		elements, err := r.readCount(1, "element count")
		if err != nil {
			return false
		}
		for range elements {
			if flags&0x04 == 0 {
				_, err = r.readU32("function index")
			} else {
				err = in.skipConstExpr(r)
			}
			if err != nil {
				return false
			}
		}
	}
	return true
}

// localCountsBounded limits the locals of each function to 65536, because
// wazero allocates one byte per local before it reads the body.
func localCountsBounded(r *reader) bool {
	n, err := r.readCount(1, "body count")
	if err != nil {
		return false
	}
	for range n {
		size, err := r.readU32("body size")
		if err != nil {
			return false
		}
		body, err := r.readBytes(int(size), "body")
		if err != nil {
			return false
		}
		b := newReader(body, 0)
		declarations, err := b.readCount(1, "local declaration count")
		if err != nil {
			return false
		}
		total := uint64(0)
		for range declarations {
			count, err := b.readU32("local count")
			if err != nil || b.readValueType() != nil {
				return false
			}
			total += uint64(count)
		}
		if total > 1<<16 {
			return false
		}
	}
	return true
}

func dataCountsBounded(r *reader) bool {
	in := newInstrumenter(math.MaxUint32)
	n, err := r.readCount(1, "segment count")
	if err != nil {
		return false
	}
	for range n {
		mode, err := r.readU32("segment mode")
		if err != nil || mode > 2 {
			return false
		}
		if mode == 2 {
			if _, err := r.readU32("memory index"); err != nil {
				return false
			}
		}
		if mode != 1 && in.skipConstExpr(r) != nil {
			return false
		}
		if _, err := r.readName("segment bytes"); err != nil {
			return false
		}
	}
	return true
}

// FuzzInstrument checks that Instrument never panics, that its errors carry
// the package prefix, that its output is deterministic and can be decoded
// again, and that wazero accepts the output whenever it accepts the input.
// It also checks that Instrument decodes every function body in a module
// that wazero accepts.
func FuzzInstrument(f *testing.F) {
	for _, c := range handBuiltCases() {
		f.Add(c.build(variant{}))
	}
	f.Fuzz(func(t *testing.T, module []byte) {
		out, err := Instrument(module)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "preempt: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			if out != nil {
				t.Fatalf("Instrument returned %d bytes with the error %v", len(out), err)
			}
			// Instrument must decode every function body that wazero
			// accepts. Errors outside function bodies are not compared,
			// because wazero v1.12.0 accepts some invalid section contents,
			// such as any byte as the element type of an imported table.
			if strings.HasPrefix(err.Error(), "preempt: code section: function ") &&
				wazeroSafeToDecode(module) && wazeroCompile(module) == nil {
				t.Fatalf("wazero accepts the module, but Instrument returned %v", err)
			}
			return
		}
		again, err := Instrument(module)
		if err != nil {
			t.Fatalf("second run failed: %v", err)
		}
		if !bytes.Equal(out, again) {
			t.Fatalf("two runs differ at offset 0x%x", firstDifference(out, again))
		}
		// The output decodes like the input, up to the export that
		// Instrument added.
		if _, err := Instrument(out); err == nil || !strings.Contains(err.Error(), "already exports") {
			t.Fatalf("instrumenting the output returned %v, want the error for the existing export", err)
		}
		if !wazeroSafeToDecode(module) || wazeroCompile(module) != nil {
			return
		}
		if err := wazeroCompile(out); err != nil {
			t.Fatalf("wazero accepts the input but rejects the output: %v", err)
		}
	})
}
