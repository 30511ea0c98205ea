package preempt

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// Value type bytes for the test modules.
const (
	i32  = 0x7f
	i64  = 0x7e
	f32  = 0x7d
	v128 = 0x7b
)

// call is an exported function call and its expected results.
type call struct {
	function string
	args     []uint64
	want     []uint64
}

// handBuiltCase is a module built twice by build: as Instrument's input and
// as its expected output.
type handBuiltCase struct {
	name      string
	interrupt uint32 // expected index of the interrupt global
	build     func(v variant) []byte
	// features are the wazero features that compile the module. Zero means
	// that wazero v1.12.0 does not support the module's instructions, so the
	// test only compares bytes.
	features api.CoreFeatures
	// env, if not nil, builds a module that is instantiated as "env" to
	// provide the imports.
	env   func() []byte
	calls []call
	// interpreterFails, if not empty, is why wazero's interpreter cannot
	// run the original module, so that the test runs it only on the
	// default engine.
	interpreterFails string
}

// engines are the wazero configurations that the tests run modules on.
// NewRuntimeConfig selects the optimizing compiler on amd64 and arm64.
var engines = []struct {
	name   string
	config func() wazero.RuntimeConfig
}{
	{"default", wazero.NewRuntimeConfig},
	{"interpreter", wazero.NewRuntimeConfigInterpreter},
}

