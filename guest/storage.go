package guest

import (
	"bytes"
	"fmt"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// minScratch is the initial size of the buffers that imports copy into.
const minScratch = 512

// KV is one stored pair returned by [Ctx.List].
type KV struct {
	Key   string
	Value []byte
}

// Get returns a copy of the value stored under key in this object's storage.
// ok is false when the key is absent. Reads see the turn's own earlier
// writes.
func (c *Ctx) Get(key string) (value []byte, ok bool, err error) {
	v, ok, err := c.get(key)
	if !ok || err != nil {
		return nil, ok, err
	}
	return bytes.Clone(v), true, nil
}

// Put stages a write of value under key. Staged writes are committed only
// if the turn succeeds. The host rejects keys over 1 KiB and values over
// 1 MiB by default with too_large.
func (c *Ctx) Put(key string, value []byte) error {
	if !c.active {
		return errTurnEnded
	}
	if c.d.host.kvPut(key, value) == abi.ResultFailed {
		return c.d.importError("kv_put")
	}
	return nil
}

// Add adds delta to the integer stored under key, an absent key counting as
// 0, stages a write of the sum and returns it. The sum is stored as a
// MessagePack integer, so Load of an int reads it. Add is one host call
// where Load and Store are two, with no decoding or encoding in the guest.
// It fails with bad_request when the stored value is not an integer or the
// sum overflows int64.
func (c *Ctx) Add(key string, delta int64) (int64, error) {
	if !c.active {
		return 0, errTurnEnded
	}
	d := c.d
	if d.host.kvAdd(key, delta, &d.sum) == abi.ResultFailed {
		return 0, d.importError("kv_add")
	}
	return d.sum, nil
}

// Delete stages the removal of key. Deleting an absent key is not an error.
func (c *Ctx) Delete(key string) error {
	if !c.active {
		return errTurnEnded
	}
	if c.d.host.kvDelete(key) == abi.ResultFailed {
		return c.d.importError("kv_delete")
	}
	return nil
}

// Load decodes the MessagePack value stored under key into a T. ok is false
// when the key is absent. Scalar types decode without reflection; other
// types go through msgpack.Unmarshal.
func Load[T any](c *Ctx, key string) (v T, ok bool, err error) {
	raw, ok, err := c.get(key)
	if !ok || err != nil {
		return v, ok, err
	}
	if err := decodeValue(raw, &v); err != nil {
		return v, true, fmt.Errorf("guest: load %q: decode into %T: %w", key, v, err)
	}
	return v, true, nil
}

// Store encodes v as MessagePack and stages a write of it under key; see
// [Ctx.Put]. Scalar types encode without reflection and without being boxed
// into an interface; other types go through msgpack.Marshal.
func Store[T any](c *Ctx, key string, v T) error {
	b, err := appendValue(c.d.valBuf[:0], &v)
	c.d.valBuf = b
	if err != nil {
		return fmt.Errorf("guest: store %q: encode %T: %w", key, v, err)
	}
	return c.Put(key, b)
}

// decodeValue decodes b into *p. Scalar types are decoded in place, so that
// p does not escape; other types are decoded into a copy on the heap.
func decodeValue[T any](b []byte, p *T) error {
	if ok, err := msgp.UnmarshalScalar(b, p); ok {
		return err
	}
	q := new(T)
	err := msgp.Unmarshal(b, q)
	*p = *q
	return err
}

// List returns the pairs whose keys start with prefix, sorted by key. It
// reads the range in pages, so it returns every key even when the host
// limits the page size, and it includes the turn's staged writes.
func (c *Ctx) List(prefix string) ([]KV, error) {
	var kvs []KV
	err := c.scan(prefix, func(key, value []byte) {
		kvs = append(kvs, KV{Key: string(key), Value: bytes.Clone(value)})
	})
	return kvs, err
}

// get returns the value of key in a buffer that the next import reuses.
func (c *Ctx) get(key string) ([]byte, bool, error) {
	if !c.active {
		return nil, false, errTurnEnded
	}
	d := c.d
	// The first attempt runs here rather than through copyOut, which
	// saves a wasm guest two function calls when the value fits.
	if cap(d.kvBuf) < minScratch {
		d.kvBuf = make([]byte, 0, minScratch)
	}
	var v []byte
	var err error
	dst := d.kvBuf[:cap(d.kvBuf)]
	n := d.host.kvGet(key, dst)
	if n <= int64(len(dst)) {
		v = dst[:max(n, 0)]
	} else {
		d.kvBuf = make([]byte, 0, n)
		v, n, err = copyOut("kv_get", &d.kvBuf, func(dst []byte) int64 {
			return d.host.kvGet(key, dst)
		})
	}
	switch {
	case err != nil:
		return nil, false, err
	case n == abi.ResultAbsent:
		return nil, false, nil
	case n == abi.ResultFailed:
		return nil, false, d.importError("kv_get")
	case n < 0:
		return nil, false, internalError("kv_get returned %d", n)
	}
	return v, true, nil
}

// scan calls fn for every pair under prefix. The slices passed to fn are
// valid only during the call.
//
// A page shorter than the limit does not prove the end of the range, because
// the ABI lets the host return fewer pairs than asked, so scan stops only at
// an empty page.
func (c *Ctx) scan(prefix string, fn func(key, value []byte)) error {
	if !c.active {
		return errTurnEnded
	}
	d := c.d
	start := d.startBuf[:0]
	for {
		page, err := d.listPage(prefix, start)
		if err != nil {
			return err
		}
		last, err := eachPair(page, fn)
		if err != nil {
			return internalError("kv_list returned a malformed page: %v", err)
		}
		if last == nil {
			d.startBuf = start
			return nil
		}
		if bytes.Compare(last, start) < 0 {
			return internalError("kv_list returned key %q before start key %q", last, start)
		}
		// The next page starts right after the last key.
		start = append(append(start[:0], last...), 0)
	}
}

// listPage returns one page of kv_list output in a buffer that the next
// call reuses.
func (d *dispatcher) listPage(prefix string, start []byte) ([]byte, error) {
	page, n, err := copyOut("kv_list", &d.listBuf, func(dst []byte) int64 {
		return d.host.kvList(prefix, start, d.listLimit, dst)
	})
	switch {
	case err != nil:
		return nil, err
	case n == abi.ResultFailed:
		return nil, d.importError("kv_list")
	case n < 0:
		return nil, internalError("kv_list returned %d", n)
	}
	return page, nil
}

// eachPair calls fn for each [key, value] pair of a kv_list page and returns
// the last key, or nil for an empty page.
func eachPair(page []byte, fn func(key, value []byte)) (last []byte, err error) {
	r := msgp.NewReader(page)
	n, err := r.ReadArrayHeader()
	for i := 0; i < n && err == nil; i++ {
		var key, value []byte
		key, value, err = readPair(&r)
		if err == nil {
			fn(key, value)
			last = key
		}
	}
	return last, err
}

func readPair(r *msgp.Reader) (key, value []byte, err error) {
	m, err := r.ReadArrayHeader()
	if err == nil && m < 2 {
		err = fmt.Errorf("pair has %d elements, want 2", m)
	}
	if err == nil {
		key, err = r.ReadBytes()
	}
	if err == nil {
		value, err = r.ReadBytes()
	}
	for i := 2; i < m && err == nil; i++ {
		err = r.Skip()
	}
	return key, value, err
}

// copyOut runs an import that follows the copy-out protocol: run writes to
// dst only when its output fits, and returns the output's length or a
// negative result. copyOut grows *buf until the output fits and returns the
// output with run's result.
func copyOut(name string, buf *[]byte, run func(dst []byte) int64) ([]byte, int64, error) {
	if cap(*buf) < minScratch {
		*buf = make([]byte, 0, minScratch)
	}
	// The output cannot change within a turn, so a second attempt always
	// fits; the third is there only to report a host that breaks this.
	for range 3 {
		dst := (*buf)[:cap(*buf)]
		n := run(dst)
		if n <= int64(len(dst)) {
			return dst[:max(n, 0)], n, nil
		}
		*buf = make([]byte, 0, n)
	}
	return nil, 0, internalError("%s output keeps growing", name)
}

// importError returns the error value of the import name that just
// returned -2, fetched with last_error.
func (d *dispatcher) importError(name string) error {
	b, n, err := copyOut("last_error", &d.errBuf, func(dst []byte) int64 {
		return int64(d.host.lastError(dst))
	})
	if err != nil {
		return err
	}
	if n < 0 {
		return internalError("%s failed and last_error returned %d", name, n)
	}
	_, failed, err := abi.DecodeOutcome(b)
	if err != nil {
		return internalError("%s failed and last_error returned a malformed value: %v",
			name, err)
	}
	if failed == nil {
		return internalError("%s failed but last_error returned success", name)
	}
	return failed
}

func internalError(format string, args ...any) *callhost.Error {
	return callhost.Errorf(callhost.CodeInternal, "guest: "+format, args...)
}
