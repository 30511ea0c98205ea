package abi

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// OperationInfo describes a checked operation.
type OperationInfo struct {
	Steps int  // number of top-level steps
	Ext   bool // whether any argument holds a nested operation or a previous result
}

// Limits bounds the operations and arguments that the Check methods accept.
type Limits struct {
	MaxDepth int // deepest nesting of arrays, maps and nested operations
	MaxSteps int // longest chain of steps in one operation
}

// DefaultLimits are the limits of docs/abi.md: callhost.MaxDepth and
// callhost.MaxSteps.
var DefaultLimits = Limits{MaxDepth: callhost.MaxDepth, MaxSteps: callhost.MaxSteps}

// CheckOperation checks steps within [DefaultLimits]; see
// [Limits.CheckOperation].
func CheckOperation(steps []byte) (OperationInfo, error) {
	return DefaultLimits.CheckOperation(steps)
}

// CheckOperation checks that steps is a well-formed operation within the
// nesting and chain limits, with extension values only where docs/abi.md
// allows them.
func (l Limits) CheckOperation(steps []byte) (OperationInfo, error) {
	var info OperationInfo
	r := msgp.NewReader(steps)
	var found stepsFound
	n, err := l.checkSteps(&r, 0, &found)
	if err != nil {
		return info, err
	}
	if r.Len() != 0 {
		return info, errorf("operation has %d trailing bytes", r.Len())
	}
	info.Steps, info.Ext = n, found.ext
	return info, nil
}

// stepsFound records what checkSteps found besides errors.
type stepsFound struct {
	ext   bool // an argument holds a nested operation or a previous result
	extra bool // a step has elements after [handler, args]
}

func (l Limits) checkSteps(r *msgp.Reader, depth int, found *stepsFound) (int, error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return 0, errorf("operation: %v", err)
	}
	if n == 0 {
		return 0, errorf("operation has no steps")
	}
	if n > l.MaxSteps {
		return 0, errorf("operation has %d steps, max %d", n, l.MaxSteps)
	}
	for i := 0; i < n; i++ {
		m, err := r.ReadArrayHeader()
		if err != nil || m < 2 {
			return 0, errorf("step %d: want [handler, args]", i)
		}
		if _, err := r.ReadStringBytes(); err != nil {
			return 0, errorf("step %d handler: %v", i, err)
		}
		if err := l.checkStepArgs(r, i, depth, found); err != nil {
			return 0, err
		}
		if m > 2 {
			found.extra = true
		}
		if err := skipN(r, m-2); err != nil {
			return 0, errorf("step %d: %v", i, err)
		}
	}
	return n, nil
}

func (l Limits) checkStepArgs(r *msgp.Reader, step, depth int, found *stepsFound) error {
	if r.NextType() != msgp.TypeArray {
		return errorf("step %d: arguments are not an array", step)
	}
	return l.scan(r, depth+1, func(typ int8, payload []byte, d int) error {
		switch typ {
		case callhost.ExtPrev:
			if step == 0 {
				return errorf("step %d: previous result used in the first step", step)
			}
		case callhost.ExtNested:
			nr := msgp.NewReader(payload)
			if _, err := l.checkSteps(&nr, d+1, found); err != nil {
				return err
			}
		case callhost.ExtPlaceholder:
			return errorf("step %d: result placeholder outside a continuation", step)
		default:
			return errorf("step %d: unknown extension type %d", step, typ)
		}
		found.ext = true
		return nil
	})
}

// CheckContinuationArgs checks args within [DefaultLimits]; see
// [Limits.CheckContinuationArgs].
func CheckContinuationArgs(args []byte) (placeholder bool, err error) {
	return DefaultLimits.CheckContinuationArgs(args)
}

// CheckContinuationArgs checks continuation arguments and reports whether they
// hold a result placeholder.
func (l Limits) CheckContinuationArgs(args []byte) (placeholder bool, err error) {
	r := msgp.NewReader(args)
	placeholder, err = l.checkContinuationArgs(&r)
	if err == nil && r.Len() != 0 {
		err = errorf("continuation arguments have %d trailing bytes", r.Len())
	}
	return placeholder, err
}

