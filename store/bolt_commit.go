package store

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// run is the committer goroutine. It commits what Commit queues, flushes
// the file under SyncInterval, and on Close commits what is left.
func (s *Bolt) run() {
	defer close(s.stopped)
	var tick <-chan time.Time
	if s.sync.deferred {
		ticker := time.NewTicker(s.sync.interval)
		defer ticker.Stop()
		tick = ticker.C
	}
	dirty := false // committed since the last flush
	for {
		select {
		case <-s.wake:
			s.waitForGroup()
			dirty = s.commitQueued() || dirty
		case <-tick:
			if dirty && s.flush() == nil {
				dirty = false
			}
		case <-s.stop:
			s.commitQueued()
			return
		}
	}
}

// waitForGroup waits until MaxBatchDelay has passed since the oldest queued
// batch arrived, or until Close.
func (s *Bolt) waitForGroup() {
	if s.delay <= 0 {
		return
	}
	s.mu.Lock()
	if len(s.queue) == 0 {
		s.mu.Unlock()
		return
	}
	wait := time.Until(s.queue[0].at.Add(s.delay))
	s.mu.Unlock()
	if wait <= 0 {
		return
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.stop:
	}
}

// commitQueued takes every queued batch and commits them as one group. It
// reports whether a transaction committed.
func (s *Bolt) commitQueued() bool {
	s.mu.Lock()
	group := s.queue
	s.queue = nil
	s.mu.Unlock()
	if len(group) == 0 {
		return false
	}
	return s.commitGroup(group)
}

// commitGroup applies the valid batches of group in one transaction, then
// calls every done in group order. A batch that fails validation gets its
// own error and does not join the transaction. If the transaction fails,
// every batch in it gets the error and none is applied.
func (s *Bolt) commitGroup(group []queued) bool {
	errs := make([]error, len(group))
	valid := make([]*Batch, 0, len(group))
	for i, q := range group {
		if errs[i] = validateBatch(q.batch); errs[i] == nil {
			valid = append(valid, q.batch)
		}
	}
	var txErr error
	if len(valid) > 0 {
		txErr = s.db.Update(func(tx *bolt.Tx) error { return applyBatches(tx, valid) })
	}
	if txErr != nil {
		txErr = fmt.Errorf("commit group of %d batches: %w", len(valid), txErr)
		s.log.Error("group commit failed", "batches", len(valid), "error", txErr)
	} else if len(valid) > 0 {
		s.groups.Add(1)
		s.batches.Add(uint64(len(valid)))
		if !s.sync.deferred {
			s.syncs.Add(1)
		}
	}
	for i, q := range group {
		err := errs[i]
		if err == nil {
			err = txErr
		}
		if err != nil {
			s.failed.Add(1)
		}
		q.done(err)
	}
	return txErr == nil && len(valid) > 0
}

// flush writes the file's dirty pages to stable storage.
func (s *Bolt) flush() error {
	if err := s.db.Sync(); err != nil {
		err = fmt.Errorf("sync %s: %w", s.db.Path(), err)
		s.log.Error("store sync failed", "error", err)
		return err
	}
	s.syncs.Add(1)
	return nil
}
