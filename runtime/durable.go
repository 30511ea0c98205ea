package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// The encodings below are what a durable store keeps for queued messages and
// pending calls. They are private to the runtime; the store treats them as
// opaque bytes. Each starts with a format number so a later version can read
// old records.
const recordFormat = 1

// hopsCache keeps the encoding of the hops list it encoded last. Hops
// slices are never modified once made, so the same backing array and length
// mean the same list. The messages of one turn share theirs, and a self-call
// chain carries up to maxHops entries, which would otherwise be encoded again
// for every message and request. The cache keeps the array alive, so its
// address cannot be reused.
type hopsCache struct {
	of  []callhost.Address
	enc []byte
}

// encode returns the encoding of hops, valid until the next call.
func (c *hopsCache) encode(hops []callhost.Address) []byte {
	same := len(hops) == len(c.of) && (len(hops) == 0 || &hops[0] == &c.of[0])
	if !same || c.enc == nil {
		c.of = hops
		c.enc = abi.AppendHops(c.enc[:0], hops)
	}
	return c.enc
}

// recordOverhead bounds the bytes of a record's headers and numbers, beside
// its strings and byte fields.
const recordOverhead = 96

func readHopsList(r *msgp.Reader) ([]callhost.Address, error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return nil, err
	}
	hops := make([]callhost.Address, 0, n)
	for i := 0; i < n; i++ {
		a, err := abi.ReadAddress(r)
		if err != nil {
			return nil, err
		}
		hops = append(hops, a)
	}
	return hops, nil
}

// encodeMessage returns the durable record of msg, whose hops list encodes
// as hops.
func encodeMessage(msg *message, hops []byte) []byte {
	size := recordOverhead + len(msg.from.Class) + len(msg.from.ID) + len(hops) +
		len(msg.steps) + len(msg.handler) + len(msg.args)
	b := msgp.AppendArrayHeader(make([]byte, 0, size), 11)
	b = msgp.AppendUint(b, recordFormat)
	b = msgp.AppendUint(b, uint64(msg.kind))
	b = msgp.AppendUint(b, msg.callID)
	b = msgp.AppendUint(b, msg.replyTo)
	b = abi.AppendAddress(b, msg.from)
	b = append(b, hops...)
	b = msgp.AppendBytes(b, msg.steps)
	b = msgp.AppendBool(b, msg.ext)
	b = msgp.AppendString(b, msg.handler)
	b = msgp.AppendBytes(b, msg.args)
	return msgp.AppendUint(b, uint64(msg.attempt))
}

// decodeMessage decodes a record written by encodeMessage.
func decodeMessage(data []byte) (*message, error) {
	r := msgp.NewReader(data)
	msg := &message{}
	var kind, attempt uint64
	err := readRecord(&r, "message",
		func() (err error) { kind, err = r.ReadUint(); return },
		func() (err error) { msg.callID, err = r.ReadUint(); return },
		func() (err error) { msg.replyTo, err = r.ReadUint(); return },
		func() (err error) { msg.from, err = abi.ReadAddress(&r); return },
		func() (err error) { msg.hops, err = readHopsList(&r); return },
		func() (err error) { msg.steps, err = readOwnedBytes(&r); return },
		func() (err error) { msg.ext, err = r.ReadBool(); return },
		func() (err error) { msg.handler, err = r.ReadString(); return },
		func() (err error) { msg.args, err = readOwnedBytes(&r); return },
		func() (err error) { attempt, err = r.ReadUint(); return },
	)
	if err != nil {
		return nil, err
	}
	msg.kind, msg.attempt = messageKind(kind), int(attempt)
	return msg, nil
}

