package store

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltFile is the name of the database file inside a [Bolt] data directory.
const BoltFile = "callhost.db"

// lockTimeout bounds how long OpenBolt waits for the file lock that another
// process holds.
const lockTimeout = 100 * time.Millisecond

var (
	// ErrClosed is the error of operations on a closed store.
	ErrClosed = errors.New("store closed")
	// ErrLocked is the error of OpenBolt when another process has the data
	// directory open.
	ErrLocked = errors.New("data directory is in use by another process")
	// ErrCorrupt is the error of OpenBolt and of reads when the database
	// file is damaged.
	ErrCorrupt = errors.New("database file is damaged")
)

// SyncPolicy selects when a [Bolt] store flushes committed batches to stable
// storage. The zero value is [SyncEveryGroup].
type SyncPolicy struct {
	deferred bool
	interval time.Duration
}

// SyncEveryGroup flushes each group commit to stable storage before its
// done callbacks run. A power failure loses no batch whose done has run.
var SyncEveryGroup = SyncPolicy{}

// SyncInterval commits without flushing and flushes every d instead. done
// runs before the data reaches stable storage. A process crash loses
// nothing. A power failure or an operating system crash may lose the
// batches since the last flush and may leave the file damaged, because
// bbolt then has no write order between data pages and meta page. OpenBolt
// checks the file after such a run stopped without Close and fails with
// [ErrCorrupt] if the check finds damage. d must be positive.
func SyncInterval(d time.Duration) SyncPolicy {
	return SyncPolicy{deferred: true, interval: d}
}

// String returns "every-group" or "interval=D".
func (p SyncPolicy) String() string {
	if !p.deferred {
		return "every-group"
	}
	return "interval=" + p.interval.String()
}

// BoltOptions configures [OpenBolt]. The zero value is valid.
type BoltOptions struct {
	// Sync is the sync policy. The default is SyncEveryGroup.
	Sync SyncPolicy
	// Logger receives opens, closes and failures. nil discards them.
	Logger *slog.Logger
	// MaxBatchDelay is how long the committer waits after the first batch
	// of a group arrives, so that more batches join the group. 0 commits
	// as soon as the committer is free.
	MaxBatchDelay time.Duration
	// MaxSize caps the database file in bytes. A group commit that would
	// grow the file past it fails. 0 means no limit.
	MaxSize int
}

// BoltStats counts the work of a [Bolt] store since it was opened.
type BoltStats struct {
	// Groups is the number of transactions that committed.
	Groups uint64
	// Batches is the number of batches those transactions applied.
	Batches uint64
	// Failed is the number of batches whose done received an error.
	Failed uint64
	// Syncs is the number of flushes to stable storage: one per group
	// under SyncEveryGroup, one per interval with new commits under
	// SyncInterval, and one at Close.
	Syncs uint64
}

// Bolt is a durable [Store] kept in one bbolt file. It applies the batches
// queued by Commit in groups: one goroutine commits everything queued in
// one transaction, then runs the done callbacks in Commit order.
//
// Memory use does not grow with the number of objects, messages or alarms,
// except in Load, which returns all messages and pending calls.
type Bolt struct {
	db    *bolt.DB
	dir   string
	sync  SyncPolicy
	delay time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	queue  []queued
	closed bool

	wake    chan struct{} // buffered, 1: there is work in queue
	stop    chan struct{} // closed by Close
	stopped chan struct{} // closed when the committer returns

	closeOnce sync.Once
	closeErr  error

	groups, batches, failed, syncs atomic.Uint64
}

// queued is a batch waiting for the committer.
type queued struct {
	batch *Batch
	done  func(error)
	at    time.Time
}

// OpenBolt opens the store in the data directory dir, creating the
// directory and its database file [BoltFile] if needed. It fails within
// about 100 ms with [ErrLocked] if another process has dir open, and with
// [ErrCorrupt] if it finds the file damaged.
func OpenBolt(dir string, opts BoltOptions) (*Bolt, error) {
	if opts.Sync.deferred && opts.Sync.interval <= 0 {
		return nil, fmt.Errorf("invalid sync interval %v: must be positive", opts.Sync.interval)
	}
	if opts.MaxBatchDelay < 0 {
		return nil, fmt.Errorf("invalid max batch delay %v: must be >= 0", opts.MaxBatchDelay)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := openDB(filepath.Join(dir, BoltFile), opts, logger)
	if err != nil {
		return nil, fmt.Errorf("open store in %s: %w", dir, err)
	}
	s := &Bolt{
		db:      db,
		dir:     dir,
		sync:    opts.Sync,
		delay:   opts.MaxBatchDelay,
		log:     logger,
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.run()
	s.log.Info("store opened", "dir", dir, "sync", opts.Sync.String(),
		"max_batch_delay", opts.MaxBatchDelay)
	return s, nil
}

// Durable implements [Store]. A Bolt store is durable.
func (s *Bolt) Durable() bool { return true }

// Dir returns the data directory.
func (s *Bolt) Dir() string { return s.dir }

// Stats returns the counters of s.
func (s *Bolt) Stats() BoltStats {
	return BoltStats{
		Groups:  s.groups.Load(),
		Batches: s.batches.Load(),
		Failed:  s.failed.Load(),
		Syncs:   s.syncs.Load(),
	}
}

// Commit implements [Store]. It queues b and returns. After Close it calls
// done with [ErrClosed] before it returns.
func (s *Bolt) Commit(b *Batch, done func(error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		done(ErrClosed)
		return
	}
	s.queue = append(s.queue, queued{batch: b, done: done, at: time.Now()})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Close implements [Store]. It rejects new batches, commits those queued,
// flushes the file if the sync policy deferred flushes, and closes the file.
func (s *Bolt) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.stop)
		<-s.stopped

		var errs []error
		if s.sync.deferred {
			errs = append(errs, s.closeDeferred())
		}
		if err := s.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close %s: %w", s.db.Path(), err))
		}
		s.closeErr = errors.Join(errs...)
		s.log.Info("store closed", "dir", s.dir, "error", s.closeErr)
	})
	return s.closeErr
}
