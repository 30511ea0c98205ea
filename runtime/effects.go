package runtime

import (
	"bytes"
	"math"
	"sort"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/store"
)

// Default storage limits of the guest ABI.
const (
	// Deprecated: MaxKeySize is the default of [Options.MaxKeySize] only. Use
	// DefaultMaxKeySize.
	MaxKeySize = DefaultMaxKeySize
	// Deprecated: MaxValueSize is the default of [Options.MaxValueSize] only.
	// Use DefaultMaxValueSize.
	MaxValueSize = DefaultMaxValueSize
)

const listPageSize = 1000

// stagedCall is a call made by a turn: the checked parts of its envelope,
// from which the run builds its message and pending entry (see
// runEffects.build). With the memory store the run builds them only when
// its effects apply, after the object is released, so the allocation of each
// call stays off the object's serial path.
type stagedCall struct {
	id     uint64
	target callhost.Address
	// replyTo is the pending call that the invoke's outcome completes: the
	// call itself when it has a continuation, the call being served when it
	// is forwarded, and 0 otherwise.
	replyTo     uint64
	handler     string // continuation handler; "" for a call without one
	hasCont     bool
	placeholder bool
	ext         bool
	// The operation and the continuation arguments, one after the other,
	// at offset in the arena of the turn and then of the run.
	offset, stepsLen, argsLen int
	timeout                   time.Duration
	deadline                  time.Time // set when the turn's effects join the run
	// The hops of the call's message (the turn's plus the object) and of its
	// pending entry (the turn's).
	hops, turnHops []callhost.Address
}

// callRecord is the memory of the invoke and the pending entry of a call
// with a continuation, allocated together. No part is ever reused for
// another call. The target's queue and then its turn own invoke, and the run
// and then the pending table own pending. Durable records are encoded
// copies. The garbage collector frees the record once no part is referenced.
//
// The continuation message is allocated when the outcome arrives, on the
// worker of the call's target. In the record it would grow the
// record, which the calling object's turn allocates and clears on its
// serial path, from the 480-byte size class to the 704-byte one.
type callRecord struct {
	invoke  message
	pending pending
	// owned holds the copies of the operation and the continuation arguments
	// when they fit, as they do for calls with a few scalar arguments, so
	// that they need no allocation of their own. With it the record fills
	// the 480-byte size class on 64-bit platforms, as
	// TestCallRecordFitsSizeClass checks.
	owned [callRecordOwned]byte
}

// callRecordOwned is the size of callRecord.owned.
const callRecordOwned = 48

// maxTimeoutMS is the longest call timeout, in milliseconds, that a
// time.Duration holds: about 292 years.
const maxTimeoutMS = uint64(math.MaxInt64 / int64(time.Millisecond))

// Call implements host.Effects: it checks a call envelope from the guest and
// stages the call.
func (t *turn) Call(envelope []byte) (uint64, error) {
	if err := t.checkCallLimits(envelope); err != nil {
		return 0, err
	}
	var c abi.CallView
	var chk abi.CallChecks
	if err := t.rt.limits.DecodeCheckedCall(envelope, &c, &chk); err != nil {
		return 0, callhost.Errorf(callhost.CodeBadRequest, "call envelope: %v", err)
	}
	return t.stage(&c, &chk)
}

// CallChecked stages a call that the host has decoded and checked already,
// as abi.AppendIntCallView does for the call_ints import. c and chk must be
// what DecodeCheckedCall gives for envelope under limits for which
// abi.Limits.AllowsSimpleCalls holds. Under other limits CallChecked decodes
// envelope as Call does.
func (t *turn) CallChecked(envelope []byte, c *abi.CallView, chk *abi.CallChecks) (uint64, error) {
	if !t.rt.limits.AllowsSimpleCalls() {
		return t.Call(envelope)
	}
	if err := t.checkCallLimits(envelope); err != nil {
		return 0, err
	}
	return t.stage(c, chk)
}

