package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	bolt "go.etcd.io/bbolt"
)

// maxCheckErrors bounds the consistency errors that an open reports.
const maxCheckErrors = 10

// openDB opens the bbolt file at path and prepares its buckets. If the last
// store on the file used SyncInterval and stopped without Close, it checks
// the whole file first, because bbolt without fsync may leave a damaged
// file after an operating system crash or a power failure.
// initialMmapSize is the address space bbolt maps when it opens a file.
const initialMmapSize = 1 << 30

func openDB(path string, opts BoltOptions, log *slog.Logger) (db *bolt.DB, err error) {
	var file *os.File
	// bbolt panics on some damaged pages, in Open too, and a read through a
	// damaged page can fault, so faults become panics here.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		err = fmt.Errorf("%w: %s: %v", ErrCorrupt, path, r)
		if db != nil {
			err = errors.Join(err, db.Close())
		} else if file != nil {
			// NOTE: this releases the file and its lock, but the mapping
			// that the failed bolt.Open made stays until the process exits.
			err = errors.Join(err, file.Close())
		}
		db = nil
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      lockTimeout,
		FreelistType: bolt.FreelistMapType,
		MaxSize:      opts.MaxSize,
		// Map 1 GiB of address space up front: remapping as the file grows
		// blocks every commit, and the mapping costs no memory until used.
		InitialMmapSize: initialMmapSize,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, ErrLocked
	}
	if err != nil {
		return nil, err
	}
	if err := prepareDB(db, opts, log); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// prepareDB checks the file if needed, then creates the buckets.
func prepareDB(db *bolt.DB, opts BoltOptions, log *slog.Logger) error {
	if err := checkAfterDeferredRun(db, log); err != nil {
		return err
	}
	// This transaction is flushed, so the marker of a SyncInterval store is
	// on stable storage before the first unflushed commit.
	err := db.Update(func(tx *bolt.Tx) error {
		return initBuckets(tx, opts.Sync.deferred)
	})
	if err != nil {
		return err
	}
	db.NoSync = opts.Sync.deferred
	return nil
}

// checkAfterDeferredRun checks the whole file if the marker of an open
// SyncInterval store is present, which means that store stopped without
// Close.
func checkAfterDeferredRun(db *bolt.DB, log *slog.Logger) error {
	return db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || meta.Get(metaDeferredOpen) == nil {
			return nil
		}
		log.Warn("checking the database file: the last run used SyncInterval and "+
			"stopped without Close", "path", db.Path())
		err := checkRecords(tx)
		if err == nil {
			err = checkTx(tx)
		}
		if err != nil {
			return fmt.Errorf("%w: %s failed its consistency check after a run with "+
				"SyncInterval stopped without Close; restore it from a backup: %w",
				ErrCorrupt, db.Path(), err)
		}
		log.Info("database file checked", "path", db.Path())
		return nil
	})
}

// checkRecords reads every record and checks key order, record encoding and
// the alarm indexes. A read of a damaged page can fault, so it turns faults
// into panics and recovers them.
func checkRecords(tx *bolt.Tx) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("read failed: %v", r)
		}
	}()
	for _, name := range allBuckets {
		if err := checkBucket(tx, name); err != nil {
			return err
		}
	}
	return nil
}

func checkBucket(tx *bolt.Tx, name []byte) error {
	b := tx.Bucket(name)
	if b == nil {
		return fmt.Errorf("bucket %s is missing", name)
	}
	var prev []byte
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			return fmt.Errorf("bucket %s: key %x after %x", name, k, prev)
		}
		if err := checkRecord(tx, name, k, v); err != nil {
			return fmt.Errorf("bucket %s, key %x: %w", name, k, err)
		}
		prev = k
	}
	return nil
}

// checkRecord decodes one record of bucket name.
func checkRecord(tx *bolt.Tx, name, k, v []byte) error {
	var err error
	switch string(name) {
	case string(bucketObjects):
		_, _, err = readAddress(k)
	case string(bucketMessages):
		_, err = decodeMessage(k, v)
	case string(bucketPending):
		_, err = keyID(k)
	case string(bucketAlarms):
		var id uint64
		if id, err = keyID(k); err == nil {
			_, err = decodeAlarm(id, v)
		}
	case string(bucketAlarmsByTime):
		err = checkIndexed(tx, k, len(k)-16)
	case string(bucketAlarmsByObj):
		var rest []byte
		if _, rest, err = readAddress(k); err == nil {
			err = checkIndexed(tx, k, len(k)-len(rest))
		}
	}
	return err
}

// checkIndexed checks that the alarm index key k, whose time and id start
// at offset, names a stored alarm.
func checkIndexed(tx *bolt.Tx, k []byte, offset int) error {
	if offset < 0 || len(k)-offset != 16 {
		return fmt.Errorf("%w: alarm index key of %d bytes", ErrCorrupt, len(k))
	}
	_, err := getAlarm(tx.Bucket(bucketAlarms), binary.BigEndian.Uint64(k[offset+8:]))
	return err
}

// checkTx runs bbolt's consistency check and returns up to maxCheckErrors of
// its errors.
func checkTx(tx *bolt.Tx) error {
	var errs []error
	// Drain the channel: the check reads the transaction until it ends.
	for err := range tx.Check() {
		if len(errs) < maxCheckErrors {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeDeferred clears the marker of an open SyncInterval store in a
// flushed transaction. bbolt flushes the pages of earlier unflushed commits
// first, then the meta page, so the file on stable storage is complete.
func (s *Bolt) closeDeferred() error {
	s.db.NoSync = false
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Delete(metaDeferredOpen)
	})
	if err != nil {
		err = fmt.Errorf("flush %s: %w", s.db.Path(), err)
		s.log.Error("store flush at close failed", "error", err)
		return err
	}
	s.syncs.Add(1)
	return nil
}