func handBuiltCases() []handBuiltCase {
	return []handBuiltCase{
		{
			name:      "no global or export section",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(),
					sec(sectionCode, vec(v.body(noLocals, check, i32Const(42), 0x0b))),
				)
			},
		},
		{
			name:      "empty module",
			interrupt: 0,
			features:  api.CoreFeaturesV1,
			build: func(v variant) []byte {
				return wasmModule(v.addedMemory(), v.globalSection(), v.exportSection())
			},
		},
		{
			name:      "existing global and export sections",
			interrupt: 2,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0), uleb(0))),
					v.addedMemory(),
					v.globalSection(
						global(i32, true, i32Const(5)),
						global(i64, false, i64Const(-1)),
					),
					v.exportSection(
						export("get", 0x00, 0),
						export("wrap", 0x00, 1),
						export("g0", 0x03, 0),
					),
					sec(sectionCode, vec(
						v.body(locals(cat(uleb(1), []byte{i32})), check,
							0x23, 0x00, // global.get 0
							0x21, 0x00, // local.set 0
							0x20, 0x00, // local.get 0
							0x0b),
						v.body(noLocals, check,
							0x23, 0x01, // global.get 1
							0xa7, // i32.wrap_i64
							0x0b),
					)),
				)
			},
			calls: []call{
				{"get", nil, []uint64{5}},
				{"wrap", nil, []uint64{0xffffffff}},
			},
		},
		{
			name:      "imported globals and other imports",
			interrupt: 3,
			features:  api.CoreFeaturesV2,
			env:       importsProvider,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionImport, vec(
						importEntry("env", "f", 0x00, 0x00),
						importEntry("env", "g0", 0x03, i32, 0x00),
						importEntry("env", "mem", 0x02, 0x00, 0x01),
						importEntry("env", "tab", 0x01, 0x70, 0x01, 0x01, 0x02),
						importEntry("env", "g1", 0x03, i64, 0x01),
					)),
					sec(sectionFunction, vec(uleb(0))),
					v.globalSection(global(i32, false, i32Const(3))),
					v.exportSection(export("sum", 0x00, 1)),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x10, 0x00, // call 0 (env.f)
						0x23, 0x00, // global.get 0 (env.g0)
						0x6a,       // i32.add
						0x23, 0x02, // global.get 2 (defined)
						0x6a,
						0x23, 0x01, // global.get 1 (env.g1)
						0xa7, // i32.wrap_i64
						0x6a,
						0x0b))),
				)
			},
			calls: []call{{"sum", nil, []uint64{100 + 20 + 3 + 1000}}},
		},
		{
			name:      "imported globals beyond 127",
			interrupt: 128,
			features:  api.CoreFeaturesV2,
			env:       importsProvider,
			build: func(v variant) []byte {
				globals := make([][]byte, 127)
				for i := range globals {
					globals[i] = global(i32, false, i32Const(int32(i)))
				}
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionImport, vec(importEntry("env", "g0", 0x03, i32, 0x00))),
					sec(sectionFunction, vec(uleb(0))),
					v.addedMemory(),
					v.globalSection(globals...),
					v.exportSection(export("last", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x23, 0xff, 0x00, // global.get 127
						0x0b))),
				)
			},
			calls: []call{{"last", nil, []uint64{126}}},
		},
		{
			name:      "nested block loop if else and br_table",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType([]byte{i32}, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("classify", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x02, i32, // block $out (result i32)
						0x02, 0x40, // block $b2
						0x02, 0x40, // block $b1
						0x02, 0x40, // block $b0
						0x20, 0x00, // local.get 0
						0x0e, 0x03, 0x00, 0x01, 0x02, 0x02, // br_table $b0 $b1 $b2 default $b2
						0x0b,                     // end $b0
						i32Const(10), 0x0c, 0x02, // br $out
						0x0b,                     // end $b1
						i32Const(20), 0x0c, 0x01, // br $out
						0x0b,      // end $b2
						0x03, i32, // loop $l (result i32)
						check,
						0x20, 0x00, 0x45, // local.get 0; i32.eqz
						0x04, i32, // if (result i32)
						i32Const(99),
						0x05,                                      // else
						0x20, 0x00, i32Const(1), 0x6b, 0x21, 0x00, // local.set 0 (local.get 0 - 1)
						0x03, 0x40, check, 0x0b, // an inner loop that runs once
						0x0c, 0x01, // br $l
						0x0b, // end if
						0x0b, // end loop
						0x0b, // end $out
						0x0b))),
				)
			},
			calls: []call{
				{"classify", []uint64{0}, []uint64{10}},
				{"classify", []uint64{1}, []uint64{20}},
				{"classify", []uint64{2}, []uint64{99}},
				{"classify", []uint64{7}, []uint64{99}},
			},
		},
		{
			name:      "memory instructions with memarg",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType([]byte{i32}, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionMemory, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					v.exportSection(export("memory", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x20, 0x00, i32Const(0x12345678),
						0x36, 0x02, 0x84, 0x80, 0x80, 0x80, 0x00, // i32.store align=4 offset=4 (padded)
						0x20, 0x00,
						0x28, 0x02, 0x04, // i32.load align=4 offset=4
						0x20, 0x00,
						0x2d, 0x00, 0x05, // i32.load8_u offset=5
						0x6a,
						0x20, 0x00, i64Const(-2),
						0x3c, 0x00, 0x10, // i64.store8 offset=16
						0x20, 0x00,
						0x31, 0x00, 0x10, // i64.load8_u offset=16
						0xa7, 0x6a,
						0x3f, 0x00, // memory.size
						0x6a,
						i32Const(0), 0x40, 0x00, // memory.grow 0
						0x6a,
						0x0b))),
				)
			},
			calls: []call{{"memory", []uint64{8}, []uint64{0x12345678 + 0x56 + 0xfe + 1 + 1}}},
		},
		{
			name:      "bulk memory table and saturating conversion instructions",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionTable, vec([]byte{0x70, 0x00, 0x02})),
					sec(sectionMemory, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					v.exportSection(export("bulk", 0x00, 0)),
					// A passive segment of funcref elements: function 0.
					sec(sectionElement, vec(cat([]byte{0x01, 0x00}, vec(uleb(0))))),
					sec(sectionDataCount, uleb(1)),
					sec(sectionCode, vec(v.body(noLocals, check,
						i32Const(16), i32Const(0), i32Const(5), bulk, 0xfc, 0x08, 0x00, 0x00, // memory.init 0
						0xfc, 0x09, 0x00, // data.drop 0
						i32Const(32), i32Const(16), i32Const(5), bulk, 0xfc, 0x0a, 0x00, 0x00, // memory.copy
						i32Const(40), i32Const(0x21), i32Const(3), bulk, 0xfc, 0x0b, 0x00, // memory.fill
						i32Const(0), i32Const(0), i32Const(1), 0xfc, 0x0c, 0x00, 0x00, // table.init 0 0
						0xfc, 0x0d, 0x00, // elem.drop 0
						0xd0, 0x70, i32Const(1), 0xfc, 0x0f, 0x00, 0x1a, // table.grow; drop
						i32Const(1), 0xd0, 0x70, i32Const(1), 0xfc, 0x11, 0x00, // table.fill
						i32Const(2), i32Const(0), i32Const(1), 0xfc, 0x0e, 0x00, 0x00, // table.copy
						0xfc, 0x10, 0x00, // table.size
						0x43, 0x00, 0x00, 0xc0, 0x7f, 0xfc, 0x00, // i32.trunc_sat_f32_s of NaN
						0x6a,
						i32Const(32), 0x2d, 0x00, 0x00, 0x6a, // + i32.load8_u 32
						i32Const(41), 0x2d, 0x00, 0x00, 0x6a, // + i32.load8_u 41
						0x0b))),
					sec(sectionData, vec(cat([]byte{0x01}, name("hello")))),
				)
			},
			calls: []call{{"bulk", nil, []uint64{3 + 0 + 'h' + 0x21}}},
		},
		{
			name:      "0xfc sub-opcode in a two-byte encoding",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			interpreterFails: "wazero v1.12.0's interpreter reads the sub-opcode after 0xfc as one byte " +
				"when it computes the stack effect (engine/interpreter/signature.go)",
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionMemory, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					v.exportSection(export("fill", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						i32Const(40), i32Const(0x21), i32Const(3), bulk, 0xfc, 0x8b, 0x00, 0x00, // memory.fill as 11 in two bytes
						i32Const(42), 0x2d, 0x00, 0x00, // i32.load8_u 42
						0x0b))),
				)
			},
			calls: []call{{"fill", nil, []uint64{0x21}}},
		},
		{
			name:      "SIMD instructions with 16-byte immediates",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				// Immediates full of 0x03 0x40 and 0x03 0x00, the encodings
				// of loop, catch a decoder that reads immediates as opcodes.
				loops := bytes.Repeat([]byte{0x03, 0x40}, 8)
				lanes := bytes.Repeat([]byte{0x03, 0x00}, 8)
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionMemory, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					v.exportSection(export("simd", 0x00, 0)),
					sec(sectionCode, vec(v.body(locals(cat(uleb(1), []byte{v128})), check,
						i32Const(0), 0xfd, 0x0c, loops, // v128.const
						0xfd, 0x0b, 0x04, 0x00, // v128.store
						0xfd, 0x0c, loops,
						0xfd, 0x0c, bytes.Repeat([]byte{0x11}, 16),
						0xfd, 0x0d, lanes, // i8x16.shuffle
						0xfd, 0x16, 0x00, // i8x16.extract_lane_u 0: 0x40
						i32Const(0), 0xfd, 0x00, 0x04, 0x00, // v128.load
						0xfd, 0x1b, 0x01, // i32x4.extract_lane 1: 0x40034003
						0x6a,
						i32Const(0), i32Const(0), 0xfd, 0x11, // i32x4.splat 0
						0xfd, 0x56, 0x02, 0x00, 0x02, // v128.load32_lane lane 2
						0x22, 0x00, // local.tee 0
						0x20, 0x00,
						0xfd, 0xae, 0x01, // i32x4.add (two-byte sub-opcode)
						0xfd, 0x1b, 0x02, // i32x4.extract_lane 2: 0x80068006
						0x6a,
						0x0b))),
				)
			},
			calls: []call{{"simd", nil, []uint64{(0x40 + 0x40034003 + 0x80068006) & 0xffffffff}}},
		},
		{
			name:      "exception handling with try_table",
			interrupt: 0,
			features:  api.CoreFeaturesV2 | experimental.CoreFeaturesExceptionHandling,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(
						funcType(nil, []byte{i32}),
						funcType([]byte{i32}, nil),
						funcType(nil, []byte{i32, 0x69}), // [] -> [i32 exnref]
					)),
					sec(sectionFunction, vec(uleb(0), uleb(0))),
					v.addedMemory(),
					sec(sectionTag, vec([]byte{0x00, 0x01})), // tag 0: [i32] -> []
					v.globalSection(),
					v.exportSection(export("catch", 0x00, 0), export("catchref", 0x00, 1)),
					sec(sectionCode, vec(
						v.body(noLocals, check,
							0x02, i32, // block $h (result i32)
							0x1f, i32, 0x01, 0x00, 0x00, 0x00, // try_table (result i32) (catch 0 $h)
							0x03, 0x40, check, // loop
							i32Const(7), 0x08, 0x00, // throw 0
							0x0b,        // end loop
							i32Const(0), // unreachable at run time
							0x0b,        // end try_table
							0x0b,        // end $h
							0x0b),
						v.body(noLocals, check,
							0x02, 0x69, // block $a (result exnref)
							0x02, 0x02, // block $b (type 2)
							0x1f, 0x40, 0x02, // try_table with 2 catch clauses
							0x01, 0x00, 0x00, // catch_ref 0 $b
							0x03, 0x01, // catch_all_ref $a
							i32Const(9), 0x08, 0x00, // throw 0
							0x0b, // end try_table
							0x00, // unreachable
							0x0b, // end $b
							0x1a, // drop the exnref
							0x0f, // return
							0x0b, // end $a
							0x0a, // throw_ref
							0x0b),
					)),
				)
			},
			calls: []call{
				{"catch", nil, []uint64{7}},
				{"catchref", nil, []uint64{9}},
			},
		},
		{
			name:      "multi-value block type with two-byte type index",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				types := make([][]byte, 65)
				for i := range 64 {
					types[i] = funcType(nil, nil)
				}
				types[64] = funcType([]byte{i32, i32}, []byte{i32})
				return wasmModule(
					sec(sectionType, vec(types...)),
					sec(sectionFunction, vec(uleb(64))),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("add", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x20, 0x00, 0x20, 0x01,
						0x03, 0xc0, 0x00, // loop (type 64), an s33 of two bytes
						check,
						0x6a, // i32.add
						0x0b,
						0x20, 0x00,
						0x02, 0xc0, 0x00, // block (type 64)
						0x6a,
						0x0b,
						0x0b))),
				)
			},
			calls: []call{{"add", []uint64{2, 3}, []uint64{7}}},
		},
		{
			name:      "reference types",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionTable, vec([]byte{0x70, 0x00, 0x01})),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("refs", 0x00, 0)),
					// An active segment at offset 0 of table 0: function 0.
					sec(sectionElement, vec(cat([]byte{0x00}, i32Const(0), []byte{0x0b}, vec(uleb(0))))),
					sec(sectionCode, vec(v.body(noLocals, check,
						0xd2, 0x00, 0xd1, // ref.func 0; ref.is_null: 0
						0xd0, 0x70, 0xd1, // ref.null func; ref.is_null: 1
						0x6a,
						i32Const(0), 0x25, 0x00, 0xd1, // table.get 0; ref.is_null: 0
						0x6a,
						i32Const(0), 0xd0, 0x70, 0x26, 0x00, // table.set 0 null
						i32Const(0), 0x25, 0x00, 0xd1, // 1
						0x6a,
						i32Const(5), i32Const(6), i32Const(1), 0x1c, 0x01, i32, // select (result i32): 5
						0x6a,
						0x0b))),
				)
			},
			calls: []call{{"refs", nil, []uint64{7}}},
		},
		{
			name:      "sign extension and tail calls",
			interrupt: 0,
			features:  api.CoreFeaturesV2 | experimental.CoreFeaturesTailCall,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType([]byte{i32}, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0), uleb(0), uleb(0))),
					sec(sectionTable, vec([]byte{0x70, 0x00, 0x01})),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("direct", 0x00, 0), export("indirect", 0x00, 2)),
					sec(sectionElement, vec(cat([]byte{0x00}, i32Const(0), []byte{0x0b}, vec(uleb(1))))),
					sec(sectionCode, vec(
						v.body(noLocals, check, 0x20, 0x00, 0x12, 0x01, 0x0b),                    // return_call 1
						v.body(noLocals, check, 0x20, 0x00, 0xc0, 0x0b),                          // i32.extend8_s
						v.body(noLocals, check, 0x20, 0x00, i32Const(0), 0x13, 0x00, 0x00, 0x0b), // return_call_indirect
					)),
				)
			},
			calls: []call{
				{"direct", []uint64{0x80}, []uint64{0xffffff80}},
				{"indirect", []uint64{0x17f}, []uint64{0x7f}},
			},
		},
		{
			name:      "threads atomics",
			interrupt: 0,
			features:  api.CoreFeaturesV2 | experimental.CoreFeaturesThreads,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionMemory, vec([]byte{0x03, 0x01, 0x01})), // shared, min 1, max 1
					v.globalSection(),
					v.exportSection(export("atomics", 0x00, 0)),
					sec(sectionCode, vec(v.body(noLocals, check,
						i32Const(0), i32Const(5), 0xfe, 0x1e, 0x02, 0x00, 0x1a, // i32.atomic.rmw.add; drop
						0xfe, 0x03, 0x00, // atomic.fence
						i32Const(0), i32Const(2), 0xfe, 0x1e, 0x02, 0x00, // 5
						i32Const(0), 0xfe, 0x10, 0x02, 0x00, // i32.atomic.load: 7
						0x6a,
						i32Const(0), i32Const(1), 0xfe, 0x00, 0x02, 0x00, // memory.atomic.notify: 0
						0x6a,
						0x0b))),
				)
			},
			calls: []call{{"atomics", nil, []uint64{12}}},
		},
		{
			name:      "typed function references",
			interrupt: 0,
			features:  api.CoreFeaturesV2 | experimental.CoreFeaturesTypedFunctionReferences,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0), uleb(0))),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("callref", 0x00, 1)),
					// A declarative segment, so that ref.func 0 is allowed.
					sec(sectionElement, vec(cat([]byte{0x03, 0x00}, vec(uleb(0))))),
					sec(sectionCode, vec(
						v.body(noLocals, check, i32Const(42), 0x0b),
						v.body(locals(cat(uleb(1), []byte{0x63, 0x00})), check, // (ref null 0)
							0xd2, 0x00, 0x21, 0x00, // local.set 0 (ref.func 0)
							0x02, 0x64, 0x00, // block (result (ref 0))
							0x20, 0x00, 0xd6, 0x00, // br_on_non_null 0
							0x00, // unreachable
							0x0b,
							0x1a,       // drop
							0x02, 0x40, // block
							0x20, 0x00, 0xd5, 0x00, // br_on_null 0
							0x14, 0x00, 0x0f, // call_ref 0; return
							0x0b,
							0x20, 0x00, 0xd4, 0x14, 0x00, // ref.as_non_null; call_ref 0
							0x0b),
					)),
				)
			},
			calls: []call{{"callref", nil, []uint64{42}}},
		},
		{
			name:      "start and data sections after code",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				exports, start := v.startSections(0, export("read", 0x00, 1))
				return wasmModule(
					sec(sectionType, vec(funcType(nil, nil), funcType(nil, []byte{i32}))),
					sec(sectionFunction, vec(uleb(0), uleb(1))),
					sec(sectionMemory, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					exports,
					start,
					sec(sectionCode, vec(
						v.body(noLocals, check, i32Const(8), i32Const(5), 0x3a, 0x00, 0x00, 0x0b), // i32.store8
						v.body(noLocals, check, i32Const(8), 0x2d, 0x00, 0x00,
							i32Const(9), 0x2d, 0x00, 0x00, 0x6a, 0x0b),
					)),
					sec(sectionData, vec(cat([]byte{0x00}, i32Const(9), []byte{0x0b}, name("\x02")))),
				)
			},
			calls: []call{{"read", nil, []uint64{7}}},
		},
		{
			name:      "custom sections and padded sizes",
			interrupt: 0,
			features:  api.CoreFeaturesV2,
			build: func(v variant) []byte {
				types := vec(funcType(nil, []byte{i32}))
				code := v.code(noLocals, check, 0x03, 0x40, check, 0x0b, i32Const(1), 0x0b)
				codeSection := sec(sectionCode, vec(cat(uleb(uint64(len(code))), code)))
				if !v.instrumented {
					// Five-byte sizes for the section and the body, as the Go
					// linker writes them. Instrument writes the shortest ones.
					content := cat(uleb(1), padded5(uint32(len(code))), code)
					codeSection = cat([]byte{sectionCode}, padded5(uint32(len(content))), content)
				}
				return wasmModule(
					sec(sectionCustom, name("first"), []byte{1, 2, 3}),
					// A copied section keeps its padded size.
					cat([]byte{sectionType}, padded5(uint32(len(types))), types),
					sec(sectionFunction, vec(uleb(0))),
					sec(sectionCustom, name("middle")),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(export("one", 0x00, 0)),
					codeSection,
					sec(sectionCustom, name("last"), []byte{0x03, 0x40}),
				)
			},
			calls: []call{{"one", nil, []uint64{1}}},
		},
		{
			name:      "legacy exception handling",
			interrupt: 0,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, nil), funcType([]byte{i32}, nil))),
					sec(sectionFunction, vec(uleb(0))),
					v.addedMemory(),
					sec(sectionTag, vec([]byte{0x00, 0x01})),
					v.globalSection(),
					v.exportSection(),
					sec(sectionCode, vec(v.body(noLocals, check,
						0x06, 0x40, // try
						0x03, 0x40, check, 0x0b, // loop; end
						i32Const(1), 0x08, 0x00, // throw 0
						0x07, 0x00, // catch 0
						0x1a,       // drop
						0x19,       // catch_all
						0x09, 0x00, // rethrow 0
						0x0b,       // end try
						0x06, 0x40, // try
						0x06, 0x40, // try
						0x01,       // nop
						0x18, 0x00, // delegate 0
						0x19, // catch_all
						0x0b, // end try
						0x0b))),
				)
			},
		},
		{
			name:      "relaxed SIMD",
			interrupt: 0,
			build: func(v variant) []byte {
				return wasmModule(
					sec(sectionType, vec(funcType(nil, []byte{v128}))),
					sec(sectionFunction, vec(uleb(0))),
					v.addedMemory(),
					v.globalSection(),
					v.exportSection(),
					sec(sectionCode, vec(v.body(noLocals, check,
						0xfd, 0x0c, bytes.Repeat([]byte{0x03}, 16),
						0xfd, 0x0c, bytes.Repeat([]byte{0x40}, 16),
						0xfd, 0x80, 0x02, // i8x16.relaxed_swizzle (0x100)
						0x03, 0x40, check, 0x0b,
						0xfd, 0x0c, bytes.Repeat([]byte{0x00}, 16),
						0xfd, 0x0c, bytes.Repeat([]byte{0x00}, 16),
						0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0x113)
						0x0b))),
				)
			},
		},
	}
}