// stage checks the decoded call c against the turn's object and stages it.
func (t *turn) stage(c *abi.CallView, chk *abi.CallChecks) (uint64, error) {
	if chk.OperationErr != nil {
		return 0, chk.OperationErr
	}
	info := chk.Operation
	target := t.internTarget(c.TargetClass, c.TargetID)
	if err := t.checkTarget(target); err != nil {
		return 0, err
	}
	contHandler, err := t.checkContinuation(c, chk)
	if err != nil {
		return 0, err
	}
	placeholder := chk.Placeholder
	forward := c.Flags&abi.FlagForward != 0
	if err := t.checkForward(c, forward); err != nil {
		return 0, err
	}
	if c.TimeoutMS > maxTimeoutMS {
		return 0, callhost.Errorf(callhost.CodeBadRequest,
			"call timeout of %d ms is over the maximum of %d ms", c.TimeoutMS, maxTimeoutMS)
	}
	timeout := t.rt.opts.CallTimeout
	if c.TimeoutMS > 0 {
		timeout = time.Duration(c.TimeoutMS) * time.Millisecond
	}
	offset := len(t.arena)
	t.arena = append(append(t.arena, c.Steps...), c.ContArgs...)
	id := t.rt.nextID.Add(1)
	call := stagedCall{
		id:          id,
		target:      target,
		handler:     contHandler,
		hasCont:     c.HasCont,
		placeholder: placeholder,
		ext:         info.Ext,
		offset:      offset,
		stepsLen:    len(c.Steps),
		argsLen:     len(c.ContArgs),
		timeout:     timeout,
		hops:        t.callHops(),
		turnHops:    t.msg.hops,
	}
	switch {
	case c.HasCont:
		call.replyTo = id
	case forward:
		call.replyTo = t.msg.replyTo
	}
	t.calls = append(t.calls, call)
	return id, nil
}

// build returns the invoke message of c and, for a call with a
// continuation, its pending entry, with copies of the operation and the
// continuation arguments from arena.
func (c *stagedCall) build(rt *Runtime, from callhost.Address, arena []byte) (*message, *pending) {
	var rec *callRecord
	var owned []byte
	if c.hasCont {
		rec = new(callRecord)
		owned = rec.owned[:0]
	}
	owned = ownBytes(owned, arena[c.offset:c.offset+c.stepsLen],
		arena[c.offset+c.stepsLen:c.offset+c.stepsLen+c.argsLen])
	steps := owned[:c.stepsLen:c.stepsLen]
	contArgs := owned[c.stepsLen:len(owned):len(owned)]
	invoke := message{kind: msgInvoke, callID: c.id, replyTo: c.replyTo, from: from,
		hops: c.hops, steps: steps, ext: c.ext, to: c.target}
	if !c.hasCont {
		return &invoke, nil
	}
	rec.invoke = invoke
	rec.pending = pending{
		id:          c.id,
		target:      c.target,
		steps:       steps,
		timeout:     c.timeout,
		caller:      from,
		handler:     c.handler,
		args:        contArgs,
		placeholder: c.placeholder,
		hops:        c.turnHops,
		deadline:    c.deadline,
		durable:     rt.durable,
	}
	return &rec.invoke, &rec.pending
}

// ownBytes returns copies of steps and args, one after the other, in buf
// when they fit in its capacity and in a new array otherwise.
func ownBytes(buf, steps, args []byte) []byte {
	if n := len(steps) + len(args); n > cap(buf) {
		buf = make([]byte, 0, n)
	}
	return append(append(buf[:0], steps...), args...)
}

// internTarget returns the address with the given class and id, reusing the
// strings of the previous call's target where they match, because a turn
// often makes many calls to one object or class.
func (t *turn) internTarget(class, id []byte) callhost.Address {
	a := t.lastTarget
	if string(class) != a.Class {
		a.Class = string(class)
	}
	if string(id) != a.ID {
		a.ID = string(id)
	}
	t.lastTarget = a
	return a
}

