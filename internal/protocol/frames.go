package protocol

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// DecodeWelcome decodes a welcome frame.
func DecodeWelcome(b []byte, w *Welcome) error {
	d, err := open(b, TypeWelcome, 3)
	if err != nil {
		return err
	}
	if w.ClientID, err = d.str("client_id"); err != nil {
		return err
	}
	if w.Version, err = d.uint("protocol_version"); err != nil {
		return err
	}
	w.MaxFrameSize = 0
	if d.left > 0 {
		if w.MaxFrameSize, err = d.uint("max_frame_size"); err != nil {
			return err
		}
	}
	return d.finish()
}

// DecodeCall decodes a call frame and checks its req_id, target and flags.
// It checks only that the operation is an array; the runtime checks the
// rest when it accepts the call.
func DecodeCall(b []byte, c *Call) error {
	d, err := open(b, TypeCall, 6)
	if err != nil {
		return err
	}
	if c.ReqID, err = d.uint("req_id"); err != nil {
		return err
	}
	if c.ReqID == 0 {
		return badFrame("call frame: req_id is 0, want a positive integer")
	}
	if c.Target, err = d.address("target"); err != nil {
		return err
	}
	if c.Target.Class == "" || c.Target.ID == "" {
		return badFrame("call frame: target %q needs a class and an id", c.Target.String())
	}
	if c.Steps, err = d.array("operation"); err != nil {
		return err
	}
	if c.TimeoutMS, err = d.uint("timeout_ms"); err != nil {
		return err
	}
	if c.Flags, err = d.uint("flags"); err != nil {
		return err
	}
	if unknown := c.Flags &^ knownFlags; unknown != 0 {
		return badFrame("call frame: unknown flags 0x%x", unknown)
	}
	return d.finish()
}

// DecodeResult decodes a result frame. A req_id of 0 marks an error about a
// frame that had no usable req_id.
func DecodeResult(b []byte, o *Outcome) error {
	return decodeOutcome(b, TypeResult, o)
}

// DecodeReply decodes a reply frame; reply_to must be positive.
func DecodeReply(b []byte, o *Outcome) error {
	if err := decodeOutcome(b, TypeReply, o); err != nil {
		return err
	}
	if o.ID == 0 {
		return badFrame("reply frame: reply_to is 0, want the reply_to of an invoke frame")
	}
	return nil
}

func decodeOutcome(b []byte, t Type, o *Outcome) error {
	d, err := open(b, t, 4)
	if err != nil {
		return err
	}
	if o.ID, err = d.uint("id"); err != nil {
		return err
	}
	code, err := d.int("code")
	if err != nil {
		return err
	}
	o.Value, o.Err = nil, nil
	switch {
	case code < 0:
		return badFrame("%s frame: code %d is negative", t, code)
	case code == 0:
		if o.Value, err = d.raw("value"); err != nil {
			return err
		}
	default:
		msg, err := d.str("message")
		if err != nil {
			return err
		}
		o.Err = &callhost.Error{Code: callhost.Code(code), Message: msg}
	}
	return d.finish()
}

// DecodeInvoke decodes an invoke frame. Hops are optional.
func DecodeInvoke(b []byte, v *Invoke) error {
	d, err := open(b, TypeInvoke, 6)
	if err != nil {
		return err
	}
	if v.ReplyTo, err = d.uint("reply_to"); err != nil {
		return err
	}
	if v.From, err = d.address("from"); err != nil {
		return err
	}
	if v.Handler, err = d.str("handler"); err != nil {
		return err
	}
	if v.Args, err = d.array("args"); err != nil {
		return err
	}
	if v.CallID, err = d.uint("call_id"); err != nil {
		return err
	}
	v.Hops = v.Hops[:0]
	if d.left > 0 {
		if v.Hops, err = readHops(d, v.Hops); err != nil {
			return err
		}
	}
	return d.finish()
}

func readHops(d *decoder, hops []callhost.Address) ([]callhost.Address, error) {
	d.left--
	n, err := d.r.ReadArrayHeader()
	if err != nil {
		return hops, d.fail("hops", err)
	}
	for i := 0; i < n; i++ {
		a, err := abi.ReadAddress(&d.r)
		if err != nil {
			return hops, d.fail("hops", err)
		}
		hops = append(hops, a)
	}
	return hops, nil
}

// CheckValue reports whether b is exactly one MessagePack value.
func CheckValue(b []byte) bool {
	r := msgp.NewReader(b)
	return r.Skip() == nil && r.Len() == 0
}
