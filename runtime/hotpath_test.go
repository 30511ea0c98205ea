package runtime

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	goruntime "runtime"
	"strconv"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
	"github.com/callhost/callhost/store"
)

// TestStagedWritesManyKeys queues turns that each write more keys than a
// writeSet scans, so that they run in one batch and read each other's writes
// through the run's index.
func TestStagedWritesManyKeys(t *testing.T) {
	for _, durable := range []bool{false, true} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			opts := Options{}
			if durable {
				opts.DataDir = t.TempDir()
			}
			rt := newRuntime(t, opts)
			const keys, turns = 3 * maxLinearWrites, 10
			steps, err := callhost.Op("churn", keys).AppendSteps(nil)
			if err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan *callhost.Error, turns)
			for range turns {
				wg.Add(1)
				_, err := rt.Submit(Submission{To: callhost.Object("obj", "churn"), Steps: steps,
					Done: func(_ []byte, err *callhost.Error) {
						if err != nil {
							errs <- err
						}
						wg.Done()
					}})
				if err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Errorf("churn failed: %v", err)
			}
			m := stats(t, rt, "obj/churn")
			for i := range keys {
				key := "c." + strconv.Itoa(i)
				if m[key] != 2*turns {
					t.Errorf("%s = %d, want %d", key, m[key], 2*turns)
				}
			}
			if v, ok := m["c.tmp"]; ok {
				t.Errorf("c.tmp = %d, want it deleted", v)
			}
		})
	}
}

func TestWriteSetReplacesInPlace(t *testing.T) {
	var s writeSet
	const n = 3 * maxLinearWrites
	for round := range 2 {
		for i := range n {
			key := []byte("k" + strconv.Itoa(i))
			s.set(store.Write{Key: key, Value: []byte{byte(round)}})
		}
	}
	s.set(store.Write{Key: []byte("k1"), Delete: true})
	if len(s.list) != n {
		t.Fatalf("set holds %d writes, want one per key (%d)", len(s.list), n)
	}
	if s.index == nil {
		t.Fatalf("no index after %d keys, want one beyond %d", n, maxLinearWrites)
	}
	for i, w := range s.list {
		if want := "k" + strconv.Itoa(i); string(w.Key) != want {
			t.Fatalf("write %d has key %q, want %q (first-write order)", i, w.Key, want)
		}
	}
	if w := s.find([]byte("k1")); w == nil || !w.Delete {
		t.Fatalf("k1 = %+v, want its deletion", w)
	}
	if w := s.find([]byte("k2")); w == nil || !bytes.Equal(w.Value, []byte{1}) {
		t.Fatalf("k2 = %+v, want the value of the second round", w)
	}
	s.reset()
	if len(s.list) != 0 || s.index != nil || s.find([]byte("k2")) != nil {
		t.Fatalf("set after reset = %+v, want empty", s)
	}
}

// TestContinuationsOwnTheirMemory checks that two continuations made for
// the same pending call do not share memory: the second leaves the first
// unchanged.
func TestContinuationsOwnTheirMemory(t *testing.T) {
	rt := newRuntime(t, Options{})
	args := msgp.AppendArrayHeader(nil, 2)
	args = msgp.AppendInt(args, 7)
	args, _ = callhost.Placeholder.AppendMsgpack(args)
	rec := &callRecord{}
	rec.pending = pending{
		id: 1, target: callhost.Object("calc", "t"), caller: callhost.Object("caller", "c"),
		handler: "record", args: args, placeholder: true,
	}
	first, scratch := rt.continuation(1, &rec.pending, msgp.AppendInt(nil, 42), nil, nil)
	if first == nil {
		t.Fatalf("no continuation for the first outcome")
	}
	firstArgs := bytes.Clone(first.args)
	second, _ := rt.continuation(1, &rec.pending, nil,
		callhost.Errorf(callhost.CodeTimeout, "late"), scratch)
	if second == first {
		t.Fatalf("second continuation reuses the memory of the first")
	}
	if !bytes.Equal(first.args, firstArgs) || first.kind != msgContinuation || first.callID != 1 {
		t.Fatalf("first continuation changed after the second: %+v", first)
	}
	want := msgp.AppendArrayHeader(nil, 2)
	want = msgp.AppendInt(want, 7)
	want = abi.AppendOK(want, msgp.AppendInt(nil, 42))
	if !bytes.Equal(first.args, want) {
		t.Fatalf("first continuation args = % x, want % x", first.args, want)
	}
}

