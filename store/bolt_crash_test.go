package store

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/callhost/callhost"
	bolt "go.etcd.io/bbolt"
)

// The crash test's child commits batch 1, 2, 3 and so on. Batch i writes
// crashKeys keys of one object and records i as the last batch. It sends
// message i, consumes message i-1, and adds pending call i and alarm i. The
// child prints i once the done of batch i has run.
const (
	crashKeys     = 4
	crashInFlight = 32
	crashChildMax = 20 * time.Second // the child stops by itself after this
)

var crashCounter = callhost.Object("crash", "counter")

func crashObject(i uint64) callhost.Address {
	return callhost.Object("crash", fmt.Sprint(i%5))
}

func crashKey(i uint64, j int) string { return fmt.Sprintf("b%08d/%d", i, j) }

func crashBatch(i uint64) *Batch {
	value := binary.BigEndian.AppendUint64(nil, i)
	b := &Batch{
		Writes:     []Write{{Object: crashCounter, Key: []byte("last"), Value: value}},
		Messages:   []Message{{Seq: i, To: crashObject(i), Data: value}},
		PendingAdd: []Pending{{ID: i, Data: value}},
		AlarmsAdd:  []Alarm{{ID: i, Object: crashObject(i), At: time.Unix(int64(i), 0)}},
		NextID:     i,
	}
	if i > 1 {
		b.Consumed = []uint64{i - 1}
	}
	for j := range crashKeys {
		b.Writes = append(b.Writes, Write{Object: crashObject(i), Key: []byte(crashKey(i, j)),
			Value: value})
	}
	return b
}

// lastCrashBatch returns the number of the last batch stored, or 0.
func lastCrashBatch(s Store) (uint64, error) {
	v, ok, err := s.Get(context.Background(), crashCounter, []byte("last"))
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("counter of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// runCrashChild commits crash batches in a loop until it is killed.
func runCrashChild(dir, syncPolicy string) error {
	opts := BoltOptions{}
	if syncPolicy != "every-group" {
		d, err := time.ParseDuration(syncPolicy)
		if err != nil {
			return err
		}
		opts.Sync = SyncInterval(d)
	}

	s, err := OpenBolt(dir, opts)
	if err != nil {
		return err
	}
	defer s.Close()
	last, err := lastCrashBatch(s)
	if err != nil {
		return err
	}

	slots := make(chan struct{}, crashInFlight)
	failed := make(chan error, 1)
	deadline := time.Now().Add(crashChildMax)
	for i := last + 1; time.Now().Before(deadline); i++ {
		select {
		case slots <- struct{}{}:
		case err := <-failed:
			return err
		}
		s.Commit(crashBatch(i), func(err error) {
			if err != nil {
				select {
				case failed <- fmt.Errorf("commit %d: %w", i, err):
				default:
				}
				return
			}
			fmt.Fprintln(os.Stdout, i)
			<-slots
		})
	}
	return errors.New("child was not killed in time")
}

func TestBoltReopenAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("runs child processes")
	}
	for _, policy := range []string{"every-group", "50ms"} {
		t.Run("sync="+policy, func(t *testing.T) {
			dir := t.TempDir()
			for round := range 5 {
				lastDone := killCrashChild(t, dir, policy)
				stored := checkCrashStore(t, dir)
				t.Logf("round %d: last done %d, last stored %d", round, lastDone, stored)
				if lastDone > stored {
					t.Fatalf("round %d: done of batch %d ran, but only %d are stored",
						round, lastDone, stored)
				}
			}
		})
	}
}

// killCrashChild runs a crash child on dir, kills it with SIGKILL at a
// random moment after its first done, and returns the last batch it
// reported done.
func killCrashChild(t *testing.T, dir, policy string) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=crash", "STORE_DIR="+dir, "STORE_SYNC="+policy)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	// Read the reports while the child runs, so that it never waits on a
	// full pipe.
	var lastDone atomic.Uint64
	first := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readReports(out, &lastDone, first)
	}()
	select {
	case <-first:
	case <-readDone:
		cmd.Wait()
		t.Fatalf("child reported no done: %s", stderr.String())
	}

	time.Sleep(rand.N(300 * time.Millisecond))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-readDone
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("child ended with %v, want killed: %s", err, stderr.String())
	}
	return lastDone.Load()
}