// readRecord reads the header and format number of a record, then its fields
// in order, one function per field.
func readRecord(r *msgp.Reader, name string, fields ...func() error) error {
	n, err := r.ReadArrayHeader()
	if err == nil && n < len(fields)+1 {
		err = fmt.Errorf("%d fields, want %d", n, len(fields)+1)
	}
	if err == nil {
		var format uint64
		format, err = r.ReadUint()
		if err == nil && format != recordFormat {
			err = fmt.Errorf("format %d, want %d", format, recordFormat)
		}
	}
	for _, read := range fields {
		if err != nil {
			break
		}
		err = read()
	}
	if err != nil {
		return fmt.Errorf("decode %s record: %w", name, err)
	}
	return nil
}

func readOwnedBytes(r *msgp.Reader) ([]byte, error) {
	b, err := r.ReadBytes()
	if err != nil || len(b) == 0 {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// encodePending returns the durable record of a pending call of an object,
// whose hops list encodes as hops.
func encodePending(p *pending, hops []byte) []byte {
	size := recordOverhead + len(p.target.Class) + len(p.target.ID) + len(p.steps) +
		len(p.caller.Class) + len(p.caller.ID) + len(p.handler) + len(p.args) + len(hops)
	b := msgp.AppendArrayHeader(make([]byte, 0, size), 10)
	b = msgp.AppendUint(b, recordFormat)
	b = abi.AppendAddress(b, p.target)
	b = msgp.AppendBytes(b, p.steps)
	b = msgp.AppendInt(b, int64(p.timeout))
	b = msgp.AppendInt(b, p.deadline.UnixNano())
	b = abi.AppendAddress(b, p.caller)
	b = msgp.AppendString(b, p.handler)
	b = msgp.AppendBytes(b, p.args)
	b = msgp.AppendBool(b, p.placeholder)
	return append(b, hops...)
}

// decodePending decodes a record written by encodePending.
func decodePending(data []byte) (*pending, error) {
	r := msgp.NewReader(data)
	p := &pending{durable: true}
	var timeout, deadline int64
	err := readRecord(&r, "pending",
		func() (err error) { p.target, err = abi.ReadAddress(&r); return },
		func() (err error) { p.steps, err = readOwnedBytes(&r); return },
		func() (err error) { timeout, err = r.ReadInt(); return },
		func() (err error) { deadline, err = r.ReadInt(); return },
		func() (err error) { p.caller, err = abi.ReadAddress(&r); return },
		func() (err error) { p.handler, err = r.ReadString(); return },
		func() (err error) { p.args, err = readOwnedBytes(&r); return },
		func() (err error) { p.placeholder, err = r.ReadBool(); return },
		func() (err error) { p.hops, err = readHopsList(&r); return },
	)
	if err != nil {
		return nil, err
	}
	p.timeout, p.deadline = time.Duration(timeout), time.Unix(0, deadline)
	return p, nil
}

// recover loads what the store kept across a restart: pending calls go back
// into the pending table with their deadlines, and queued messages wait for
// their class to load.
func (rt *Runtime) recover(ctx context.Context) error {
	st, err := rt.store.Load(ctx)
	if err != nil {
		return err
	}
	rt.nextID.Store(st.NextID)
	for _, sp := range st.Pending {
		p, err := decodePending(sp.Data)
		if err != nil {
			return fmt.Errorf("pending call %d: %w", sp.ID, err)
		}
		p.id = sp.ID
		rt.pending.put(p.id, p)
		rt.wheel.add(p.id, p.deadline)
	}
	for _, sm := range st.Messages {
		msg, err := decodeMessage(sm.Data)
		if err != nil {
			return fmt.Errorf("message %d: %w", sm.Seq, err)
		}
		msg.seq, msg.to = sm.Seq, sm.To
		rt.parked[sm.To.Class] = append(rt.parked[sm.To.Class], msg)
	}
	if len(st.Pending) > 0 || len(st.Messages) > 0 {
		rt.log.Info("recovered from store", "pending_calls", len(st.Pending),
			"messages", len(st.Messages), "next_id", st.NextID)
	}
	return nil
}
