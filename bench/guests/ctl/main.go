//go:build wasip1

// Command ctl is the guest module of the call-delay benchmark. The runner
// loads it twice: as class "ctl" for the controller object and as class
// "calc" for the objects the controller calls.
//
// The controller keeps its state in storage, because guest memory is not per
// object: an object may run its turns on any pooled instance of its class.
// The continuation of each call receives the batch size and progress
// interval as bound arguments, so that it reads and writes only the
// completion counter. Every handler on the hot path takes and returns
// scalars, which the SDK decodes and encodes without reflection.
package main

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
)

func main() {}

func init() {
	guest.Expose1("double", double)
	guest.Expose4("start", start)
	guest.Expose0("fire", fire)
	guest.Local3("got", got)
}

// double is the operation the benchmark measures: the target returns 2n.
func double(_ *guest.Ctx, n int) (int, error) { return 2 * n, nil }

// Storage keys of the controller.
const (
	keyFiring  = "s"  // the firing state, see firing
	keyRunner  = "r"  // client id of the runner that started the batch
	keyTarget  = "t"  // class of the target objects
	keyDone    = "d"  // outcomes received
	keyFailed  = "f"  // outcomes with an error
	keyInvalid = "i"  // successful outcomes with a wrong value
	keyErrs    = "e." // prefix of the error counts by code name
)

// firing is the state of the calls still to be made, encoded by hand.
type firing struct {
	n, chunk, step uint64 // operations, calls per fire turn, progress interval
	timeoutMS      uint64 // deadline of each call; 0 is the host default
	fired          uint64
	startNS        int64 // wall clock when start ran
	fanout         bool  // one target object per operation
}

const firingSize = 8*6 + 1

func (f *firing) encode() []byte {
	le := binary.LittleEndian
	b := make([]byte, 0, firingSize)
	b = le.AppendUint64(b, f.n)
	b = le.AppendUint64(b, f.chunk)
	b = le.AppendUint64(b, f.step)
	b = le.AppendUint64(b, f.timeoutMS)
	b = le.AppendUint64(b, f.fired)
	b = le.AppendUint64(b, uint64(f.startNS))
	if f.fanout {
		return append(b, 1)
	}
	return append(b, 0)
}

func (f *firing) decode(src []byte) error {
	if len(src) != firingSize {
		return guest.Errorf(callhost.CodeGuestError, "firing state has %d bytes, want %d",
			len(src), firingSize)
	}
	le := binary.LittleEndian
	f.n, f.chunk, f.step = le.Uint64(src), le.Uint64(src[8:]), le.Uint64(src[16:])
	f.timeoutMS, f.fired = le.Uint64(src[24:]), le.Uint64(src[32:])
	f.startNS, f.fanout = int64(le.Uint64(src[40:])), src[48] == 1
	return nil
}

// start begins a batch of n operations: it records the batch, fires the
// first chunk of calls and schedules the rest. The caller must be a client,
// which receives "progress" and "summary" calls. target is the class of the
// target objects. opts packs fanout (bit 0), the chunk size (bits 8-31) and
// the call timeout in ms (bits 32-62).
func start(c *guest.Ctx, n int, target string, step int, opts int) (int, error) {
	caller, ok := c.Caller()
	if !ok || caller.Class != callhost.ClassClient {
		return 0, guest.Errorf(callhost.CodeBadRequest, "start must be called by a client")
	}
	if n <= 0 || n >= 1<<32 {
		return 0, guest.Errorf(callhost.CodeBadRequest, "n is %d, want 1 to 2^32-1", n)
	}
	if _, found, err := c.Get(keyFiring); err != nil || found {
		if err == nil {
			err = guest.Errorf(callhost.CodeBadRequest, "%s already ran a batch", c.Self())
		}
		return 0, err
	}
	f := &firing{
		n: uint64(n), step: uint64(max(step, 1)), fanout: opts&1 != 0,
		chunk: uint64(max((opts>>8)&0xffffff, 1)), timeoutMS: uint64(opts) >> 32,
		startNS: time.Now().UnixNano(),
	}
	if err := c.Put(keyRunner, []byte(caller.ID)); err != nil {
		return 0, err
	}
	if err := c.Put(keyTarget, []byte(target)); err != nil {
		return 0, err
	}
	return n, fireChunk(c, f, target)
}

