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

func appendHopsList(b []byte, hops []callhost.Address) []byte {
	b = msgp.AppendArrayHeader(b, len(hops))
	for _, h := range hops {
		b = abi.AppendAddress(b, h)
	}
	return b
}

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

// encodeMessage returns the durable record of msg.
func encodeMessage(msg *message) []byte {
	b := msgp.AppendArrayHeader(nil, 11)
	b = msgp.AppendUint(b, recordFormat)
	b = msgp.AppendUint(b, uint64(msg.kind))
	b = msgp.AppendUint(b, msg.callID)
	b = msgp.AppendUint(b, msg.replyTo)
	b = abi.AppendAddress(b, msg.from)
	b = appendHopsList(b, msg.hops)
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

// encodePending returns the durable record of a pending call of an object.
func encodePending(p *pending) []byte {
	b := msgp.AppendArrayHeader(nil, 10)
	b = msgp.AppendUint(b, recordFormat)
	b = abi.AppendAddress(b, p.target)
	b = msgp.AppendBytes(b, p.steps)
	b = msgp.AppendInt(b, int64(p.timeout))
	b = msgp.AppendInt(b, p.deadline.UnixNano())
	b = abi.AppendAddress(b, p.caller)
	b = msgp.AppendString(b, p.handler)
	b = msgp.AppendBytes(b, p.args)
	b = msgp.AppendBool(b, p.placeholder)
	return appendHopsList(b, p.hops)
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