// checkCallLimits checks the size of a call envelope and the number of calls
// the turn has made.
func (t *turn) checkCallLimits(envelope []byte) error {
	opts := &t.rt.opts
	if len(envelope) > opts.MaxCallSize {
		return callhost.Errorf(callhost.CodeTooLarge,
			"call envelope from %s is %d bytes, max %d", t.obj.addr, len(envelope),
			opts.MaxCallSize)
	}
	if len(t.calls) >= opts.MaxCallsPerTurn {
		return callhost.Errorf(callhost.CodeTooLarge,
			"turn of %s for call %d has made %d calls, max %d per turn", t.obj.addr,
			t.msg.callID, len(t.calls), opts.MaxCallsPerTurn)
	}
	return nil
}

// checkTarget checks the target of a call against the id limit and the
// calling class's call rules.
func (t *turn) checkTarget(to callhost.Address) error {
	if to.Class == "" || to.ID == "" {
		return callhost.Errorf(callhost.CodeBadRequest,
			"call target %q needs a class and an id", to.String())
	}
	if err := t.rt.checkID(to); err != nil {
		return err
	}
	if r := t.obj.class.rule; r != nil {
		return r.allow(t.obj.addr, to)
	}
	return nil
}

// checkContinuation checks the continuation of call c, if any, with the
// result chk of checking its arguments, and returns its handler's name as
// the class's handler table spells it.
func (t *turn) checkContinuation(c *abi.CallView, chk *abi.CallChecks) (handler string, err error) {
	if !c.HasCont {
		return "", nil
	}
	self := t.obj.addr
	named := len(c.ContObjectClass) > 0 || len(c.ContObjectID) > 0
	if named && (string(c.ContObjectClass) != self.Class || string(c.ContObjectID) != self.ID) {
		object := callhost.Address{Class: string(c.ContObjectClass), ID: string(c.ContObjectID)}
		return "", callhost.Errorf(callhost.CodeForbidden,
			"continuation names object %s, but only the calling object %s may run it",
			object, self)
	}
	h, ok := lookupHandler(t, c.ContHandler)
	if !ok {
		return "", callhost.Errorf(callhost.CodeNotFound,
			"continuation handler %q not found in class %q", c.ContHandler, self.Class)
	}
	if chk.ContArgsErr != nil {
		return "", chk.ContArgsErr
	}
	return h.Name, nil
}

func (t *turn) checkForward(c *abi.CallView, forward bool) error {
	if !forward {
		return nil
	}
	switch {
	case c.HasCont:
		return callhost.Errorf(callhost.CodeBadRequest, "a forwarded call cannot have a continuation")
	case t.msg.kind != msgInvoke:
		return callhost.Errorf(callhost.CodeBadRequest,
			"forward outside a call: continuation turns have no caller to answer")
	case t.forwarded:
		return callhost.Errorf(callhost.CodeBadRequest, "call %d is already forwarded", t.msg.callID)
	}
	t.forwarded = true
	return nil
}

// Get implements host.Effects. Staged writes of the turn come first.
func (t *turn) Get(key []byte) ([]byte, bool, error) {
	if err := t.checkKey(key); err != nil {
		return nil, false, err
	}
	if w := t.writes.find(key); w != nil {
		return w.Value, !w.Delete, nil
	}
	if w := t.effects.writes.find(key); w != nil {
		return w.Value, !w.Delete, nil
	}
	v, ok, err := t.rt.store.Get(t.rt.ctx, t.obj.addr, key)
	if err != nil {
		return nil, false, callhost.Errorf(callhost.CodeInternal, "storage get: %v", err)
	}
	return v, ok, nil
}

// Put implements host.Effects.
func (t *turn) Put(key, value []byte) error {
	if err := t.checkKey(key); err != nil {
		return err
	}
	if limit := t.rt.opts.MaxValueSize; len(value) > limit {
		return callhost.Errorf(callhost.CodeTooLarge,
			"storage value for key %q is %d bytes, max %d", key, len(value), limit)
	}
	// One allocation holds copies of both, because key and value alias guest
	// memory. The store keeps the value, and with it the key's few bytes.
	// The value is never nil, which would mean a deletion.
	owned := make([]byte, len(key)+len(value))
	n := copy(owned, key)
	copy(owned[n:], value)
	t.writes.set(store.Write{Key: owned[:n:n], Value: owned[n:]})
	return nil
}

