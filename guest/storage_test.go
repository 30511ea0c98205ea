//go:build !wasip1

package guest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
)

// storageHarness returns a harness whose "run" handler runs fn.
func storageHarness(t *testing.T, fn func(c *Ctx) error) *harness {
	h := newHarness(t)
	h.reg.add(bind0("run", true, func(c *Ctx) (None, error) { return None{}, fn(c) }))
	return h
}

func TestStorageRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("v"), 3*minScratch)
	var gotBig, gotSmall []byte
	var absent bool
	h := storageHarness(t, func(c *Ctx) error {
		if err := c.Put("big", big); err != nil {
			return err
		}
		if err := c.Put("small", []byte("s")); err != nil {
			return err
		}
		var err error
		if gotBig, _, err = c.Get("big"); err != nil {
			return err
		}
		if gotSmall, _, err = c.Get("small"); err != nil {
			return err
		}
		if err := c.Delete("small"); err != nil {
			return err
		}
		_, ok, err := c.Get("small")
		absent = !ok
		return err
	})
	h.invoke("run")
	if !bytes.Equal(gotBig, big) {
		t.Errorf("Get(big) returned %d bytes, want %d", len(gotBig), len(big))
	}
	if string(gotSmall) != "s" {
		t.Errorf("Get(small) = %q, want %q", gotSmall, "s")
	}
	if !absent {
		t.Errorf("Get after Delete found the key")
	}
	// The big value needs a second kv_get with a larger buffer.
	if h.host.gets != 4 {
		t.Errorf("host saw %d kv_get calls, want 4", h.host.gets)
	}
}

func TestGetReturnsCopy(t *testing.T) {
	var first []byte
	h := storageHarness(t, func(c *Ctx) error {
		var err error
		first, _, err = c.Get("a")
		if err == nil {
			_, _, err = c.Get("b")
		}
		return err
	})
	h.host.kv["a"], h.host.kv["b"] = []byte("aaaa"), []byte("bbbb")
	h.invoke("run")
	if string(first) != "aaaa" {
		t.Errorf("value of a changed to %q after reading b", first)
	}
}

type account struct {
	Owner   string
	Balance int64
}

func TestLoadStore(t *testing.T) {
	var n int
	var acct account
	var found, missing bool
	h := storageHarness(t, func(c *Ctx) error {
		if err := Store(c, "n", 7); err != nil {
			return err
		}
		if err := Store(c, "acct", account{Owner: "ann", Balance: -3}); err != nil {
			return err
		}
		var err error
		if n, found, err = Load[int](c, "n"); err != nil {
			return err
		}
		if acct, _, err = Load[account](c, "acct"); err != nil {
			return err
		}
		_, ok, err := Load[string](c, "nothing")
		missing = !ok
		return err
	})
	h.invoke("run")
	if n != 7 || !found {
		t.Errorf("Load[int](n) = %d, %v, want 7, true", n, found)
	}
	if acct != (account{Owner: "ann", Balance: -3}) {
		t.Errorf("Load[account] = %+v", acct)
	}
	if !missing {
		t.Errorf("Load of an absent key reported it present")
	}
}

func TestLoadDecodeError(t *testing.T) {
	h := storageHarness(t, func(c *Ctx) error {
		_, _, err := Load[int](c, "name")
		return err
	})
	h.host.kv["name"] = []byte{0xa3, 'a', 'n', 'n'}
	failed := h.invokeErr("run")
	if failed.Code != callhost.CodeGuestError {
		t.Errorf("code = %v, want guest_error", failed.Code)
	}
	want := `guest: load "name": decode into int: msgpack: expected integer`
	if !strings.HasPrefix(failed.Message, want) {
		t.Errorf("message = %q, want prefix %q", failed.Message, want)
	}
}

func TestStorageImportErrors(t *testing.T) {
	long := strings.Repeat("x", 2*minScratch)
	h := storageHarness(t, func(c *Ctx) error {
		if err := c.Put("ok", []byte("v")); err != nil {
			return fmt.Errorf("put ok: %w", err)
		}
		return c.Put("huge", []byte("v"))
	})
	h.host.failPut["huge"] = callhost.Errorf(callhost.CodeTooLarge, "value too large%s", long)
	failed := h.invokeErr("run")
	if failed.Code != callhost.CodeTooLarge {
		t.Errorf("code = %v, want too_large", failed.Code)
	}
	if failed.Message != "value too large"+long {
		t.Errorf("message has %d bytes, want the host's %d", len(failed.Message),
			len("value too large"+long))
	}
}

func TestImportErrorMalformedLastError(t *testing.T) {
	d := newDispatcher(&registry{}, newFakeHost())
	host := d.host.(*fakeHost)
	cases := map[string][]byte{
		"malformed": {0x92},
		"success":   abi.AppendOK(nil, nil),
	}
	for name, lastErr := range cases {
		host.lastErr = lastErr
		err := d.importError("kv_put")
		var e *callhost.Error
		if !errors.As(err, &e) || e.Code != callhost.CodeInternal {
			t.Errorf("%s: error = %v, want internal", name, err)
		}
	}
}