// importsProvider builds the module that the import test cases instantiate
// as "env".
func importsProvider() []byte {
	return wasmModule(
		sec(sectionType, vec(funcType(nil, []byte{i32}))),
		sec(sectionFunction, vec(uleb(0))),
		sec(sectionTable, vec([]byte{0x70, 0x01, 0x01, 0x02})),
		sec(sectionMemory, vec([]byte{0x00, 0x01})),
		sec(sectionGlobal, vec(
			global(i32, false, i32Const(20)),
			global(i64, true, i64Const(1000)),
		)),
		sec(sectionExport, vec(
			export("f", 0x00, 0),
			export("tab", 0x01, 0),
			export("mem", 0x02, 0),
			export("g0", 0x03, 0),
			export("g1", 0x03, 1),
		)),
		sec(sectionCode, vec(variant{}.body(noLocals, i32Const(100), 0x0b))),
	)
}

func TestInstrumentHandBuilt(t *testing.T) {
	for _, c := range handBuiltCases() {
		t.Run(c.name, func(t *testing.T) {
			input := c.build(variant{})
			want := c.build(variant{instrumented: true, interrupt: c.interrupt})
			got, err := Instrument(input)
			if err != nil {
				t.Fatalf("Instrument: %v", err)
			}
			if !bytes.Equal(got, want) {
				at := firstDifference(got, want)
				t.Fatalf("output differs from the expected module at offset 0x%x (got %d bytes, want %d)\n got: %s\nwant: %s",
					at, len(got), len(want), hexAround(got, at), hexAround(want, at))
			}
			if c.features == 0 {
				return
			}
			for _, e := range engines {
				t.Run(e.name, func(t *testing.T) {
					if e.name == "interpreter" && c.interpreterFails != "" {
						t.Skip(c.interpreterFails)
					}
					runHandBuilt(t, c, e.config().WithCoreFeatures(c.features), input, got)
				})
			}
		})
	}
}