// readReports reads the batch numbers a crash child prints into lastDone
// and closes first after the first one.
func readReports(out io.Reader, lastDone *atomic.Uint64, first chan struct{}) {
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		// A line cut short by the kill is no report.
		n, err := strconv.ParseUint(lines.Text(), 10, 64)
		if err != nil {
			continue
		}
		if lastDone.Swap(max(lastDone.Load(), n)) == 0 {
			close(first)
		}
	}
}

// checkCrashStore opens the store in dir and checks that batches 1 to the
// stored counter are fully present and no later batch left any trace. It
// returns the counter.
func checkCrashStore(t *testing.T, dir string) uint64 {
	t.Helper()
	s := openBolt(t, dir, BoltOptions{})
	defer s.Close()
	if err := s.db.View(func(tx *bolt.Tx) error {
		// Drain the channel: the check reads the transaction until it ends.
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}); err != nil {
		t.Fatalf("bbolt check: %v", err)
	}
	last, err := lastCrashBatch(s)
	if err != nil {
		t.Fatal(err)
	}
	checkCrashKeys(t, s, last)
	checkCrashState(t, s, last)
	return last
}

// checkCrashKeys checks that the storage keys are exactly those of batches
// 1 to last.
func checkCrashKeys(t *testing.T, s *Bolt, last uint64) {
	t.Helper()
	count := 0
	for o := range uint64(5) {
		kvs, err := s.List(context.Background(), crashObject(o), nil, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs {
			i, _ := strconv.ParseUint(strings.TrimPrefix(string(kv.Key[:9]), "b"), 10, 64)
			if i == 0 || i > last || i%5 != o {
				t.Fatalf("key %q of %s is not from batch 1 to %d", kv.Key, crashObject(o), last)
			}
			count++
		}
	}
	if want := int(last) * crashKeys; count != want {
		t.Fatalf("%d storage keys, want %d for %d batches", count, want, last)
	}
}

// checkCrashState checks messages, pending calls, alarms and the next id
// against batches 1 to last.
func checkCrashState(t *testing.T, s *Bolt, last uint64) {
	t.Helper()
	st, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last == 0 {
		if len(st.Messages)+len(st.Pending) != 0 || st.NextID != 0 {
			t.Fatalf("no batch stored, but state is %+v", st)
		}
		return
	}
	if len(st.Messages) != 1 || st.Messages[0].Seq != last {
		t.Fatalf("messages = %v, want only message %d", st.Messages, last)
	}
	if uint64(len(st.Pending)) != last || st.Pending[last-1].ID != last {
		t.Fatalf("%d pending calls, want 1 to %d", len(st.Pending), last)
	}
	if st.NextID != last {
		t.Fatalf("next id = %d, want %d", st.NextID, last)
	}
	due, err := s.DueAlarms(context.Background(), time.Unix(1<<40, 0), 0)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(due)) != last || due[len(due)-1].ID != last {
		t.Fatalf("%d alarms, want 1 to %d", len(due), last)
	}
}

func runOpenChild(dir string) error {
	s, err := OpenBolt(dir, BoltOptions{})
	if err != nil {
		return err
	}
	return errors.Join(errors.New("second open succeeded"), s.Close())
}

func TestOpenBoltLockedByOtherProcess(t *testing.T) {
	dir := t.TempDir()
	openBolt(t, dir, BoltOptions{})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=open", "STORE_DIR="+dir)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("child opened a locked store: %s", out)
	}
	if !strings.Contains(string(out), ErrLocked.Error()) {
		t.Errorf("child error = %q, want %q", out, ErrLocked)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("child took %v to fail", d)
	}
}