func TestListPages(t *testing.T) {
	for _, tc := range []struct {
		name             string
		limit, hostLimit int
		wantPages        int
	}{
		{"guest limit", 2, 0, 4},      // pages of 2, 2, 1, then an empty page
		{"host limit", 1000, 3, 3},    // host caps pages at 3: 3, 2, empty
		{"default limit", 1000, 0, 2}, // one page, then an empty page
	} {
		t.Run(tc.name, func(t *testing.T) {
			var kvs []KV
			h := storageHarness(t, func(c *Ctx) error {
				var err error
				kvs, err = c.List("user/")
				return err
			})
			h.d.listLimit, h.host.maxPage = int32(tc.limit), tc.hostLimit
			for _, k := range []string{"user/e", "user/a", "user/c", "user/b", "user/d",
				"users", "admin/a", "user0"} {
				h.host.kv[k] = []byte("v-" + k)
			}
			h.invoke("run")
			var got []string
			for _, kv := range kvs {
				got = append(got, kv.Key+"="+string(kv.Value))
			}
			want := "[user/a=v-user/a user/b=v-user/b user/c=v-user/c " +
				"user/d=v-user/d user/e=v-user/e]"
			if fmt.Sprint(got) != want {
				t.Errorf("List = %v, want %v", got, want)
			}
			if len(h.host.starts) != tc.wantPages {
				t.Errorf("kv_list called %d times (starts %q), want %d",
					len(h.host.starts), h.host.starts, tc.wantPages)
			}
		})
	}
}

func TestListLargePage(t *testing.T) {
	var kvs []KV
	h := storageHarness(t, func(c *Ctx) error {
		var err error
		kvs, err = c.List("")
		return err
	})
	for i := range 50 {
		h.host.kv[fmt.Sprintf("k%02d", i)] = bytes.Repeat([]byte{byte(i)}, 100)
	}
	h.invoke("run")
	if len(kvs) != 50 {
		t.Fatalf("List returned %d pairs, want 50", len(kvs))
	}
	if kvs[49].Key != "k49" || !bytes.Equal(kvs[49].Value, bytes.Repeat([]byte{49}, 100)) {
		t.Errorf("last pair = %q, %v", kvs[49].Key, kvs[49].Value[:4])
	}
}

// stuckListHost returns the same page whatever start key it is given.
type stuckListHost struct{ *fakeHost }

func (h stuckListHost) kvList(prefix string, _ []byte, limit int32, dst []byte) int64 {
	return h.fakeHost.kvList(prefix, nil, limit, dst)
}

func TestListRejectsHostIgnoringStart(t *testing.T) {
	reg := &registry{}
	host := newFakeHost()
	host.kv["a"], host.kv["b"] = []byte("1"), []byte("2")
	d := newDispatcher(reg, stuckListHost{host})
	reg.add(bind0("run", true, func(c *Ctx) (None, error) {
		_, err := c.List("")
		return None{}, err
	}))
	out := d.turn(abi.AppendRequest(nil, request(abi.KindInvoke, "run")))
	_, failed, err := abi.DecodeOutcome(out)
	if err != nil {
		t.Fatalf("decode response: %v", err)
	}
	if failed == nil || failed.Code != callhost.CodeInternal {
		t.Fatalf("List against a host that ignores start: got %v, want internal", failed)
	}
	if !strings.Contains(failed.Message, "before start key") {
		t.Errorf("message = %q", failed.Message)
	}
}

func TestAddCountsFromAbsent(t *testing.T) {
	h := newHarness(t)
	var sums []int64
	var loaded int
	h.reg.add(bind0("run", true, func(c *Ctx) (None, error) {
		for _, delta := range []int64{3, -10, 1 << 40} {
			sum, err := c.Add("n", delta)
			if err != nil {
				return None{}, err
			}
			sums = append(sums, sum)
		}
		var err error
		loaded, _, err = Load[int](c, "n")
		return None{}, err
	}))
	h.invoke("run")
	want := []int64{3, -7, 1<<40 - 7}
	if len(sums) != len(want) || sums[0] != want[0] || sums[1] != want[1] || sums[2] != want[2] {
		t.Errorf("Add returned %v, want %v", sums, want)
	}
	if loaded != 1<<40-7 {
		t.Errorf("Load after Add = %d, want %d", loaded, 1<<40-7)
	}
}

func TestAddReportsHostError(t *testing.T) {
	h := newHarness(t)
	h.host.failPut["n"] = callhost.Errorf(callhost.CodeTooLarge, "key too long")
	var err error
	h.reg.add(bind0("run", true, func(c *Ctx) (None, error) {
		_, err = c.Add("n", 1)
		return None{}, nil
	}))
	h.invoke("run")
	var e *callhost.Error
	if !errors.As(err, &e) || e.Code != callhost.CodeTooLarge {
		t.Errorf("Add error = %v, want too_large from the host", err)
	}
}
