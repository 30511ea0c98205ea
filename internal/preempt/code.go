package preempt

// instrKind classifies an instruction by its effect on block nesting, which
// is all that instrumenting a body needs to know about it.
type instrKind uint8

const (
	kindOther    instrKind = iota
	kindBlock              // block, if, try, try_table: opens a block
	kindLoop               // loop: opens a block whose start is a branch target
	kindEnd                // end: closes a block, or the body at depth 0
	kindDelegate           // delegate: closes a try block
	kindBulk               // memory.init, memory.copy, memory.fill: take a byte count last
)

// Opcodes that need more than skipping their immediates.
const (
	opUnreachable = 0x00
	opLoop        = 0x03
	opIf          = 0x04
	opEnd         = 0x0b
	opDrop        = 0x1a
	opGlobalGet   = 0x23
	opGlobalSet   = 0x24
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI32LeS      = 0x4c
	opI32Sub      = 0x6b
	opI32ShrU     = 0x76
)

// bulkBytesPerFuelShift sets the fuel that a bulk memory instruction costs:
// one unit per 1<<bulkBytesPerFuelShift bytes, about the time a tight loop
// takes per check.
const bulkBytesPerFuelShift = 6

// fuelPeriod is the number of checks between two exits to Go. An exit is a
// memory.grow of 0 pages, which wazero runs in Go: there the goroutine can
// be preempted, so the garbage collector's stop-the-world phases wait at
// most one period for a running guest. A tight Go loop runs a period in
// tens of microseconds; the exit costs about as much as a hundred checks.
const fuelPeriod = 1 << 14

// instrumenter inserts interrupt checks into function bodies.
type instrumenter struct {
	// start is the function of the module's start section, and hasStart
	// whether it has one. Instrument drops the section and exports the
	// function as StartExportName instead.
	start    uint32
	hasStart bool
	// globalCount is the number of globals in the original module, imported
	// and defined. No original instruction may refer to an index at or above
	// it, because the interrupt global gets index globalCount.
	globalCount uint32
	// check is the sequence inserted at function entries and loop headers.
	// With I the interrupt global (index globalCount), F the fuel global
	// (globalCount+1) and S a scratch global (globalCount+2):
	//
	//	global.get F; i32.const 1; i32.sub; global.set F
	//	global.get F; i32.const 0; i32.le_s
	//	if
	//	  i32.const 0; memory.grow 0; drop
	//	  global.get I; if; unreachable; end
	//	  i32.const fuelPeriod; global.set F
	//	end
	check []byte
	// bulk is the sequence inserted before memory.init, memory.copy and
	// memory.fill, whose byte count n is on top of the stack. It charges one
	// unit of fuel per 64 bytes, so a loop of large fills exits to Go as
	// often as a tight loop does:
	//
	//	global.set S; global.get F; global.get S; i32.const 6; i32.shr_u
	//	i32.sub; global.set F; global.get S
	//
	// followed by the part of check from the second line on.
	bulk []byte
}

func newInstrumenter(globalCount uint32) *instrumenter {
	interrupt := appendU32(nil, globalCount)
	fuel := appendU32(nil, globalCount+1)
	scratch := appendU32(nil, globalCount+2)

	// The slow path: when the fuel is spent, exit to Go, trap if the
	// interrupt global is set, and refill the fuel.
	slow := append([]byte{opGlobalGet}, fuel...)
	slow = append(slow, opI32Const, 0, opI32LeS, opIf, emptyBlock)
	slow = append(slow, opI32Const, 0, opMemoryGrow, 0, opDrop, opGlobalGet)
	slow = append(slow, interrupt...)
	slow = append(slow, opIf, emptyBlock, opUnreachable, opEnd, opI32Const)
	slow = appendS32(slow, fuelPeriod)
	slow = append(slow, opGlobalSet)
	slow = append(slow, fuel...)
	slow = append(slow, opEnd)

	check := append([]byte{opGlobalGet}, fuel...)
	check = append(check, opI32Const, 1, opI32Sub, opGlobalSet)
	check = append(check, fuel...)
	check = append(check, slow...)

	bulk := append([]byte{opGlobalSet}, scratch...)
	bulk = append(bulk, opGlobalGet)
	bulk = append(bulk, fuel...)
	bulk = append(bulk, opGlobalGet)
	bulk = append(bulk, scratch...)
	bulk = append(bulk, opI32Const, bulkBytesPerFuelShift, opI32ShrU, opI32Sub, opGlobalSet)
	bulk = append(bulk, fuel...)
	bulk = append(bulk, opGlobalGet)
	bulk = append(bulk, scratch...)
	bulk = append(bulk, slow...)
	return &instrumenter{globalCount: globalCount, check: check, bulk: bulk}
}

