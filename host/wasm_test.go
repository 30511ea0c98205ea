package host

import (
	"slices"

	"github.com/callhost/callhost/internal/msgp"
)

// This file assembles tiny WebAssembly modules by hand, for shapes the Go test
// guest cannot take: wrong versions, missing exports, ABI violations.

// WebAssembly value types and opcodes used below.
const (
	i32 = 0x7f
	i64 = 0x7e

	opIf      = 0x04
	opEnd     = 0x0b
	opReturn  = 0x0f
	opLocal   = 0x20
	opLoad8U  = 0x2d
	opI32     = 0x41
	opI64     = 0x42
	opI32Eqz  = 0x45
	opExtendU = 0xad
	opI64Or   = 0x84
)

type wasmImport struct {
	module, name    string
	params, results []byte
}

type wasmFunc struct {
	export          string
	params, results []byte
	code            []byte // instructions, without the final end
}

type wasmModule struct {
	memPages  uint32
	noMemory  bool
	imports   []wasmImport
	funcs     []wasmFunc
	data      []byte
	dataStart uint32
	start     *wasmFunc // the start section's function, added after funcs
}

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func sleb(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func wname(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

func vec(b []byte, items ...[]byte) []byte {
	b = uleb(b, uint64(len(items)))
	for _, it := range items {
		b = append(b, it...)
	}
	return b
}

func section(b []byte, id byte, body []byte) []byte {
	return append(uleb(append(b, id), uint64(len(body))), body...)
}

func functype(params, results []byte) []byte {
	b := append(uleb([]byte{0x60}, uint64(len(params))), params...)
	return append(uleb(b, uint64(len(results))), results...)
}

func (m wasmModule) encode() []byte {
	if m.start != nil {
		m.funcs = append(slices.Clone(m.funcs), *m.start)
	}
	var types, imports, funcs, exports, codes [][]byte
	for k, im := range m.imports {
		types = append(types, functype(im.params, im.results))
		imports = append(imports, uleb(append(wname(wname(nil, im.module), im.name), 0), uint64(k)))
	}
	if !m.noMemory {
		exports = append(exports, append(wname(nil, "memory"), 2, 0))
	}
	for k, f := range m.funcs {
		t := uint64(len(types))
		types = append(types, functype(f.params, f.results))
		funcs = append(funcs, uleb(nil, t))
		if f.export != "" {
			idx := uint64(len(m.imports) + k)
			exports = append(exports, uleb(append(wname(nil, f.export), 0), idx))
		}
		body := append(append([]byte{0}, f.code...), opEnd) // no locals
		codes = append(codes, append(uleb(nil, uint64(len(body))), body...))
	}

	b := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	b = section(b, 1, vec(nil, types...))
	if len(imports) > 0 {
		b = section(b, 2, vec(nil, imports...))
	}
	b = section(b, 3, vec(nil, funcs...))
	if !m.noMemory {
		b = section(b, 5, vec(nil, uleb([]byte{0}, uint64(m.memPages))))
	}
	b = section(b, 7, vec(nil, exports...))
	if m.start != nil {
		b = section(b, 8, uleb(nil, uint64(len(m.imports)+len(m.funcs)-1)))
	}
	b = section(b, 10, vec(nil, codes...))
	if len(m.data) > 0 {
		seg := append(sleb([]byte{0, opI32}, int64(m.dataStart)), opEnd)
		seg = append(uleb(seg, uint64(len(m.data))), m.data...)
		b = section(b, 11, vec(nil, seg))
	}
	return b
}

// Layout of the tiny echo module's memory.
const (
	tinyInput    = 1024 // the input buffer
	tinyDescribe = 4096 // the describe response
)

// tinyDescribeResponse is the handler table of the tiny module: one exposed "echo".
func tinyDescribeResponse() []byte {
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendInt(b, 0)
	b = msgp.AppendArrayHeader(b, 1)
	b = msgp.AppendArrayHeader(b, 2)
	return msgp.AppendInt(msgp.AppendString(b, "echo"), 1)
}

// tinyModule is a valid guest that serves describe and returns every other
// request as its response. Fields of the result can be changed to break it.
func tinyModule() wasmModule {
	desc := tinyDescribeResponse()
	echo := append(sleb([]byte{opI64}, int64(tinyInput)<<32), opLocal, 0, opExtendU, opI64Or)
	turn := tinyTurn(echo)
	return wasmModule{
		memPages: 1,
		funcs: []wasmFunc{
			{export: "callhost_abi_version", results: []byte{i32}, code: sleb([]byte{opI32}, 1)},
			{export: "callhost_buffer", params: []byte{i32}, results: []byte{i32},
				code: sleb([]byte{opI32}, tinyInput)},
			{export: "callhost_turn", params: []byte{i32}, results: []byte{i64}, code: turn},
		},
		data:      desc,
		dataStart: tinyDescribe,
	}
}

// tinyTurn returns the code of a callhost_turn that serves describe from the
// data segment and runs otherwise for any other request.
func tinyTurn(otherwise []byte) []byte {
	descRet := int64(tinyDescribe)<<32 | int64(len(tinyDescribeResponse()))
	turn := sleb([]byte{opI32}, tinyInput+1) // the kind, after the array header
	turn = append(turn, opLoad8U, 0, 0, opI32Eqz, opIf, 0x40, opI64)
	turn = append(sleb(turn, descRet), opReturn, opEnd)
	return append(turn, otherwise...)
}

// withFunc returns m with the function exported as name replaced, or removed
// when f is nil.
func (m wasmModule) withFunc(name string, f *wasmFunc) wasmModule {
	var funcs []wasmFunc
	for _, g := range m.funcs {
		if g.export != name {
			funcs = append(funcs, g)
		}
	}
	if f != nil {
		f.export = name
		funcs = append(funcs, *f)
	}
	m.funcs = funcs
	return m
}
