package preempt

import (
	"fmt"
	"strings"
	"testing"
)

// moduleWithBodies builds a module with one global and one function of type
// [] -> [] per body. Each body is the raw function body without its size.
func moduleWithBodies(bodies ...[]byte) []byte {
	functions := make([][]byte, len(bodies))
	code := make([][]byte, len(bodies))
	for i, b := range bodies {
		functions[i] = uleb(0)
		code[i] = cat(uleb(uint64(len(b))), b)
	}
	return wasmModule(
		sec(sectionType, vec(funcType(nil, nil))),
		sec(sectionFunction, vec(functions...)),
		sec(sectionGlobal, vec(global(i32, true, i32Const(0)))),
		sec(sectionCode, vec(code...)),
	)
}

// offsetOfLast formats the offset of the last occurrence of part in module
// as errors do.
func offsetOfLast(module, part []byte) string {
	return fmt.Sprintf("offset 0x%x", strings.LastIndex(string(module), string(part)))
}

type errorCase struct {
	name  string
	input []byte
	want  []string // substrings of the error message
}

func errorCases(t *testing.T) []errorCase {
	validBody := []byte{0x00, 0x0b}
	instrumented, err := Instrument(moduleWithBodies(validBody))
	if err != nil {
		t.Fatal(err)
	}
	unknownOpcode := moduleWithBodies(validBody, []byte{0x00, 0x01, 0x27, 0x0b})
	return []errorCase{
		{
			name:  "empty input",
			input: nil,
			want:  []string{"module is 0 bytes, shorter than the 8-byte header"},
		},
		{
			name:  "bad magic",
			input: []byte("\x7fELF\x01\x00\x00\x00"),
			want:  []string{"offset 0x0: invalid magic number 7f 45 4c 46", "not a WebAssembly binary module"},
		},
		{
			name:  "bad version",
			input: []byte("\x00asm\x02\x00\x00\x00"),
			want:  []string{"offset 0x4: unsupported binary format version 0x2"},
		},
		{
			name:  "component instead of core module",
			input: []byte("\x00asm\x0d\x00\x01\x00"),
			want:  []string{"unsupported binary format version 0x1000d"},
		},
		{
			name:  "truncated section",
			input: wasmModule([]byte{sectionType, 0x0a, 0x01, 0x60}),
			want:  []string{"offset 0xa: truncated type section: 10 bytes expected, 2 remaining"},
		},
		{
			name:  "truncated section size",
			input: wasmModule([]byte{sectionType, 0x80}),
			want:  []string{"offset 0x9: truncated type section size"},
		},
		{
			name:  "unknown section id",
			input: wasmModule(sec(14)),
			want:  []string{"offset 0x8: unknown section id 14"},
		},
		{
			name:  "section out of order",
			input: wasmModule(sec(sectionExport, vec()), sec(sectionGlobal, vec())),
			want:  []string{"offset 0xb: global section is out of order: it must come before the export section"},
		},
		{
			name:  "tag section after global section",
			input: wasmModule(sec(sectionGlobal, vec()), sec(sectionTag, vec())),
			want:  []string{"offset 0xb: tag section is out of order: it must come before the global section"},
		},
		{
			name:  "duplicate section",
			input: wasmModule(sec(sectionType, vec()), sec(sectionType, vec())),
			want:  []string{"offset 0xb: duplicate type section"},
		},
		{
			name:  "global count larger than the section",
			input: wasmModule(sec(sectionGlobal, uleb(1000), global(i32, false, i32Const(0)))),
			want:  []string{"global section: offset 0xa: global count 1000 needs at least 4000 bytes, but 5 remain"},
		},
		{
			name:  "code count larger than the section",
			input: wasmModule(sec(sectionCode, uleb(0xffffffff), []byte{0x02, 0x00, 0x0b})),
			want:  []string{"code section: offset 0xa: function body count 4294967295 needs at least"},
		},
		{
			name:  "import count larger than the section",
			input: wasmModule(sec(sectionImport, uleb(7), importEntry("a", "b", 0x00, 0x00))),
			want:  []string{"import section: offset 0xa: import count 7 needs at least 28 bytes, but 6 remain"},
		},
		{
			name:  "br_table target count larger than the body",
			input: moduleWithBodies([]byte{0x00, 0x41, 0x00, 0x0e, 0xff, 0xff, 0x03, 0x00, 0x0b}),
			want:  []string{"code section: function 0: offset 0x22: br_table target count 65535 needs at least"},
		},
		{
			name:  "truncated body",
			input: wasmModule(sec(sectionCode, uleb(1), []byte{0x0a, 0x00, 0x0b})),
			want:  []string{"code section: function 0: offset 0xc: truncated function body: 10 bytes expected, 2 remaining"},
		},
		{
			name:  "body without end",
			input: moduleWithBodies([]byte{0x00, 0x02, 0x40, 0x0b}),
			want:  []string{"code section: function 0: offset 0x22: function body ends without the end instruction"},
		},
		{
			name:  "bytes after the end of a body",
			input: moduleWithBodies([]byte{0x00, 0x0b, 0x01}),
			want:  []string{"code section: function 0: offset 0x20: function body continues after its final end"},
		},
		{
			name:  "unknown opcode",
			input: unknownOpcode,
			want: []string{"code section: function 1: " +
				offsetOfLast(unknownOpcode, []byte{0x27, 0x0b}) + ": unknown opcode 0x27"},
		},
		{
			name:  "unknown SIMD opcode",
			input: moduleWithBodies([]byte{0x00, 0xfd, 0x9a, 0x01, 0x0b}),
			want:  []string{"unknown opcode 0xfd 0x9a"},
		},
		{
			name:  "unknown SIMD opcode beyond relaxed SIMD",
			input: moduleWithBodies([]byte{0x00, 0xfd, 0x94, 0x02, 0x0b}),
			want:  []string{"unknown opcode 0xfd 0x114"},
		},
		{
			name:  "unknown 0xfc opcode",
			input: moduleWithBodies([]byte{0x00, 0xfc, 0x12, 0x0b}),
			want:  []string{"unknown opcode 0xfc 0x12"},
		},
		{
			name:  "unknown atomic opcode",
			input: moduleWithBodies([]byte{0x00, 0xfe, 0x04, 0x0b}),
			want:  []string{"unknown opcode 0xfe 0x4"},
		},
		{
			name:  "GC prefix",
			input: moduleWithBodies([]byte{0x00, 0xfb, 0x00, 0x0b}),
			want:  []string{"unknown opcode 0xfb"},
		},
		{
			name:  "global.get out of range",
			input: moduleWithBodies([]byte{0x00, 0x23, 0x01, 0x1a, 0x0b}),
			want: []string{"code section: function 0: offset 0x20: global.get of global 1 is out of range: " +
				"the module's global count is 1"},
		},
		{
			name:  "global.set out of range",
			input: moduleWithBodies(validBody, []byte{0x00, 0x41, 0x00, 0x24, 0x05, 0x0b}),
			want:  []string{"code section: function 1: offset 0x26: global.set of global 5 is out of range"},
		},
		{
			name: "global.get out of range in a global initializer",
			input: wasmModule(sec(sectionGlobal, vec(
				global(i32, false, i32Const(0)),
				global(i32, false, []byte{0x23, 0x02}),
			))),
			want: []string{"global section: global 1: offset 0x13: global.get of global 2 is out of range"},
		},
		{
			name:  "existing export of the interrupt name",
			input: wasmModule(sec(sectionExport, vec(export(ExportName, 0x00, 0)))),
			want:  []string{"export section: offset 0xb: the module already exports \"callhost.interrupt\""},
		},
		{
			name:  "existing export of the start name",
			input: wasmModule(sec(sectionExport, vec(export(StartExportName, 0x00, 0)))),
			want:  []string{"export section: offset 0xb: the module already exports \"callhost.start\""},
		},
		{
			name:  "start section with trailing bytes",
			input: wasmModule(sec(sectionStart, uleb(0), []byte{0x00})),
			want:  []string{"start section:", "trailing data after the function index"},
		},
		{
			name:  "instrumented module",
			input: instrumented,
			want:  []string{"already exports \"callhost.interrupt\""},
		},
		{
			name:  "export of a global out of range",
			input: wasmModule(sec(sectionExport, vec(export("g", 0x03, 0)))),
			want:  []string{"export section: offset 0xd: export \"g\" of global 0 is out of range: the module's global count is 0"},
		},
		{
			name:  "LEB128 longer than 5 bytes",
			input: moduleWithBodies([]byte{0x01, 0x01, i32, 0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x1a, 0x0b}),
			want:  []string{"invalid local index: LEB128 encoding longer than 5 bytes"},
		},
		{
			name:  "u32 out of range",
			input: moduleWithBodies([]byte{0x01, 0x01, i32, 0x20, 0x80, 0x80, 0x80, 0x80, 0x10, 0x1a, 0x0b}),
			want:  []string{"invalid local index: LEB128 value out of range for 32 bits"},
		},
		{
			name:  "i32.const longer than 5 bytes",
			input: moduleWithBodies([]byte{0x00, 0x41, 0x80, 0x80, 0x80, 0x80, 0x88, 0x00, 0x1a, 0x0b}),
			want:  []string{"offset 0x20: invalid i32.const immediate: LEB128 encoding longer than 5 bytes"},
		},
		{
			name:  "truncated i64.const",
			input: wasmModule(sec(sectionCode, vec(cat(uleb(4), []byte{0x00, 0x42, 0x80, 0x80})))),
			want:  []string{"offset 0xe: truncated i64.const immediate"},
		},
		{
			name:  "s33 block type out of range",
			input: moduleWithBodies([]byte{0x00, 0x02, 0x80, 0x80, 0x80, 0x80, 0x20, 0x0b, 0x0b}),
			want:  []string{"offset 0x20: invalid block type: signed LEB128 value out of range for 33 bits"},
		},
		{
			name:  "invalid block type",
			input: moduleWithBodies([]byte{0x00, 0x02, 0x41, 0x0b, 0x0b}),
			want:  []string{"invalid block type 0x41"},
		},
		{
			name:  "block type below the one-byte range",
			input: moduleWithBodies([]byte{0x00, 0x02, 0xc0, 0x7d, 0x0b, 0x0b}),
			want:  []string{"invalid block type -320"},
		},
		{
			name:  "unknown value type of a local",
			input: moduleWithBodies([]byte{0x01, 0x01, 0x55, 0x0b}),
			want:  []string{"unknown value type 0x55"},
		},
		{
			name:  "unknown heap type",
			input: moduleWithBodies([]byte{0x00, 0xd0, 0x6e, 0x1a, 0x0b}),
			want:  []string{"unknown heap type -18"},
		},
		{
			name:  "delegate outside a try block",
			input: moduleWithBodies([]byte{0x00, 0x18, 0x00, 0x0b}),
			want:  []string{"delegate outside a try block"},
		},
		{
			name:  "unknown catch clause kind",
			input: moduleWithBodies([]byte{0x00, 0x1f, 0x40, 0x01, 0x04, 0x00, 0x0b, 0x0b}),
			want:  []string{"unknown catch clause kind 0x04"},
		},
		{
			name:  "atomic.fence with a non-zero immediate",
			input: moduleWithBodies([]byte{0x00, 0xfe, 0x03, 0x01, 0x0b}),
			want:  []string{"atomic.fence immediate is 0x01, not 0x00"},
		},
		{
			name:  "unknown import kind",
			input: wasmModule(sec(sectionImport, vec(importEntry("env", "x", 0x05, 0x00)))),
			want:  []string{"import section: offset 0x11: unknown import kind 0x05"},
		},
		{
			name:  "unknown limits flags",
			input: wasmModule(sec(sectionImport, vec(importEntry("env", "m", 0x02, 0x08, 0x01)))),
			want:  []string{"import section: offset 0x12: unknown limits flags 0x08"},
		},
		{
			name:  "bytes after the last export",
			input: wasmModule(sec(sectionExport, vec(), []byte{0x00})),
			want:  []string{"export section: offset 0xb: trailing data after the last export"},
		},
	}
}

func TestInstrumentErrors(t *testing.T) {
	for _, c := range errorCases(t) {
		t.Run(c.name, func(t *testing.T) {
			out, err := Instrument(c.input)
			if err == nil {
				t.Fatalf("Instrument succeeded with %d bytes, want an error", len(out))
			}
			if out != nil {
				t.Errorf("Instrument returned %d bytes with the error", len(out))
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "preempt: ") {
				t.Errorf("error %q lacks the prefix \"preempt: \"", msg)
			}
			for _, want := range c.want {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
		})
	}
}
