package callhost

import (
	"github.com/callhost/callhost/internal/msgp"
	"github.com/vmihailenco/msgpack/v5"
)

// Extension types that give arguments their special meaning. docs/abi.md
// specifies them.
const (
	ExtPlaceholder int8 = 1
	ExtNested      int8 = 2
	ExtPrev        int8 = 3
)

// MaxSteps is the default longest chain an operation may have. A runtime may
// set another limit (runtime.Options.MaxSteps).
const MaxSteps = 64

// MaxDepth is the default deepest nesting of arrays, maps and nested
// operations that arguments may have. A runtime may set another limit
// (runtime.Options.MaxDepth).
const MaxDepth = 32

// Operation is what a call runs on its target: one step, or a chain of steps
// where a later step may use the previous result through [Prev]. An Operation
// passed as an argument of another operation's step is a nested operation: it
// runs first, on the same target, and its result takes its place.
//
// The zero Operation is empty and invalid. Operations are values: Then returns
// a new Operation and leaves the receiver unchanged.
type Operation struct {
	steps []Step
}

// Step is one handler invocation of an [Operation].
type Step struct {
	Handler string
	Args    []any
}

// Op returns an operation that runs handler with args.
func Op(handler string, args ...any) Operation {
	return Operation{steps: []Step{{Handler: handler, Args: args}}}
}

// Then returns o extended by a step that runs handler with args after o's last
// step. Use [Prev] among args for the previous step's result.
func (o Operation) Then(handler string, args ...any) Operation {
	steps := make([]Step, len(o.steps), len(o.steps)+1)
	copy(steps, o.steps)
	return Operation{steps: append(steps, Step{Handler: handler, Args: args})}
}

// Steps returns the steps of o. The caller must not modify them.
func (o Operation) Steps() []Step { return o.steps }

// Handler returns the handler of the first step, or "" for an empty operation.
func (o Operation) Handler() string {
	if len(o.steps) == 0 {
		return ""
	}
	return o.steps[0].Handler
}

// AppendSteps appends the operation in its envelope form: an array of
// [handler, args] steps.
func (o Operation) AppendSteps(b []byte) ([]byte, error) {
	b = msgp.AppendArrayHeader(b, len(o.steps))
	for _, s := range o.steps {
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendString(b, s.Handler)
		b = msgp.AppendArrayHeader(b, len(s.Args))
		for _, a := range s.Args {
			// An int, the usual argument, is encoded here: msgp.Append
			// costs a wasm guest one more function call.
			if v, ok := a.(int); ok {
				b = msgp.AppendInt(b, int64(v))
				continue
			}
			var err error
			if b, err = msgp.Append(b, a); err != nil {
				return b, err
			}
		}
	}
	return b, nil
}

// AppendMsgpack appends o as a nested-operation extension value, the form it
// takes when it is an argument of another step.
func (o Operation) AppendMsgpack(b []byte) ([]byte, error) {
	steps, err := o.AppendSteps(nil)
	if err != nil {
		return b, err
	}
	return msgp.AppendExt(b, ExtNested, steps), nil
}

// EncodeMsgpack lets msgpack.Marshal encode an Operation inside a struct or map.
func (o Operation) EncodeMsgpack(enc *msgpack.Encoder) error {
	b, err := o.AppendMsgpack(nil)
	if err != nil {
		return err
	}
	_, err = enc.Writer().Write(b)
	return err
}

// Marker is an argument that the host replaces before a handler runs: see
// [Placeholder] and [Prev].
type Marker struct{ ext int8 }

var (
	// Placeholder marks where a continuation receives the outcome of its call.
	// It may stand at any depth of the continuation's arguments.
	Placeholder = Marker{ext: ExtPlaceholder}
	// Prev stands for the result of the previous step of a chain.
	Prev = Marker{ext: ExtPrev}
)

// AppendMsgpack appends the marker's extension value.
func (m Marker) AppendMsgpack(b []byte) ([]byte, error) {
	return msgp.AppendExtHeader(b, m.ext, 0), nil
}

// EncodeMsgpack lets msgpack.Marshal encode a Marker inside a struct or map.
func (m Marker) EncodeMsgpack(enc *msgpack.Encoder) error {
	b, _ := m.AppendMsgpack(nil)
	_, err := enc.Writer().Write(b)
	return err
}

// Result is the MessagePack encoding of a successful outcome's value.
type Result []byte

// Decode decodes the result into the value v points to.
func (r Result) Decode(v any) error {
	if err := msgp.Unmarshal(r, v); err != nil {
		return Errorf(CodeBadRequest, "decode result into %T: %v", v, err)
	}
	return nil
}
