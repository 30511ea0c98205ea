package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/callhost/callhost"
	bolt "go.etcd.io/bbolt"
)

// stopWithoutClose stops s the way a process crash would: the committer
// ends and the file is closed, but Close does not run.
func stopWithoutClose(t *testing.T, s *Bolt) {
	t.Helper()
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		<-s.stopped
		if err := s.db.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

// hasDeferredMarker reports whether the file in dir has the marker of an
// open SyncInterval store.
func hasDeferredMarker(t *testing.T, dir string) bool {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, BoltFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := false
	err = db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketMeta).Get(metaDeferredOpen) != nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// fillDeferred opens a SyncInterval store in dir and commits n batches.
func fillDeferred(t *testing.T, dir string, n int) *Bolt {
	t.Helper()
	s, err := OpenBolt(dir, BoltOptions{Sync: SyncInterval(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	obj := callhost.Object("c", "o")
	for i := range n {
		mustCommit(t, s, &Batch{Writes: []Write{put(obj, fmt.Sprintf("k%06d", i), "value")}})
	}
	return s
}

func TestBoltDeferredMarker(t *testing.T) {
	dir := t.TempDir()
	s := fillDeferred(t, dir, 10)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hasDeferredMarker(t, dir) {
		t.Errorf("marker present after Close")
	}

	s = fillDeferred(t, dir, 10)
	stopWithoutClose(t, s)
	if !hasDeferredMarker(t, dir) {
		t.Fatalf("marker missing after a stop without Close")
	}

	// The file is whole, so the check passes and the store opens.
	s = openBolt(t, dir, BoltOptions{})
	if got := listKeys(t, s, callhost.Object("c", "o"), "", "k000009", 0); got != "k000009" {
		t.Errorf("last key = %q, want k000009", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if hasDeferredMarker(t, dir) {
		t.Errorf("marker present after a SyncEveryGroup store closed")
	}
}

func TestBoltDamagedFileRejected(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"all pages", damageAllPages, "invalid freelist page"},
		{"one leaf", damageOneLeaf, "failed its consistency check"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			stopWithoutClose(t, fillDeferred(t, dir, 2000))
			tt.damage(t, filepath.Join(dir, BoltFile))

			s, err := OpenBolt(dir, BoltOptions{})
			if err == nil {
				s.Close()
				t.Fatal("open of a damaged file succeeded")
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("open of a damaged file: %v, want %v", err, ErrCorrupt)
			}
			t.Logf("open error: %v", err)
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("open of a damaged file: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// damageAllPages overwrites every page after the two meta pages with
// random bytes.
func damageAllPages(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2 * os.Getpagesize(); i < len(data); i++ {
		data[i] = byte(rand.N(256))
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// damageOneLeaf overwrites the elements of one leaf page of object storage
// with random bytes, and leaves its page header intact.
func damageOneLeaf(t *testing.T, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	var leaf int
	err = db.View(func(tx *bolt.Tx) error {
		// Only object storage has leaves with this many keys.
		for id := 2; id < int(tx.Size())/os.Getpagesize(); id++ {
			if info, err := tx.Page(id); err == nil && info != nil &&
				info.Type == "leaf" && info.Count > 50 {
				leaf = id
			}
		}
		return nil
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if leaf == 0 {
		t.Fatal("no leaf page of object storage found")
	}

	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	const headerSize = 16
	garbage := make([]byte, os.Getpagesize()-headerSize)
	for i := range garbage {
		garbage[i] = byte(rand.N(256))
	}
	_, err = f.WriteAt(garbage, int64(leaf*os.Getpagesize()+headerSize))
	if err := errors.Join(err, f.Close()); err != nil {
		t.Fatal(err)
	}
}
