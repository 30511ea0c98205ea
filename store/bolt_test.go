package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var _ Store = (*Bolt)(nil)

// openBolt opens a store in dir and closes it when the test ends.
func openBolt(t testing.TB, dir string, opts BoltOptions) *Bolt {
	t.Helper()
	s, err := OpenBolt(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// commit commits b and waits for its done.
func commit(s Store, b *Batch) error {
	ch := make(chan error, 1)
	s.Commit(b, func(err error) { ch <- err })
	return <-ch
}

func mustCommit(t testing.TB, s Store, b *Batch) {
	t.Helper()
	if err := commit(s, b); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func put(obj callhost.Address, key, value string) Write {
	return Write{Object: obj, Key: []byte(key), Value: []byte(value)}
}

func del(obj callhost.Address, key string) Write {
	return Write{Object: obj, Key: []byte(key), Delete: true}
}

// get returns obj's value of key, or "<absent>".
func get(t testing.TB, s Store, obj callhost.Address, key string) string {
	t.Helper()
	v, ok, err := s.Get(context.Background(), obj, []byte(key))
	if err != nil {
		t.Fatalf("get %s %q: %v", obj, key, err)
	}
	if !ok {
		return "<absent>"
	}
	return string(v)
}

// listKeys returns the keys that List returns, joined by commas.
func listKeys(t testing.TB, s Store, obj callhost.Address, prefix, start string,
	limit int) string {
	t.Helper()
	kvs, err := s.List(context.Background(), obj, []byte(prefix), []byte(start), limit)
	if err != nil {
		t.Fatalf("list %s: %v", obj, err)
	}
	keys := make([]string, len(kvs))
	for i, kv := range kvs {
		keys[i] = string(kv.Key)
	}
	return strings.Join(keys, ",")
}

func TestBoltGetPutDelete(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	a := callhost.Object("counter", "a")
	b := callhost.Object("counter", "b")

	mustCommit(t, s, &Batch{Writes: []Write{put(a, "x", "1"), put(b, "x", "2"), put(a, "y", "")}})
	if got := get(t, s, a, "x"); got != "1" {
		t.Errorf("a x = %q, want 1", got)
	}
	if got := get(t, s, b, "x"); got != "2" {
		t.Errorf("b x = %q, want 2", got)
	}
	if got := get(t, s, a, "y"); got != "" {
		t.Errorf("a y = %q, want empty value", got)
	}
	if got := get(t, s, a, "z"); got != "<absent>" {
		t.Errorf("a z = %q, want absent", got)
	}

	// Writes apply in order: the last write of a key wins.
	mustCommit(t, s, &Batch{Writes: []Write{put(a, "x", "3"), del(a, "x"), put(b, "x", "4"),
		del(a, "y"), del(a, "missing")}})
	if got := get(t, s, a, "x"); got != "<absent>" {
		t.Errorf("a x after delete = %q, want absent", got)
	}
	if got := get(t, s, a, "y"); got != "<absent>" {
		t.Errorf("a y after delete = %q, want absent", got)
	}
	if got := get(t, s, b, "x"); got != "4" {
		t.Errorf("b x = %q, want 4", got)
	}
}

func TestBoltAddressesAreDistinct(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	// Each pair would collide if class and id were simply concatenated.
	objs := []callhost.Address{
		callhost.Object("ab", "c"), callhost.Object("a", "bc"),
		callhost.Object("a", "b"), callhost.Object("a", "bk"),
	}
	var writes []Write
	for i, obj := range objs {
		writes = append(writes, put(obj, "k", fmt.Sprint(i)))
	}
	mustCommit(t, s, &Batch{Writes: writes})
	for i, obj := range objs {
		if got := get(t, s, obj, "k"); got != fmt.Sprint(i) {
			t.Errorf("%s k = %q, want %d", obj, got, i)
		}
		if got := listKeys(t, s, obj, "", "", 0); got != "k" {
			t.Errorf("list %s = %q, want k", obj, got)
		}
	}
}

func TestBoltList(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("c", "o")
	other := callhost.Object("c", "o2")
	var writes []Write
	for _, k := range []string{"a", "b/1", "b/2", "b/3", "b/30", "b0", "c"} {
		writes = append(writes, put(obj, k, "v"+k))
	}
	writes = append(writes, put(other, "b/4", "x"))
	mustCommit(t, s, &Batch{Writes: writes})

	tests := []struct {
		prefix, start string
		limit         int
		want          string
	}{
		{"", "", 0, "a,b/1,b/2,b/3,b/30,b0,c"},
		{"b/", "", 0, "b/1,b/2,b/3,b/30"},
		{"b/", "", 2, "b/1,b/2"},
		{"b/", "b/2", 2, "b/2,b/3"},
		{"b/", "b/3", 0, "b/3,b/30"},
		{"b/", "b/30\x00", 0, ""},
		{"b/", "a", 0, "b/1,b/2,b/3,b/30"},
		{"b/", "c", 0, ""},
		{"", "b0", 0, "b0,c"},
		{"d", "", 0, ""},
		{"b/3", "", -1, "b/3,b/30"},
	}
	for _, tt := range tests {
		got := listKeys(t, s, obj, tt.prefix, tt.start, tt.limit)
		if got != tt.want {
			t.Errorf("list prefix %q start %q limit %d = %q, want %q",
				tt.prefix, tt.start, tt.limit, got, tt.want)
		}
	}

	kvs, err := s.List(context.Background(), obj, []byte("c"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != 1 || string(kvs[0].Value) != "vc" {
		t.Errorf("list prefix c = %v, want [c=vc]", kvs)
	}
}

func TestBoltListPaging(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("c", "pages")
	var writes []Write
	for i := range 250 {
		writes = append(writes, put(obj, fmt.Sprintf("item/%04d", i), fmt.Sprint(i)))
	}
	mustCommit(t, s, &Batch{Writes: writes})

	var seen []string
	start := []byte{}
	for {
		kvs, err := s.List(context.Background(), obj, []byte("item/"), start, 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			seen = append(seen, string(kv.Key))
		}
		if len(kvs) < 100 {
			break
		}
		start = append(bytes.Clone(kvs[len(kvs)-1].Key), 0)
	}
	if len(seen) != 250 {
		t.Fatalf("paging returned %d keys, want 250", len(seen))
	}
	if !slices.IsSorted(seen) {
		t.Errorf("paging returned keys out of order")
	}
}

func TestBoltGroupFailureAppliesNothing(t *testing.T) {
	// The size cap makes the transaction fail when it has to grow the file.
	opts := BoltOptions{MaxSize: 1 << 20, MaxBatchDelay: 200 * time.Millisecond}
	s := openBolt(t, t.TempDir(), opts)
	obj := callhost.Object("c", "o")
	huge := strings.Repeat("x", 2<<20)
	batches := []*Batch{
		{Writes: []Write{put(obj, "first", "1")}, Messages: []Message{{Seq: 1, To: obj}}},
		{Writes: []Write{put(obj, "huge", huge)}},
		{PendingAdd: []Pending{{ID: 2, Data: []byte("p")}}, NextID: 2},
		{AlarmsAdd: []Alarm{{ID: 3, Object: obj, At: time.Unix(1, 0)}}, NextID: 3},
	}
	errs := commitAll(s, batches)
	for i, err := range errs {
		if !errors.Is(err, berrors.ErrMaxSizeReached) {
			t.Errorf("batch %d error = %v, want %v", i, err, berrors.ErrMaxSizeReached)
		}
	}
	if st := s.Stats(); st.Groups != 0 || st.Failed != 4 {
		t.Errorf("stats = %+v, want 0 groups and 4 failed", st)
	}

	if got := get(t, s, obj, "first"); got != "<absent>" {
		t.Errorf("first = %q, want absent", got)
	}
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Messages) != 0 || len(st.Pending) != 0 || st.NextID != 0 {
		t.Errorf("load = %+v, want empty state", st)
	}
	if as, _ := s.Alarms(context.Background(), obj); len(as) != 0 {
		t.Errorf("alarms = %v, want none", as)
	}

	// The store keeps working for batches that fit.
	mustCommit(t, s, &Batch{Writes: []Write{put(obj, "after", "1")}})
	if got := get(t, s, obj, "after"); got != "1" {
		t.Errorf("after = %q, want 1", got)
	}
}

// commitAll commits batches without waiting in between, then waits for
// every done and returns their errors in order.
func commitAll(s Store, batches []*Batch) []error {
	errs := make([]error, len(batches))
	var wg sync.WaitGroup
	wg.Add(len(batches))
	for i, b := range batches {
		s.Commit(b, func(err error) {
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()
	return errs
}

func TestBoltInvalidBatchFailsAlone(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{MaxBatchDelay: 100 * time.Millisecond})
	obj := callhost.Object("c", "o")
	tooLong := strings.Repeat("k", bolt.MaxKeySize)
	errs := commitAll(s, []*Batch{
		{Writes: []Write{put(obj, "a", "1")}},
		{Writes: []Write{put(obj, "b", "2"), put(obj, tooLong, "x")}},
		{Writes: []Write{put(obj, "c", "3")}},
	})
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("valid batches failed: %v, %v", errs[0], errs[2])
	}
	if errs[1] == nil || !strings.Contains(errs[1].Error(), "storage key") {
		t.Errorf("invalid batch error = %v, want a storage key error", errs[1])
	}
	if got := listKeys(t, s, obj, "", "", 0); got != "a,c" {
		t.Errorf("keys = %q, want a,c", got)
	}
	if st := s.Stats(); st.Groups != 1 || st.Batches != 2 || st.Failed != 1 {
		t.Errorf("stats = %+v, want 1 group, 2 batches, 1 failed", st)
	}
}

func TestBoltGroupCommitGroups(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	const n = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error

	for i := range n {
		wg.Add(1)
		go func() {
			obj := callhost.Object("c", fmt.Sprint(i%17))
			err := commit(s, &Batch{Writes: []Write{put(obj, fmt.Sprint(i), "v")}})
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d commits failed, first: %v", len(failures), failures[0])
	}

	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.Batches != n {
		t.Errorf("batches = %d, want %d", st.Batches, n)
	}
	if st.Groups == 0 || st.Groups > n/10 {
		t.Errorf("groups = %d, want between 1 and %d", st.Groups, n/10)
	}
	if st.Syncs != st.Groups {
		t.Errorf("syncs = %d, want one per group (%d)", st.Syncs, st.Groups)
	}
}

func TestBoltDoneOrder(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("c", "o")
	const n = 500
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	wg.Add(n)

	for i := range n {
		b := &Batch{Writes: []Write{put(obj, "last", fmt.Sprint(i))}}
		s.Commit(b, func(err error) {
			if err != nil {
				t.Errorf("commit %d: %v", i, err)
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()

	for i, got := range order {
		if got != i {
			t.Fatalf("done %d ran in position %d", got, i)
		}
	}
	if got := get(t, s, obj, "last"); got != fmt.Sprint(n-1) {
		t.Errorf("last = %q, want %d", got, n-1)
	}
	if st := s.Stats(); st.Groups >= n {
		t.Errorf("groups = %d, want fewer than %d", st.Groups, n)
	}
}

func TestBoltClose(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, BoltOptions{MaxBatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	obj := callhost.Object("c", "o")
	// A batch queued before Close commits during Close, not an hour later.
	var queuedErr = errors.New("done not run")
	s.Commit(&Batch{Writes: []Write{put(obj, "k", "v")}}, func(err error) { queuedErr = err })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if queuedErr != nil {
		t.Errorf("queued batch: %v", queuedErr)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}

	var afterErr error
	s.Commit(&Batch{Writes: []Write{put(obj, "k2", "v")}}, func(err error) { afterErr = err })
	if !errors.Is(afterErr, ErrClosed) {
		t.Errorf("commit after close: %v, want %v", afterErr, ErrClosed)
	}
	if _, _, err := s.Get(context.Background(), obj, []byte("k")); !errors.Is(err, ErrClosed) {
		t.Errorf("get after close: %v, want %v", err, ErrClosed)
	}

	s = openBolt(t, dir, BoltOptions{})
	if got := get(t, s, obj, "k"); got != "v" {
		t.Errorf("k after reopen = %q, want v", got)
	}
	if got := get(t, s, obj, "k2"); got != "<absent>" {
		t.Errorf("k2 after reopen = %q, want absent", got)
	}
}

func TestBoltLoadAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, BoltOptions{})
	if err != nil {
		t.Fatal(err)
	}
	a := callhost.Object("c", "a")
	b := callhost.Object("c", "b")
	mustCommit(t, s, &Batch{
		Messages: []Message{
			{Seq: 9, To: a, Data: []byte("m9")},
			{Seq: 3, To: b, Data: []byte("m3")},
			{Seq: 5, To: a},
		},
		PendingAdd: []Pending{{ID: 4, Data: []byte("p4")}, {ID: 6, Data: []byte("p6")}},
		NextID:     9,
	})
	// A turn ran message 5, delivered the outcome of call 4 and made call 10.
	mustCommit(t, s, &Batch{
		Consumed:   []uint64{5},
		PendingDel: []uint64{4},
		PendingAdd: []Pending{{ID: 10, Data: []byte("p10")}},
		NextID:     10,
	})
	// A message sent and run within one batch leaves no trace.
	mustCommit(t, s, &Batch{Messages: []Message{{Seq: 11, To: b}}, Consumed: []uint64{11}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openBolt(t, dir, BoltOptions{})
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantMsgs := []Message{{Seq: 3, To: b, Data: []byte("m3")}, {Seq: 9, To: a, Data: []byte("m9")}}
	if fmt.Sprint(st.Messages) != fmt.Sprint(wantMsgs) {
		t.Errorf("messages = %v, want %v", st.Messages, wantMsgs)
	}
	wantPending := []Pending{{ID: 6, Data: []byte("p6")}, {ID: 10, Data: []byte("p10")}}
	if fmt.Sprint(st.Pending) != fmt.Sprint(wantPending) {
		t.Errorf("pending = %v, want %v", st.Pending, wantPending)
	}
	// The message seq 11 was consumed, so only the recorded next id has it.
	if st.NextID != 10 {
		t.Errorf("next id = %d, want 10", st.NextID)
	}
}

func TestBoltNextID(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("c", "o")
	steps := []struct {
		batch *Batch
		want  uint64
	}{
		{&Batch{NextID: 100, Writes: []Write{put(obj, "k", "v")}}, 100},
		{&Batch{NextID: 50, Writes: []Write{put(obj, "k", "v")}}, 100},
		{&Batch{Messages: []Message{{Seq: 150, To: obj}}}, 150},
		{&Batch{PendingAdd: []Pending{{ID: 160}}}, 160},
		{&Batch{AlarmsAdd: []Alarm{{ID: 170, Object: obj, At: time.Now()}}}, 170},
	}
	for i, step := range steps {
		mustCommit(t, s, step.batch)
		st, err := s.Load(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.NextID != step.want {
			t.Errorf("step %d: next id = %d, want %d", i, st.NextID, step.want)
		}
	}
}

func TestBoltAlarms(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, t.TempDir(), BoltOptions{})
	busy := callhost.Object("timer", "busy")
	idle := callhost.Object("timer", "idle")
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

	// Many alarms on one object, added in random order, some sharing a time.
	const n = 1000
	var adds []Alarm
	for _, i := range rand.Perm(n) {
		at := base.Add(time.Duration(i/2) * time.Second)
		adds = append(adds, Alarm{ID: uint64(i + 1), Object: busy, At: at, Data: []byte{byte(i)}})
	}
	adds = append(adds, Alarm{ID: 5000, Object: idle, At: base.Add(-time.Hour)})
	mustCommit(t, s, &Batch{AlarmsAdd: adds})

	got, err := s.Alarms(ctx, busy)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("alarms of busy = %d, want %d", len(got), n)
	}
	for i, a := range got {
		if a.ID != uint64(i+1) || !a.At.Equal(base.Add(time.Duration(i/2)*time.Second)) ||
			a.Object != busy || !bytes.Equal(a.Data, []byte{byte(i)}) {
			t.Fatalf("alarm %d = %+v, want id %d in time order", i, a, i+1)
		}
	}

	due, err := s.DueAlarms(ctx, base.Add(2*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alarmIDs(due); ids != "5000,1,2,3,4,5,6" {
		t.Errorf("due at base+2s = %s, want 5000,1,2,3,4,5,6", ids)
	}
	due, err = s.DueAlarms(ctx, base.Add(time.Hour), 3)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alarmIDs(due); ids != "5000,1,2" {
		t.Errorf("due with limit 3 = %s, want 5000,1,2", ids)
	}
	due, err = s.DueAlarms(ctx, base.Add(-2*time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 0 {
		t.Errorf("due before all = %s, want none", alarmIDs(due))
	}

	// Fire two alarms, move another to a later time, and add and cancel one
	// within a single batch.
	mustCommit(t, s, &Batch{
		AlarmsDel: []uint64{5000, 1, 6000},
		AlarmsAdd: []Alarm{{ID: 2, Object: busy, At: base.Add(time.Hour)},
			{ID: 6000, Object: idle, At: base}},
	})
	due, err = s.DueAlarms(ctx, base.Add(2*time.Second), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alarmIDs(due); ids != "3,4,5,6" {
		t.Errorf("due after changes = %s, want 3,4,5,6", ids)
	}
	got, err = s.Alarms(ctx, busy)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n-1 || got[len(got)-1].ID != 2 {
		t.Errorf("busy has %d alarms ending with %d, want %d ending with 2",
			len(got), got[len(got)-1].ID, n-1)
	}
	if got, _ := s.Alarms(ctx, idle); len(got) != 0 {
		t.Errorf("alarms of idle = %s, want none", alarmIDs(got))
	}
}

func TestBoltAlarmTimesOutOfRange(t *testing.T) {
	ctx := context.Background()
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("timer", "edge")
	mustCommit(t, s, &Batch{AlarmsAdd: []Alarm{
		{ID: 1, Object: obj, At: time.Unix(100, 0)},
		{ID: 2, Object: obj, At: time.Unix(-100, 0)},
		{ID: 3, Object: obj, At: time.Time{}},
		{ID: 4, Object: obj, At: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)},
	}})
	got, err := s.Alarms(ctx, obj)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alarmIDs(got); ids != "3,2,1,4" {
		t.Errorf("alarms = %s, want 3,2,1,4", ids)
	}
	due, err := s.DueAlarms(ctx, time.Unix(0, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if ids := alarmIDs(due); ids != "3,2" {
		t.Errorf("due at 1970 = %s, want 3,2", ids)
	}
}

func alarmIDs(as []Alarm) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = fmt.Sprint(a.ID)
	}
	return strings.Join(ids, ",")
}

func TestBoltSyncInterval(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenBolt(dir, BoltOptions{Sync: SyncInterval(10 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	obj := callhost.Object("c", "o")
	mustCommit(t, s, &Batch{Writes: []Write{put(obj, "k", "v")}})
	deadline := time.Now().Add(5 * time.Second)
	for s.Stats().Syncs == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if s.Stats().Syncs == 0 {
		t.Errorf("no sync within 5s of a commit")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openBolt(t, dir, BoltOptions{})
	if got := get(t, s, obj, "k"); got != "v" {
		t.Errorf("k after reopen = %q, want v", got)
	}
}

func TestOpenBoltInvalidOptions(t *testing.T) {
	for _, opts := range []BoltOptions{
		{Sync: SyncInterval(0)},
		{Sync: SyncInterval(-time.Second)},
		{MaxBatchDelay: -time.Second},
	} {
		if s, err := OpenBolt(t.TempDir(), opts); err == nil {
			s.Close()
			t.Errorf("open with %+v succeeded, want an error", opts)
		}
	}
}

func TestOpenBoltLockedFailsFast(t *testing.T) {
	dir := t.TempDir()
	openBolt(t, dir, BoltOptions{})
	start := time.Now()
	s, err := OpenBolt(dir, BoltOptions{})
	if err == nil {
		s.Close()
		t.Fatal("second open succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want %v", err, ErrLocked)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second open took %v", d)
	}
}

func TestOpenBoltFormatVersion(t *testing.T) {
	dir := t.TempDir()
	s := openBolt(t, dir, BoltOptions{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, BoltFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaFormat, idKey(formatVersion+1))
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if s, err := OpenBolt(dir, BoltOptions{}); err == nil {
		s.Close()
		t.Fatal("open of a newer format succeeded")
	} else if !strings.Contains(err.Error(), "unsupported format version 2") {
		t.Errorf("open of a newer format: %v", err)
	}
}

func TestBoltWriteBackup(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object("c", "o")
	mustCommit(t, s, &Batch{
		Writes:   []Write{put(obj, "k", "v")},
		Messages: []Message{{Seq: 7, To: obj, Data: []byte("m")}},
	})

	restored := t.TempDir()
	f, err := os.Create(filepath.Join(restored, BoltFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.WriteBackup(context.Background(), f)
	if err := errors.Join(err, f.Close()); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Errorf("backup wrote 0 bytes")
	}
	// Later commits are not in the backup.
	mustCommit(t, s, &Batch{Writes: []Write{put(obj, "later", "v")}})

	r := openBolt(t, restored, BoltOptions{})
	if got := get(t, r, obj, "k"); got != "v" {
		t.Errorf("restored k = %q, want v", got)
	}
	if got := get(t, r, obj, "later"); got != "<absent>" {
		t.Errorf("restored later = %q, want absent", got)
	}
	st, err := r.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Messages) != 1 || st.Messages[0].Seq != 7 {
		t.Errorf("restored messages = %v, want message 7", st.Messages)
	}
}

func TestBoltMaxKeySize(t *testing.T) {
	s := openBolt(t, t.TempDir(), BoltOptions{})
	obj := callhost.Object(strings.Repeat("c", 128), strings.Repeat("i", 300))
	max := BoltMaxKeySize(len(obj.Class), len(obj.ID))
	longest := strings.Repeat("k", max)
	mustCommit(t, s, &Batch{Writes: []Write{put(obj, longest, "v")}})
	if got := get(t, s, obj, longest); got != "v" {
		t.Errorf("value of the longest key = %q, want v", got)
	}
	if err := commit(s, &Batch{Writes: []Write{put(obj, longest+"k", "v")}}); err == nil {
		t.Errorf("a key one byte over BoltMaxKeySize %d committed", max)
	}
}
