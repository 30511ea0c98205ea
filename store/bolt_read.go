package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/callhost/callhost"
	bolt "go.etcd.io/bbolt"
)

// view runs fn in a read transaction, which reads the batches whose
// transaction committed before it began.
func (s *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.View(fn)
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// Get implements [Store].
func (s *Bolt) Get(ctx context.Context, obj callhost.Address, key []byte) ([]byte, bool, error) {
	var value []byte
	err := s.view(ctx, func(tx *bolt.Tx) error {
		value = clone(tx.Bucket(bucketObjects).Get(objectKey(obj, key)))
		return nil
	})
	return value, value != nil, err
}

// List implements [Store]. A limit <= 0 returns every matching pair.
func (s *Bolt) List(ctx context.Context, obj callhost.Address, prefix, start []byte,
	limit int) ([]KV, error) {
	from := prefix
	if bytes.Compare(start, prefix) > 0 {
		from = start
	}
	base := appendAddress(nil, obj)
	fullPrefix := append(base[:len(base):len(base)], prefix...)
	seek := append(base[:len(base):len(base)], from...)

	var out []KV
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketObjects).Cursor()
		for k, v := c.Seek(seek); k != nil && bytes.HasPrefix(k, fullPrefix); k, v = c.Next() {
			if limit > 0 && len(out) == limit {
				break
			}
			out = append(out, KV{Key: clone(k[len(base):]), Value: clone(v)})
		}
		return nil
	})
	return out, err
}

// Load implements [Store]. NextID is the highest of the recorded next id
// and the highest message seq, pending call id and alarm id stored.
func (s *Bolt) Load(ctx context.Context) (*State, error) {
	st := &State{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if err := loadMessages(ctx, tx, st); err != nil {
			return err
		}
		if err := loadPending(ctx, tx, st); err != nil {
			return err
		}
		return loadNextID(tx, st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// ctxCheckEvery is how many records a long scan reads between checks of its
// context.
const ctxCheckEvery = 4096

func loadMessages(ctx context.Context, tx *bolt.Tx, st *State) error {
	c := tx.Bucket(bucketMessages).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(st.Messages)%ctxCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		m, err := decodeMessage(k, v)
		if err != nil {
			return err
		}
		st.Messages = append(st.Messages, m)
	}
	return nil
}

func loadPending(ctx context.Context, tx *bolt.Tx, st *State) error {
	c := tx.Bucket(bucketPending).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(st.Pending)%ctxCheckEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		id, err := keyID(k)
		if err != nil {
			return err
		}
		st.Pending = append(st.Pending, Pending{ID: id, Data: clone(v)})
	}
	return nil
}

func loadNextID(tx *bolt.Tx, st *State) error {
	if v := tx.Bucket(bucketMeta).Get(metaNextID); len(v) == 8 {
		st.NextID = binary.BigEndian.Uint64(v)
	}
	for _, name := range [][]byte{bucketMessages, bucketPending, bucketAlarms} {
		k, _ := tx.Bucket(name).Cursor().Last()
		if k == nil {
			continue
		}
		id, err := keyID(k)
		if err != nil {
			return err
		}
		st.NextID = max(st.NextID, id)
	}
	return nil
}

// DueAlarms implements [Store]. A limit <= 0 returns every due alarm.
func (s *Bolt) DueAlarms(ctx context.Context, now time.Time, limit int) ([]Alarm, error) {
	end := sortableTime(now)
	var out []Alarm
	err := s.view(ctx, func(tx *bolt.Tx) error {
		alarms := tx.Bucket(bucketAlarms)
		c := tx.Bucket(bucketAlarmsByTime).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 16 || binary.BigEndian.Uint64(k) > end {
				break
			}
			if limit > 0 && len(out) == limit {
				break
			}
			a, err := getAlarm(alarms, binary.BigEndian.Uint64(k[8:]))
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// Alarms implements [Store].
func (s *Bolt) Alarms(ctx context.Context, obj callhost.Address) ([]Alarm, error) {
	prefix := appendAddress(nil, obj)
	var out []Alarm
	err := s.view(ctx, func(tx *bolt.Tx) error {
		alarms := tx.Bucket(bucketAlarms)
		c := tx.Bucket(bucketAlarmsByObj).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			// No encoded address is a prefix of another, so k is obj's.
			if len(k) != len(prefix)+16 {
				return fmt.Errorf("%w: alarm index key of %d bytes", ErrCorrupt, len(k))
			}
			a, err := getAlarm(alarms, binary.BigEndian.Uint64(k[len(k)-8:]))
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// getAlarm reads alarm id, which an index entry names.
func getAlarm(alarms *bolt.Bucket, id uint64) (Alarm, error) {
	v := alarms.Get(idKey(id))
	if v == nil {
		return Alarm{}, fmt.Errorf("alarm %d: %w: index entry without record", id, ErrCorrupt)
	}
	return decodeAlarm(id, v)
}

// WriteBackup writes a consistent copy of the database file to w while the
// store runs, as of the last committed group, and returns the bytes
// written. To restore it, put the copy as [BoltFile] in the data directory
// of a stopped store.
func (s *Bolt) WriteBackup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}
