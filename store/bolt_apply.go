package store

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// initBuckets creates missing buckets, checks or records the format version,
// and sets or clears the marker of an open SyncInterval store.
func initBuckets(tx *bolt.Tx, deferredSync bool) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if err := checkFormat(meta); err != nil {
		return err
	}
	if deferredSync {
		return meta.Put(metaDeferredOpen, []byte{1})
	}
	return meta.Delete(metaDeferredOpen)
}

// checkFormat records the format version of a new file and rejects a file
// of another version.
func checkFormat(meta *bolt.Bucket) error {
	v := meta.Get(metaFormat)
	if v == nil {
		return meta.Put(metaFormat, idKey(formatVersion))
	}
	got, err := keyID(v)
	if err != nil {
		return fmt.Errorf("format version: %w", err)
	}
	if got != formatVersion {
		return fmt.Errorf("unsupported format version %d: want %d", got, formatVersion)
	}
	return nil
}

// validateBatch rejects a batch with a record bbolt cannot store, so that it
// fails alone instead of failing the transaction of its whole group.
func validateBatch(b *Batch) error {
	if b == nil {
		return errors.New("invalid batch: nil")
	}
	for _, w := range b.Writes {
		if n := addressLen(w.Object) + len(w.Key); n == 0 || n > bolt.MaxKeySize {
			return fmt.Errorf("invalid batch: storage key of %s is %d bytes, max %d",
				w.Object, n, bolt.MaxKeySize)
		}
		if int64(len(w.Value)) > bolt.MaxValueSize {
			return fmt.Errorf("invalid batch: value of %s is %d bytes, max %d",
				w.Object, len(w.Value), bolt.MaxValueSize)
		}
	}
	for _, m := range b.Messages {
		if int64(addressLen(m.To)+len(m.Data)) > bolt.MaxValueSize {
			return fmt.Errorf("invalid batch: message %d is %d bytes, max %d",
				m.Seq, len(m.Data), bolt.MaxValueSize)
		}
	}
	for _, p := range b.PendingAdd {
		if int64(len(p.Data)) > bolt.MaxValueSize {
			return fmt.Errorf("invalid batch: pending call %d is %d bytes, max %d",
				p.ID, len(p.Data), bolt.MaxValueSize)
		}
	}
	for _, a := range b.AlarmsAdd {
		if n := addressLen(a.Object) + 16; n > bolt.MaxKeySize {
			return fmt.Errorf("invalid batch: address of alarm %d is %d bytes, max %d",
				a.ID, n-16, bolt.MaxKeySize-16)
		}
		if int64(8+addressLen(a.Object)+len(a.Data)) > bolt.MaxValueSize {
			return fmt.Errorf("invalid batch: alarm %d is %d bytes, max %d",
				a.ID, len(a.Data), bolt.MaxValueSize)
		}
	}
	return nil
}

// applyBatches applies batches in order. Within a batch, messages, pending
// calls and alarms are added before the deletes run, so that an id added
// and deleted by the same batch ends up absent.
func applyBatches(tx *bolt.Tx, batches []*Batch) error {
	var nextID uint64
	for _, b := range batches {
		if err := applyBatch(tx, b); err != nil {
			return err
		}
		nextID = max(nextID, b.NextID)
	}
	return raiseNextID(tx.Bucket(bucketMeta), nextID)
}

func applyBatch(tx *bolt.Tx, b *Batch) error {
	if err := applyWrites(tx.Bucket(bucketObjects), b.Writes); err != nil {
		return err
	}
	if err := applyMessages(tx.Bucket(bucketMessages), b); err != nil {
		return err
	}
	if err := applyPending(tx.Bucket(bucketPending), b); err != nil {
		return err
	}
	return applyAlarms(tx, b)
}

func applyWrites(objects *bolt.Bucket, writes []Write) error {
	for _, w := range writes {
		k := objectKey(w.Object, w.Key)
		var err error
		if w.Delete {
			err = objects.Delete(k)
		} else {
			err = objects.Put(k, w.Value)
		}
		if err != nil {
			return fmt.Errorf("write key %q of %s: %w", w.Key, w.Object, err)
		}
	}
	return nil
}

func applyMessages(messages *bolt.Bucket, b *Batch) error {
	for _, m := range b.Messages {
		if err := messages.Put(idKey(m.Seq), encodeMessage(m)); err != nil {
			return fmt.Errorf("add message %d: %w", m.Seq, err)
		}
	}
	for _, seq := range b.Consumed {
		if err := messages.Delete(idKey(seq)); err != nil {
			return fmt.Errorf("delete message %d: %w", seq, err)
		}
	}
	return nil
}

func applyPending(pending *bolt.Bucket, b *Batch) error {
	for _, p := range b.PendingAdd {
		if err := pending.Put(idKey(p.ID), p.Data); err != nil {
			return fmt.Errorf("add pending call %d: %w", p.ID, err)
		}
	}
	for _, id := range b.PendingDel {
		if err := pending.Delete(idKey(id)); err != nil {
			return fmt.Errorf("delete pending call %d: %w", id, err)
		}
	}
	return nil
}

func applyAlarms(tx *bolt.Tx, b *Batch) error {
	for _, a := range b.AlarmsAdd {
		// An id that is already stored is replaced, index entries included.
		if err := deleteAlarm(tx, a.ID); err != nil {
			return err
		}
		if err := putAlarm(tx, a); err != nil {
			return err
		}
	}
	for _, id := range b.AlarmsDel {
		if err := deleteAlarm(tx, id); err != nil {
			return err
		}
	}
	return nil
}

func putAlarm(tx *bolt.Tx, a Alarm) error {
	err := tx.Bucket(bucketAlarms).Put(idKey(a.ID), encodeAlarm(a))
	if err == nil {
		err = tx.Bucket(bucketAlarmsByTime).Put(timeKey(a.At, a.ID), nil)
	}
	if err == nil {
		err = tx.Bucket(bucketAlarmsByObj).Put(alarmObjectKey(a.Object, a.At, a.ID), nil)
	}
	if err != nil {
		return fmt.Errorf("add alarm %d: %w", a.ID, err)
	}
	return nil
}

// deleteAlarm deletes alarm id and its index entries; a missing id is not
// an error.
func deleteAlarm(tx *bolt.Tx, id uint64) error {
	alarms := tx.Bucket(bucketAlarms)
	v := alarms.Get(idKey(id))
	if v == nil {
		return nil
	}
	a, err := decodeAlarm(id, v)
	if err != nil {
		return err
	}
	err = alarms.Delete(idKey(id))
	if err == nil {
		err = tx.Bucket(bucketAlarmsByTime).Delete(timeKey(a.At, id))
	}
	if err == nil {
		err = tx.Bucket(bucketAlarmsByObj).Delete(alarmObjectKey(a.Object, a.At, id))
	}
	if err != nil {
		return fmt.Errorf("delete alarm %d: %w", id, err)
	}
	return nil
}

// raiseNextID stores next as the highest id handed out if it is higher than
// the stored one.
func raiseNextID(meta *bolt.Bucket, next uint64) error {
	if next == 0 {
		return nil
	}
	if v := meta.Get(metaNextID); len(v) == 8 && binary.BigEndian.Uint64(v) >= next {
		return nil
	}
	return meta.Put(metaNextID, idKey(next))
}