// fire fires the next chunk of the batch.
func fire(c *guest.Ctx) (guest.None, error) {
	raw, ok, err := c.Get(keyFiring)
	if err != nil || !ok {
		return guest.None{}, guest.Errorf(callhost.CodeGuestError, "no batch started: %v", err)
	}
	var f firing
	if err := f.decode(raw); err != nil {
		return guest.None{}, err
	}
	target, _, err := c.Get(keyTarget)
	if err != nil {
		return guest.None{}, err
	}
	return guest.None{}, fireChunk(c, &f, string(target))
}

// fireChunk makes up to f.chunk calls, saves f, and sends "fire" to this
// object while calls remain. Chunks keep each turn short: a turn's calls
// leave only when it commits, so one turn of a million calls would hold
// them all back and could run past the turn deadline.
func fireChunk(c *guest.Ctx, f *firing, target string) error {
	end := min(f.fired+f.chunk, f.n)
	var opts []guest.CallOption
	if f.timeoutMS > 0 {
		opts = append(opts, guest.Timeout(time.Duration(f.timeoutMS)*time.Millisecond))
	}
	// Each argument is boxed once and shared by the operation and the
	// continuation; c.Int boxes without an allocation per value.
	meta := c.Int(int(f.n | f.step<<32))
	to := guest.Object(target, "t")
	for i := f.fired; i < end; i++ {
		if f.fanout {
			to = guest.Object(target, "t"+strconv.FormatUint(i, 10))
		}
		n := c.Int(int(i))
		_, err := c.Call(to, guest.Op("double", n),
			guest.Then("got", n, meta, guest.Placeholder), opts...)
		if err != nil {
			return err
		}
	}
	f.fired = end
	if f.fired < f.n {
		if _, err := c.Send(c.Self(), guest.Op("fire")); err != nil {
			return err
		}
	}
	return c.Put(keyFiring, f.encode())
}

// got checks the outcome of operation i, counts it, and reports progress
// and the final summary to the runner. meta packs the batch size n (bits
// 0-31) and the progress interval (bits 32-62).
func got(c *guest.Ctx, i, meta int, r guest.Result[int]) (guest.None, error) {
	done, err := bump(c, keyDone)
	if err != nil {
		return guest.None{}, err
	}
	switch {
	case r.Err != nil:
		if _, err := bump(c, keyFailed); err != nil {
			return guest.None{}, err
		}
		_, err = bump(c, keyErrs+r.Err.Code.String())
	case r.Value != 2*i:
		_, err = bump(c, keyInvalid)
	}
	if err != nil {
		return guest.None{}, err
	}
	n, step := meta&(1<<32-1), meta>>32
	if done%step == 0 || done == n {
		err = report(c, done, n)
	}
	return guest.None{}, err
}

// bump adds one to the counter under key and returns the new count.
func bump(c *guest.Ctx, key string) (int, error) {
	n, err := c.Add(key, 1)
	return int(n), err
}

// count returns the counter under key.
func count(c *guest.Ctx, key string) int {
	v, _, _ := guest.Load[int](c, key)
	return v
}

// report sends progress, and the summary when the batch is complete, to the
// runner's "progress" and "summary" client handlers.
func report(c *guest.Ctx, done, n int) error {
	id, ok, err := c.Get(keyRunner)
	if err != nil || !ok {
		return guest.Errorf(callhost.CodeGuestError, "runner unknown: %v", err)
	}
	runner := guest.Object(callhost.ClassClient, string(id))
	failed, invalid := count(c, keyFailed), count(c, keyInvalid)
	if done < n {
		_, err := c.Send(runner, guest.Op("progress", done, failed+invalid))
		return err
	}
	summary, err := summarize(c, done, failed, invalid)
	if err != nil {
		return err
	}
	_, err = c.Send(runner, guest.Op("summary", summary))
	return err
}

func summarize(c *guest.Ctx, done, failed, invalid int) (map[string]any, error) {
	kvs, err := c.List(keyErrs)
	if err != nil {
		return nil, err
	}
	errs := map[string]any{}
	for _, kv := range kvs {
		var k int
		if err := callhost.Result(kv.Value).Decode(&k); err == nil {
			errs[kv.Key[len(keyErrs):]] = k
		}
	}
	raw, _, err := c.Get(keyFiring)
	if err != nil {
		return nil, err
	}
	var f firing
	if err := f.decode(raw); err != nil {
		return nil, err
	}
	return map[string]any{
		"completed": done, "invalid": invalid, "failed": failed, "errors": errs,
		"wall_ns": time.Now().UnixNano() - f.startNS,
	}, nil
}