// checkContinuationArgs checks the continuation arguments at r's position
// and reads past them.
func (l Limits) checkContinuationArgs(r *msgp.Reader) (placeholder bool, err error) {
	if r.NextType() != msgp.TypeArray {
		return false, errorf("continuation arguments are not an array")
	}
	err = l.scan(r, 1, func(typ int8, _ []byte, _ int) error {
		if typ != callhost.ExtPlaceholder {
			return errorf("continuation arguments hold extension type %d", typ)
		}
		placeholder = true
		return nil
	})
	return placeholder, err
}

// scan walks one value at level depth and calls fn for each extension
// value in it. Only arrays and maps count as levels, so a scalar or an
// extension value inside an array at the deepest level is accepted.
func (l Limits) scan(r *msgp.Reader, depth int,
	fn func(typ int8, payload []byte, depth int) error) error {
	var n int
	var err error
	switch r.NextType() {
	case msgp.TypeExt:
		typ, payload, err := r.ReadExt()
		if err != nil {
			return errorf("arguments: %v", err)
		}
		return fn(typ, payload, depth)
	case msgp.TypeArray, msgp.TypeMap:
		if depth > l.MaxDepth {
			return errorf("arguments nest deeper than the max of %d levels (level %d)",
				l.MaxDepth, depth)
		}
		if r.NextType() == msgp.TypeArray {
			n, err = r.ReadArrayHeader()
		} else {
			n, err = r.ReadMapHeader()
			n *= 2
		}
	default:
		if err := r.Skip(); err != nil {
			return errorf("arguments: %v", err)
		}
		return nil
	}
	if err != nil {
		return errorf("arguments: %v", err)
	}
	for i := 0; i < n; i++ {
		if err := l.scan(r, depth+1, fn); err != nil {
			return err
		}
	}
	return nil
}

// ForEachStep calls fn with the handler and encoded arguments of each step of
// a checked operation.
func ForEachStep(steps []byte, fn func(i int, handler string, args []byte) error) error {
	return ForEachStepBytes(steps, func(i int, handler, args []byte) error {
		return fn(i, string(handler), args)
	})
}

// ForEachStepBytes is [ForEachStep] with the handler name as a slice of
// steps, so that it allocates nothing.
func ForEachStepBytes(steps []byte, fn func(i int, handler, args []byte) error) error {
	r := msgp.NewReader(steps)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		m, err := r.ReadArrayHeader()
		if err != nil {
			return err
		}
		handler, err := r.ReadStringBytes()
		if err != nil {
			return err
		}
		args, err := r.ReadRaw()
		if err != nil {
			return err
		}
		if err := skipN(&r, m-2); err != nil {
			return err
		}
		if err := fn(i, handler, args); err != nil {
			return err
		}
	}
	return nil
}

// Replacer returns the encoded value that replaces an extension value.
type Replacer func(typ int8, payload []byte) ([]byte, error)

// Replace appends args to dst with every extension value replaced by what
// replace returns. args must have passed a Check function.
func Replace(dst, args []byte, replace Replacer) ([]byte, error) {
	r := msgp.NewReader(args)
	return replaceValue(dst, &r, replace)
}

func replaceValue(dst []byte, r *msgp.Reader, replace Replacer) ([]byte, error) {
	var n int
	var err error
	switch r.NextType() {
	case msgp.TypeExt:
		typ, payload, err := r.ReadExt()
		if err != nil {
			return dst, err
		}
		v, err := replace(typ, payload)
		return append(dst, v...), err
	case msgp.TypeArray:
		n, err = r.ReadArrayHeader()
		dst = msgp.AppendArrayHeader(dst, n)
	case msgp.TypeMap:
		n, err = r.ReadMapHeader()
		dst = msgp.AppendMapHeader(dst, n)
		n *= 2
	default:
		v, err := r.ReadRaw()
		return append(dst, v...), err
	}
	if err != nil {
		return dst, err
	}
	for i := 0; i < n; i++ {
		if dst, err = replaceValue(dst, r, replace); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// FillPlaceholders appends args to dst with each result placeholder replaced
// by outcome.
func FillPlaceholders(dst, args, outcome []byte) ([]byte, error) {
	return Replace(dst, args, func(typ int8, _ []byte) ([]byte, error) {
		if typ != callhost.ExtPlaceholder {
			return nil, errorf("unexpected extension type %d", typ)
		}
		return outcome, nil
	})
}