// runHandBuilt instantiates the original and the instrumented module, checks
// the interrupt global and compares the results of the case's calls.
func runHandBuilt(t *testing.T, c handBuiltCase, config wazero.RuntimeConfig, input, output []byte) {
	ctx := context.Background()
	r := wazero.NewRuntimeWithConfig(ctx, config)
	defer r.Close(ctx)
	if c.env != nil {
		if _, err := r.InstantiateWithConfig(ctx, c.env(), wazero.NewModuleConfig().WithName("env")); err != nil {
			t.Fatalf("instantiate env: %v", err)
		}
	}
	original, err := r.InstantiateWithConfig(ctx, input, wazero.NewModuleConfig().WithName("original"))
	if err != nil {
		t.Fatalf("instantiate the original module: %v", err)
	}
	instrumented, err := r.InstantiateWithConfig(ctx, output, wazero.NewModuleConfig().WithName("instrumented"))
	if err != nil {
		t.Fatalf("instantiate the instrumented module: %v", err)
	}
	if start := instrumented.ExportedFunction(StartExportName); start != nil {
		if _, err := start.Call(ctx); err != nil {
			t.Fatalf("%s: %v", StartExportName, err)
		}
	}

	interrupt, ok := instrumented.ExportedGlobal(ExportName).(api.MutableGlobal)
	if !ok {
		t.Fatalf("instrumented module exports no mutable global %q", ExportName)
	}
	if got := interrupt.Type(); got != api.ValueTypeI32 {
		t.Errorf("interrupt global type = %s, want i32", api.ValueTypeName(got))
	}
	if got := interrupt.Get(); got != 0 {
		t.Errorf("interrupt global = %d, want 0", got)
	}

	for _, call := range c.calls {
		want, err := original.ExportedFunction(call.function).Call(ctx, call.args...)
		if err != nil {
			t.Fatalf("original %s%v: %v", call.function, call.args, err)
		}
		if !slices.Equal(want, call.want) {
			t.Errorf("original %s%v = %#x, want %#x", call.function, call.args, want, call.want)
		}
		got, err := instrumented.ExportedFunction(call.function).Call(ctx, call.args...)
		if err != nil {
			t.Fatalf("instrumented %s%v: %v", call.function, call.args, err)
		}
		if !slices.Equal(got, call.want) {
			t.Errorf("instrumented %s%v = %#x, want %#x", call.function, call.args, got, call.want)
		}
	}
}