// TestContinuationWaitsForItsClass recovers a call whose continuation
// arrives while the caller's class is not loaded yet: the continuation waits,
// then runs once the class loads.
func TestContinuationWaitsForItsClass(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, Options{DataDir: dir})
	// Keep calc/slow busy, so the call below is still queued at shutdown.
	busy, err := callhost.Op("spin", 2000).AppendSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Submit(Submission{To: callhost.Object("calc", "slow"), Steps: busy}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	spec := []any{"calc", "slow", "double", 21, 60000}
	mustCall(t, rt, "caller/w", callhost.Op("callOnce", "late", spec), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = rt.Shutdown(ctx)

	rt, err = New(context.Background(), Options{DataDir: dir, CacheDir: cacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Shutdown(context.Background()) })
	wasm := buildTestGuest(t)
	if err := rt.Load(context.Background(), "calc", wasm); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(parkedFor(rt, "caller")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no continuation waits for class caller after 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rt.Load(context.Background(), "caller", wasm); err != nil {
		t.Fatal(err)
	}
	m := waitStat(t, rt, "caller/w", "late.runs", 1)
	if m["late.runs"] != 1 {
		t.Errorf("continuation ran %d times, want 1", m["late.runs"])
	}
	if m["late.code"] != 0 {
		t.Errorf("outcome code = %d, want 0", m["late.code"])
	}
	if m["late.value"] != 42 {
		t.Errorf("outcome value = %d, want 42", m["late.value"])
	}
}

// parkedFor returns the messages that wait for class to load.
func parkedFor(rt *Runtime, class string) []*message {
	rt.mu.RLock()
	defer rt.mu.RUnlock()
	return rt.parked[class]
}

// TestDeadlineWheelAddPending checks that addPending files every call under
// the bucket that add uses, including deadlines that already passed.
func TestDeadlineWheelAddPending(t *testing.T) {
	var fired []uint64
	w := newDeadlineWheel(10*time.Millisecond, func(id uint64) { fired = append(fired, id) })
	single := newDeadlineWheel(w.tick, func(uint64) {})
	single.start = w.start
	w.fire(1)
	single.fire(1)
	// Deadlines in ms after the wheels' start. Bucket k covers (10(k-1), 10k].
	deadlines := []int{-5, 25, 25, 30, 41, 30, 55}
	ps := make([]*pending, len(deadlines))
	for i, ms := range deadlines {
		ps[i] = &pending{id: uint64(i + 1), deadline: w.start.Add(time.Duration(ms) * time.Millisecond)}
		single.add(ps[i].id, ps[i].deadline)
	}
	w.addPending(ps)
	if !reflect.DeepEqual(w.buckets, single.buckets) {
		t.Errorf("addPending filed %v, add files %v", w.buckets, single.buckets)
	}
	want := [][]uint64{{1}, {2, 3, 4, 6}, nil, {5}, {7}} // buckets 2 to 6
	for i, ids := range want {
		fired = nil
		w.fire(int64(2 + i))
		if !reflect.DeepEqual(fired, ids) {
			t.Errorf("bucket %d fired %v, want %v", 2+i, fired, ids)
		}
	}
}

// TestCallRecordFitsSizeClass checks that the call record, owned included,
// fits the allocator's 480-byte size class. Since Go 1.22 the allocator adds
// an 8-byte header to objects with pointers larger than 512 bytes, and
// allocates them on a slower path, which the record stays clear of.
func TestCallRecordFitsSizeClass(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the size classes apply to 64-bit platforms")
	}
	const sizeClass = 480
	if size := unsafe.Sizeof(callRecord{}); size > sizeClass {
		t.Errorf("callRecord takes %d bytes, more than its %d-byte size class: "+
			"shrink callRecordOwned by %d", size, sizeClass, size-sizeClass)
	}
}

// TestHopsCacheFollowsTheList checks that the hops cache returns the
// encoding of the list it is given, whether it is the one it encoded last,
// another, or a shorter list sharing its array.
func TestHopsCacheFollowsTheList(t *testing.T) {
	a := []callhost.Address{callhost.Object("a", "1"), callhost.Object("b", "2")}
	b := []callhost.Address{callhost.Object("c", "3")}
	var c hopsCache
	for i, hops := range [][]callhost.Address{a, a, b, a[:1], nil, a} {
		if got, want := c.encode(hops), abi.AppendHops(nil, hops); !bytes.Equal(got, want) {
			t.Errorf("encode #%d (%v) = % x, want % x", i, hops, got, want)
		}
	}
}

// TestHandlerLookupPerModule looks handlers up alternately in two classes
// with different modules. A handler remembered from one class must not be
// found in the other, which lacks it.
func TestHandlerLookupPerModule(t *testing.T) {
	rt := newHostileRuntime(t, hostileTurnTimeout)
	calc := &object{addr: callhost.Object("calc", "l"), class: rt.class("calc")}
	hostile := &object{addr: callhost.Object("hostile", "l"), class: rt.class("hostile")}
	tr := newTurn(rt)
	for i := 0; i < 3; i++ {
		tr.obj = calc
		if h, ok := lookupHandler(tr, "double"); !ok || h.Name != "double" {
			t.Fatalf("calc: lookup of double = %v, %v, want the handler", h, ok)
		}
		tr.obj = hostile
		if h, ok := lookupHandler(tr, []byte("double")); ok {
			t.Fatalf("hostile: lookup of double found %v, want not found", h)
		}
		if _, ok := lookupHandler(tr, "ok"); !ok {
			t.Fatal("hostile: lookup of ok failed, want the handler")
		}
		tr.obj = calc
		if _, ok := lookupHandler(tr, "ok"); ok {
			t.Fatal("calc: lookup of ok succeeded, want not found")
		}
	}
}

// TestLargeCallsNotRetained sends calls that carry 16 MiB in all from one
// turn and checks that the heap returns to its size before them once they
// have arrived. A worker's turn keeps its buffers for the next turn, and
// must not keep them at the size of the largest turn it ever ran, nor keep
// the messages its last run consumed while the worker is idle.
func TestLargeCallsNotRetained(t *testing.T) {
	// One worker runs every turn, so the turn after the calls reuses the
	// buffers of the turn that made them.
	rt := newRuntime(t, Options{Workers: 1})
	heapAlloc := func() uint64 {
		goruntime.GC()
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	sendPadded := func(n, pad, total int) {
		t.Helper()
		mustCall(t, rt, "caller/pad", callhost.Op("sendPadded", n, pad), nil)
		waitStat(t, rt, "calc/padded", "padded", total)
		waitIdle(t, rt)
	}
	// Small calls first, so that the pools, caches and buffers that every
	// turn uses exist before the baseline.
	sendPadded(64, 16, 64)
	before := heapAlloc()

	const calls, pad = 64, 256 << 10
	sendPadded(calls, pad, 64+calls)
	after := heapAlloc()
	const slack = 4 << 20
	if after > before+slack {
		t.Errorf("heap grew from %d to %d bytes after %d calls of %d bytes had arrived, "+
			"want at most %d bytes of growth", before, after, calls, pad, slack)
	}
}

// TestRunTakesFirstTurnCalls stages calls from two turns of one run. The run
// takes the first turn's call list instead of copying it, appends the second
// turn's calls to it, builds every call from it, and clears it before
// handing it back for reuse.
func TestRunTakesFirstTurnCalls(t *testing.T) {
	rt := newRuntime(t, Options{})
	o := &object{addr: callhost.Object("caller", "b"), class: rt.class("caller")}
	msg := &message{kind: msgInvoke, callID: 1, from: callhost.Object("@client", "r")}
	run := newRun(rt, o)
	tr := newTurn(rt)
	stage := func(from, to int) {
		t.Helper()
		tr.reset(nil, o, msg, run)
		for i := from; i < to; i++ {
			cont := &abi.Continuation{Handler: "gotDouble", Args: []any{i, callhost.Placeholder}}
			env, err := abi.AppendCall(nil, callhost.Object("absent", "t"),
				callhost.Op("double", i), cont, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Call(env); err != nil {
				t.Fatal(err)
			}
		}
		run.addTurn(tr)
	}

	stage(0, 3)
	holder := run.bufs
	if holder == nil {
		t.Fatal("the run copied the first turn's calls instead of taking them")
	}
	if len(run.staged) != 3 {
		t.Fatalf("after the first turn the run has %d staged calls, want the turn's 3",
			len(run.staged))
	}
	if len(tr.calls) != 0 || len(tr.arena) != 0 {
		t.Fatalf("the turn kept %d calls and %d arena bytes after the run took them",
			len(tr.calls), len(tr.arena))
	}
	stage(3, 40)
	staged := run.staged
	run.build()

	if len(run.sends) != 40 || len(run.pendings) != 40 {
		t.Fatalf("built %d messages and %d pending calls, want 40 of each",
			len(run.sends), len(run.pendings))
	}
	for i, m := range run.sends {
		var arg int64
		err := abi.ForEachStepBytes(m.steps, func(_ int, name, args []byte) error {
			r := msgp.NewReader(args)
			if _, err := r.ReadArrayHeader(); err != nil {
				return err
			}
			var err error
			arg, err = r.ReadInt()
			return err
		})
		if err != nil || arg != int64(i) {
			t.Errorf("message %d: operation argument %d, %v, want %d", i, arg, err, i)
		}
		r := msgp.NewReader(run.pendings[i].args)
		if _, err := r.ReadArrayHeader(); err != nil {
			t.Fatal(err)
		}
		if v, err := r.ReadInt(); err != nil || v != int64(i) {
			t.Errorf("pending call %d: continuation argument %d, %v, want %d", i, v, err, i)
		}
	}
	if run.staged != nil || run.bufs != nil {
		t.Errorf("the run still holds its staged calls after build")
	}
	for i := range staged {
		if !reflect.DeepEqual(staged[i], stagedCall{}) {
			t.Fatalf("staged call %d was not cleared before reuse: %+v", i, staged[i])
		}
	}
	if len(holder.calls) != 0 || cap(holder.calls) < len(staged) {
		t.Errorf("the returned holder has %d calls of capacity %d, want 0 of at least %d",
			len(holder.calls), cap(holder.calls), len(staged))
	}
}

// TestCallCheckedStagesAsCall stages each call twice, through Call with its
// envelope and through CallChecked with the view of AppendIntCallView, as the
// call_ints import does, and compares the outcomes and the staged calls. The
// first options make the limit cases fail; under MaxDepth 1, the least the
// options allow, CallChecked decodes the envelope as Call does.
func TestCallCheckedStagesAsCall(t *testing.T) {
	intCall := func(cont string, contArgs []int64, placeholders, timeoutMS,
		flags uint64) abi.IntCall {
		ints := binary.LittleEndian.AppendUint64(nil, 5)
		for _, v := range contArgs {
			ints = binary.LittleEndian.AppendUint64(ints, uint64(v))
		}
		return abi.IntCall{Class: []byte("calc"), ID: []byte("t"), Handler: []byte("double"),
			ContHandler: []byte(cont), Ints: ints, Args: 1, ContArgs: len(contArgs),
			Placeholders: placeholders, TimeoutMS: timeoutMS, Flags: flags}
	}
	noTarget := intCall("", nil, 0, 0, 0)
	noTarget.ID = nil
	cases := []struct {
		name    string
		call    abi.IntCall
		second  bool // made after another call in the same turn
		limited bool // fails under the first options
		invalid bool // fails under both
	}{
		{name: "placeholder", call: intCall("gotDouble", []int64{5, 0}, 1<<1, 0, 0)},
		{name: "no placeholder", call: intCall("gotDouble", []int64{5, 6}, 0, 0, 0)},
		{name: "no continuation", call: intCall("", nil, 0, 250, 0)},
		{name: "forward", call: intCall("", nil, 0, 0, abi.FlagForward)},
		{name: "unknown continuation", invalid: true, call: intCall("nope", []int64{1}, 0, 0, 0)},
		{name: "empty target id", invalid: true, call: noTarget},
		{name: "timeout over the maximum", invalid: true, call: intCall("", nil, 0, maxTimeoutMS+1, 0)},
		{name: "envelope over MaxCallSize", limited: true,
			call: intCall("gotDouble", []int64{1, 2, 3, 4, 5, 6, 7, 8}, 0, 0, 0)},
		{name: "second call of the turn", second: true, limited: true,
			call: intCall("gotDouble", []int64{5, 0}, 1<<1, 0, 0)},
	}
	for k, opts := range []Options{{MaxCallSize: 40, MaxCallsPerTurn: 1}, {MaxDepth: 1}} {
		rt := newRuntime(t, opts)
		o := &object{addr: callhost.Object("caller", "b"), class: rt.class("caller")}
		msg := &message{kind: msgInvoke, callID: 1, from: callhost.Object("@client", "r")}
		for _, tc := range cases {
			name := fmt.Sprintf("%s, options %d", tc.name, k)
			decoded, checked := newTurn(rt), newTurn(rt)
			decoded.reset(nil, o, msg, newRun(rt, o))
			checked.reset(nil, o, msg, newRun(rt, o))
			if tc.second {
				env := abi.AppendIntCall(nil, &cases[1].call)
				if _, err := decoded.Call(env); err != nil {
					t.Fatal(err)
				}
				if _, err := checked.Call(env); err != nil {
					t.Fatal(err)
				}
			}

			_, wantErr := decoded.Call(abi.AppendIntCall(nil, &tc.call))
			var v abi.CallView
			var chk abi.CallChecks
			env := abi.AppendIntCallView(nil, &tc.call, &v, &chk)
			_, err := checked.CallChecked(env, &v, &chk)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Errorf("%s: CallChecked error %v, Call error %v", name, err, wantErr)
				continue
			}
			wantFailure := tc.invalid || (tc.limited && k == 0)
			if (err != nil) != wantFailure {
				t.Errorf("%s: error %v, want failure %v", name, err, wantFailure)
			}
			if len(checked.calls) != len(decoded.calls) {
				t.Errorf("%s: CallChecked staged %d calls, Call %d", name,
					len(checked.calls), len(decoded.calls))
				continue
			}
			if wantErr != nil {
				continue
			}
			got, want := checked.calls[len(checked.calls)-1], decoded.calls[len(decoded.calls)-1]
			if string(checked.arena) != string(decoded.arena) {
				t.Errorf("%s: CallChecked staged bytes % x, Call % x", name,
					checked.arena, decoded.arena)
			}
			// The ids differ, and a call with a continuation replies to itself.
			got.id, want.id = 0, 0
			if got.hasCont {
				got.replyTo, want.replyTo = 0, 0
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s: CallChecked staged\n%+v\nCall staged\n%+v", name, got, want)
			}
		}
	}
}
