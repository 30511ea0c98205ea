package guest

import (
	"errors"
	"log/slog"

	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// errTurnEnded is returned by Ctx methods that reach the host after the turn
// the Ctx belongs to has ended.
var errTurnEnded = errors.New("guest: Ctx used after its turn ended; " +
	"a Ctx is valid only during the handler call it was passed to")

// Ctx is the context of one turn: the request being served and access to the
// object's storage, to calls and to the host's log.
//
// A Ctx is valid only during the handler call it is passed to. The SDK reuses
// one Ctx for every turn, so do not keep it or use it from another goroutine.
// After the turn, methods that reach the host return an error, and the
// others return zero values or those of a later turn.
type Ctx struct {
	d      *dispatcher
	active bool

	kind    int
	req     []byte // the request; every slice below aliases it
	handler []byte
	argsOff int // offset of the arguments array in req

	// The fields after the arguments, read on first use by readTail.
	tailRead bool
	callID   uint64
	self     rawAddress
	caller   rawAddress
	isCaller bool
	hopsRaw  []byte
	hops     []Address // decoded on the first call of Hops
}

// rawAddress is an address still in the request's bytes.
type rawAddress struct{ class, id []byte }

// begin starts a turn of the request req. It reads only the kind and the
// handler, because every field read costs time inside a wasm guest. The
// arguments are decoded in place by the handler, and the fields after them
// by readTail when the handler calls Self, Caller, Hops or CallID.
func (c *Ctx) begin(req []byte) error {
	r := msgp.NewReader(req)
	n, ok := r.TryArrayHeader()
	var err error
	if !ok {
		n, err = r.ReadArrayHeader()
	}
	if err == nil && n < 7 {
		return badRequest("request has %d elements, want 7", n)
	}
	kind, ok := r.TryInt()
	if !ok && err == nil {
		kind, err = r.ReadInt()
	}
	if c.handler, ok = r.TryStringBytes(); !ok && err == nil {
		c.handler, err = r.ReadStringBytes()
	}
	if err != nil {
		return badRequest("malformed request: %v", err)
	}
	c.kind, c.req, c.argsOff, c.active = int(kind), req, r.Offset(), true
	// A stale Ctx used between turns may have read the empty tail.
	c.tailRead, c.hops = false, nil
	return nil
}

// readTail reads self, caller, hops and call id once per turn. A malformed
// tail leaves them zero: the host builds every request, so the cost of
// checking each turn is not worth it.
func (c *Ctx) readTail() {
	if c.tailRead {
		return
	}
	c.tailRead = true
	r := msgp.NewReader(c.req[c.argsOff:])
	err := r.Skip()
	if err == nil {
		c.self, err = readRawAddress(&r)
	}
	if err == nil {
		c.isCaller = !r.IsNil()
		if c.isCaller {
			c.caller, err = readRawAddress(&r)
		}
	}
	if err == nil {
		c.hopsRaw, err = r.ReadRaw()
	}
	if err == nil {
		c.callID, err = r.ReadUint()
	}
	if err != nil {
		c.callID, c.isCaller, c.hopsRaw = 0, false, nil
		c.self, c.caller = rawAddress{}, rawAddress{}
	}
}

func readRawAddress(r *msgp.Reader) (rawAddress, error) {
	n, err := r.ReadArrayHeader()
	if err == nil && n < 2 {
		return rawAddress{}, badRequest("address has %d elements, want 2", n)
	}
	var a rawAddress
	if err == nil {
		a.class, err = r.ReadStringBytes()
	}
	if err == nil {
		a.id, err = r.ReadStringBytes()
	}
	for i := 2; i < n && err == nil; i++ {
		err = r.Skip()
	}
	return a, err
}

// end closes the turn and drops the references into the request.
func (c *Ctx) end() {
	*c = Ctx{d: c.d}
}

// Self returns the address of the object this turn runs on.
func (c *Ctx) Self() Address {
	c.readTail()
	return c.d.self.get(c.self)
}

// Caller returns who sent the call being served: an object, a client (class
// "@client") or an embedding Go program (class "@embed"). In a continuation
// it is the target of the call whose outcome arrived. ok is false when the host names
// no caller, as in an alarm turn.
func (c *Ctx) Caller() (addr Address, ok bool) {
	c.readTail()
	if !c.isCaller {
		return Address{}, false
	}
	return c.d.caller.get(c.caller), true
}

// Hops returns the chain of senders that led to this turn, oldest first. The
// slice is new for each turn; the caller may keep it.
func (c *Ctx) Hops() []Address {
	c.readTail()
	if c.hops != nil || len(c.hopsRaw) == 0 {
		return c.hops
	}
	r := msgp.NewReader(c.hopsRaw)
	n, _ := r.ReadArrayHeader()
	c.hops = make([]Address, 0, n)
	for i := 0; i < n; i++ {
		a, err := abi.ReadAddress(&r)
		if err != nil {
			break
		}
		c.hops = append(c.hops, a)
	}
	return c.hops
}

// CallID returns the id of the call being served or, in a continuation, of
// the call whose outcome the continuation carries. In an alarm turn it
// returns the alarm's id.
func (c *Ctx) CallID() uint64 {
	c.readTail()
	return c.callID
}

// Continuation reports whether this turn runs a continuation rather than an
// invoked handler. It is false in an alarm turn: see [Ctx.Alarm].
func (c *Ctx) Continuation() bool { return c.kind == abi.KindContinuation }

// Logger returns a logger whose records the guest formats as text (without
// time and level) and passes to the host's log with the record's level.
// Records logged after the turn ended go to standard error instead. The
// host cuts long records and drops the records of a turn past its log budget,
// 8 KiB and 64 KiB by default.
func (c *Ctx) Logger() *slog.Logger { return c.d.logger }

// addressCache keeps the last address decoded from request bytes, so that an
// instance serving the same object turn after turn does not allocate its
// address again.
type addressCache struct{ addr Address }

func (a *addressCache) get(raw rawAddress) Address {
	if string(raw.class) != a.addr.Class || string(raw.id) != a.addr.ID {
		a.addr = Address{Class: string(raw.class), ID: string(raw.id)}
	}
	return a.addr
}