// Add implements host.Effects. The value under key must be absent or a
// MessagePack integer that fits in an int64, and the sum is stored as one.
func (t *turn) Add(key []byte, delta int64) (int64, error) {
	cur, found, err := t.Get(key)
	if err != nil {
		return 0, err
	}
	var n int64
	if found {
		r := msgp.NewReader(cur)
		if n, err = r.ReadInt(); err != nil || r.Len() != 0 {
			return 0, callhost.Errorf(callhost.CodeBadRequest,
				"storage value for key %q is not an int64 integer, so kv_add cannot add to it",
				key)
		}
	}
	sum := n + delta
	if (delta > 0 && sum < n) || (delta < 0 && sum > n) {
		return 0, callhost.Errorf(callhost.CodeBadRequest,
			"adding %d to %d under key %q overflows int64", delta, n, key)
	}
	// One allocation holds the key, which aliases guest memory, and the
	// encoded sum, at most 9 bytes.
	owned := make([]byte, len(key), len(key)+9)
	copy(owned, key)
	value := msgp.AppendInt(owned[len(key):], sum)
	t.writes.set(store.Write{Key: owned[:len(key):len(key)], Value: value})
	return sum, nil
}

// Delete implements host.Effects.
func (t *turn) Delete(key []byte) error {
	if err := t.checkKey(key); err != nil {
		return err
	}
	t.writes.set(store.Write{Key: bytes.Clone(key), Delete: true})
	return nil
}

func (t *turn) checkKey(key []byte) error {
	if len(key) == 0 {
		return callhost.Errorf(callhost.CodeBadRequest, "storage key is empty")
	}
	if limit := t.rt.opts.MaxKeySize; len(key) > limit {
		return callhost.Errorf(callhost.CodeTooLarge,
			"storage key is %d bytes, max %d", len(key), limit)
	}
	return nil
}

// List implements host.Effects: stored pairs merged with the turn's staged
// writes, as an array of [key, value] pairs.
func (t *turn) List(prefix, start []byte, limit int, dst []byte) ([]byte, error) {
	if limit <= 0 || limit > listPageSize {
		limit = listPageSize
	}
	staged := t.stagedIn(prefix, start)
	kvs, err := t.rt.store.List(t.rt.ctx, t.obj.addr, prefix, start, limit+len(staged))
	if err != nil {
		return dst, callhost.Errorf(callhost.CodeInternal, "storage list: %v", err)
	}
	merged := make(map[string][]byte, len(kvs)+len(staged))
	for _, kv := range kvs {
		merged[string(kv.Key)] = kv.Value
	}
	for _, w := range staged {
		if w.Delete {
			delete(merged, string(w.Key))
		} else {
			merged[string(w.Key)] = w.Value
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) > limit {
		keys = keys[:limit]
	}
	dst = msgp.AppendArrayHeader(dst, len(keys))
	for _, k := range keys {
		dst = msgp.AppendArrayHeader(dst, 2)
		dst = msgp.AppendBytes(dst, []byte(k))
		dst = msgp.AppendBytes(dst, merged[k])
	}
	return dst, nil
}

// stagedIn returns the uncommitted writes of the run and then of the turn
// whose keys have prefix and are >= start. Later entries override earlier ones.
func (t *turn) stagedIn(prefix, start []byte) []*store.Write {
	var out []*store.Write
	for _, list := range [][]store.Write{t.effects.writes.list, t.writes.list} {
		for i := range list {
			w := &list[i]
			if bytes.HasPrefix(w.Key, prefix) && bytes.Compare(w.Key, start) >= 0 {
				out = append(out, w)
			}
		}
	}
	return out
}