// appendBody appends the function body in r to out, with a check after the
// local declarations and another after the block type of every loop. The
// body must end with the end of its outermost block.
func (in *instrumenter) appendBody(out []byte, r *reader) ([]byte, error) {
	// Each local declaration is a count and a value type, 2 bytes at least.
	declarations, err := r.readCount(2, "local declaration count")
	if err != nil {
		return nil, err
	}
	for range declarations {
		if _, err := r.readU32("local count"); err != nil {
			return nil, err
		}
		if err := r.readValueType(); err != nil {
			return nil, err
		}
	}
	out = append(out, r.buf[:r.pos]...)
	out = append(out, in.check...)
	copied := r.pos

	depth := 0
	for {
		if r.done() {
			return nil, r.errorf(r.offset(), "function body ends without the end instruction")
		}
		start, before := r.offset(), r.pos
		kind, err := in.decodeInstruction(r)
		if err != nil {
			return nil, err
		}
		switch kind {
		case kindBulk:
			out = append(out, r.buf[copied:before]...)
			out = append(out, in.bulk...)
			copied = before
		case kindBlock:
			depth++
		case kindLoop:
			depth++
			// The check goes inside the loop, so a branch back to the loop
			// runs it again.
			out = append(out, r.buf[copied:r.pos]...)
			out = append(out, in.check...)
			copied = r.pos
		case kindDelegate:
			if depth == 0 {
				return nil, r.errorf(start, "delegate outside a try block")
			}
			depth--
		case kindEnd:
			if depth > 0 {
				depth--
				continue
			}
			if !r.done() {
				return nil, r.errorf(r.offset(), "function body continues after its final end instruction")
			}
			return append(out, r.buf[copied:]...), nil
		}
	}
}

// skipConstExpr skips a constant expression up to and including its end.
// It decodes with the same rules as function bodies, so a global.get of the
// interrupt global's index is rejected here too.
func (in *instrumenter) skipConstExpr(r *reader) error {
	depth := 0
	for {
		start := r.offset()
		kind, err := in.decodeInstruction(r)
		if err != nil {
			return err
		}
		switch kind {
		case kindBlock, kindLoop:
			depth++
		case kindDelegate:
			if depth == 0 {
				return r.errorf(start, "delegate outside a try block")
			}
			depth--
		case kindEnd:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// decodeInstruction reads one instruction and its immediates. It returns an
// error for an opcode it does not know, because skipping an unknown
// instruction would have to guess the length of its immediates.
func (in *instrumenter) decodeInstruction(r *reader) (instrKind, error) {
	start := r.offset()
	op, err := r.readByte("opcode")
	if err != nil {
		return 0, err
	}
	switch {
	case op == opUnreachable, op == 0x01, // unreachable, nop
		op == 0x05,             // else
		op == 0x0a,             // throw_ref
		op == 0x0f,             // return
		op == 0x19,             // catch_all (legacy exception handling)
		op == 0x1a, op == 0x1b, // drop, select
		op >= 0x45 && op <= 0xc4, // numeric instructions, including sign extension
		op == 0xd1,               // ref.is_null
		op == 0xd4:               // ref.as_non_null
		return kindOther, nil

	case op == 0x02, op == opIf, op == 0x06: // block, if, try
		return kindBlock, r.readBlockType()

	case op == opLoop:
		return kindLoop, r.readBlockType()

	case op == 0x1f: // try_table
		if err := r.readBlockType(); err != nil {
			return 0, err
		}
		return kindBlock, r.readCatchClauses()

	case op == opEnd:
		return kindEnd, nil

	case op == 0x18: // delegate
		_, err := r.readU32("delegate label")
		return kindDelegate, err

	case op == 0x07, op == 0x08: // catch, throw
		return kindOther, r.skipU32s(1, "tag index")

	case op == 0x09, op == 0x0c, op == 0x0d, // rethrow, br, br_if
		op == 0xd5, op == 0xd6: // br_on_null, br_on_non_null
		return kindOther, r.skipU32s(1, "label index")

	case op == 0x0e: // br_table
		targets, err := r.readCount(1, "br_table target count")
		if err != nil {
			return 0, err
		}
		// The targets and the default label.
		return kindOther, r.skipU32s(int(targets)+1, "br_table label index")

	case op == 0x10, op == 0x12, op == 0xd2: // call, return_call, ref.func
		return kindOther, r.skipU32s(1, "function index")

	case op == 0x11, op == 0x13: // call_indirect, return_call_indirect
		return kindOther, r.skipU32s(2, "call_indirect type or table index")

	case op == 0x14, op == 0x15: // call_ref, return_call_ref
		return kindOther, r.skipU32s(1, "type index")

	case op == 0x1c: // select t*
		types, err := r.readCount(1, "select type count")
		if err != nil {
			return 0, err
		}
		for range types {
			if err := r.readValueType(); err != nil {
				return 0, err
			}
		}
		return kindOther, nil

	case op >= 0x20 && op <= 0x22: // local.get, local.set, local.tee
		return kindOther, r.skipU32s(1, "local index")

	case op == opGlobalGet, op == opGlobalSet:
		return kindOther, in.readGlobalIndex(r, op)

	case op == 0x25, op == 0x26: // table.get, table.set
		return kindOther, r.skipU32s(1, "table index")

	case op >= 0x28 && op <= 0x3e: // loads and stores
		return kindOther, r.readMemArg()

	case op == 0x3f, op == 0x40: // memory.size, memory.grow
		return kindOther, r.skipU32s(1, "memory index")

	case op == opI32Const:
		return kindOther, r.skipLEB(5, "i32.const immediate")

	case op == 0x42: // i64.const
		return kindOther, r.skipLEB(10, "i64.const immediate")

	case op == 0x43: // f32.const
		return kindOther, r.skip(4, "f32.const immediate")

	case op == 0x44: // f64.const
		return kindOther, r.skip(8, "f64.const immediate")

	case op == 0xd0: // ref.null
		return kindOther, r.readHeapType()

	case op == 0xfc:
		return r.readMiscInstruction(start)

	case op == 0xfd:
		return kindOther, r.readVectorInstruction(start)

	case op == 0xfe:
		return kindOther, r.readAtomicInstruction(start)
	}
	return 0, r.errorf(start, "unknown opcode 0x%02x", op)
}

func (in *instrumenter) readGlobalIndex(r *reader, op byte) error {
	start := r.offset()
	index, err := r.readU32("global index")
	if err != nil {
		return err
	}
	if index >= in.globalCount {
		name := "global.get"
		if op == opGlobalSet {
			name = "global.set"
		}
		return r.errorf(start, "%s of global %d is out of range: the module's global count is %d",
			name, index, in.globalCount)
	}
	return nil
}

// skipU32s skips n consecutive u32 immediates.
func (r *reader) skipU32s(n int, field string) error {
	for range n {
		if _, err := r.readU32(field); err != nil {
			return err
		}
	}
	return nil
}

// readCatchClauses skips the catch clauses of try_table: catch and
// catch_ref take a tag and a label, catch_all and catch_all_ref a label.
func (r *reader) readCatchClauses() error {
	// A clause is at least a kind byte and a one-byte label.
	clauses, err := r.readCount(2, "try_table catch count")
	if err != nil {
		return err
	}
	for range clauses {
		start := r.offset()
		kind, err := r.readByte("catch clause kind")
		if err != nil {
			return err
		}
		switch kind {
		case 0x00, 0x01: // catch, catch_ref
			err = r.skipU32s(2, "catch tag or label index")
		case 0x02, 0x03: // catch_all, catch_all_ref
			err = r.skipU32s(1, "catch label index")
		default:
			return r.errorf(start, "unknown catch clause kind 0x%02x", kind)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readMemArg skips a memarg: the alignment exponent, a memory index if bit 6
// of the alignment field is set (multi-memory), and the offset. The offset
// is decoded as u64, its width for 64-bit memories, which accepts every
// encoding a 32-bit memory allows.
func (r *reader) readMemArg() error {
	align, err := r.readU32("memarg alignment")
	if err != nil {
		return err
	}
	if align&0x40 != 0 {
		if _, err := r.readU32("memarg memory index"); err != nil {
			return err
		}
	}
	_, err = r.readU64("memarg offset")
	return err
}

// readMiscInstruction reads the rest of an instruction with the 0xfc prefix:
// non-trapping float-to-int conversions, and bulk memory and table
// instructions.
func (r *reader) readMiscInstruction(start int) (instrKind, error) {
	op, err := r.readU32("opcode after prefix 0xfc")
	if err != nil {
		return kindOther, err
	}
	switch {
	case op <= 7: // i32.trunc_sat_f32_s ... i64.trunc_sat_f64_u
		return kindOther, nil
	case op == 8: // memory.init
		return kindBulk, r.skipU32s(2, "memory.init data or memory index")
	case op == 9: // data.drop
		return kindOther, r.skipU32s(1, "data index")
	case op == 10: // memory.copy
		return kindBulk, r.skipU32s(2, "memory.copy memory index")
	case op == 11: // memory.fill
		return kindBulk, r.skipU32s(1, "memory.fill memory index")
	case op == 12: // table.init
		return kindOther, r.skipU32s(2, "table.init element or table index")
	case op == 13: // elem.drop
		return kindOther, r.skipU32s(1, "element index")
	case op == 14: // table.copy
		return kindOther, r.skipU32s(2, "table.copy table index")
	case op >= 15 && op <= 17: // table.grow, table.size, table.fill
		return kindOther, r.skipU32s(1, "table index")
	}
	return kindOther, r.errorf(start, "unknown opcode 0xfc 0x%x", op)
}

// readVectorInstruction reads the rest of an instruction with the 0xfd
// prefix: the fixed-width SIMD instructions of WebAssembly 2.0 and the
// relaxed SIMD instructions of WebAssembly 3.0.
func (r *reader) readVectorInstruction(start int) error {
	op, err := r.readU32("opcode after prefix 0xfd")
	if err != nil {
		return err
	}
	switch {
	case op <= 0x0b, op == 0x5c, op == 0x5d: // v128.load*, v128.store, v128.load*_zero
		return r.readMemArg()
	case op == 0x0c, op == 0x0d: // v128.const, i8x16.shuffle
		return r.skip(16, "v128 immediate")
	case op >= 0x15 && op <= 0x22: // extract_lane, replace_lane
		return r.skip(1, "lane index")
	case op >= 0x54 && op <= 0x5b: // v128.load*_lane, v128.store*_lane
		if err := r.readMemArg(); err != nil {
			return err
		}
		return r.skip(1, "lane index")
	case op <= 0xff && !unassignedVectorOpcode(op), // instructions without immediates
		op >= 0x100 && op <= 0x113: // relaxed SIMD
		return nil
	}
	return r.errorf(start, "unknown opcode 0xfd 0x%x", op)
}

// unassignedVectorOpcode reports whether op is one of the gaps in the SIMD
// opcode space up to 0xff, which WebAssembly 2.0 leaves unassigned.
func unassignedVectorOpcode(op uint32) bool {
	switch op {
	case 0x9a, 0xa2, 0xa5, 0xa6, 0xaf, 0xb0, 0xb2, 0xb3, 0xb4, 0xbb,
		0xc2, 0xc5, 0xc6, 0xcf, 0xd0, 0xd2, 0xd3, 0xd4, 0xe2, 0xee:
		return true
	}
	return false
}

// readAtomicInstruction reads the rest of an instruction with the 0xfe
// prefix from the threads proposal.
func (r *reader) readAtomicInstruction(start int) error {
	op, err := r.readU32("opcode after prefix 0xfe")
	if err != nil {
		return err
	}
	switch {
	case op <= 0x02, // memory.atomic.notify, memory.atomic.wait32, memory.atomic.wait64
		op >= 0x10 && op <= 0x4e: // atomic loads, stores and read-modify-write operations
		return r.readMemArg()
	case op == 0x03: // atomic.fence
		at := r.offset()
		b, err := r.readByte("atomic.fence immediate")
		if err != nil {
			return err
		}
		if b != 0 {
			return r.errorf(at, "atomic.fence immediate is 0x%02x, not 0x00", b)
		}
		return nil
	}
	return r.errorf(start, "unknown opcode 0xfe 0x%x", op)
}
