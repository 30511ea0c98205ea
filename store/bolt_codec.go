package store

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/callhost/callhost"
	bolt "go.etcd.io/bbolt"
)

// The layout of a Bolt file. Integers are big-endian so that byte order is
// numeric order. An encoded address is uvarint(len(class)) class
// uvarint(len(id)) id: no encoded address is a prefix of another, so an
// object's storage keys form one contiguous range.
//
//	objects        address key              -> value
//	messages       seq                      -> address data
//	pending        id                       -> data
//	alarms         id                       -> at address data
//	alarms_by_time at id                    -> (empty)
//	alarms_by_obj  address at id            -> (empty)
//	meta           "format"                 -> formatVersion
//	               "next_id"                -> highest id handed out
//	               "deferred_sync_open"     -> present while a SyncInterval
//	                                           store is open
//
// at is the alarm time in Unix nanoseconds with the sign bit flipped, so
// that times before 1970 sort first.
var (
	bucketObjects      = []byte("objects")
	bucketMessages     = []byte("messages")
	bucketPending      = []byte("pending")
	bucketAlarms       = []byte("alarms")
	bucketAlarmsByTime = []byte("alarms_by_time")
	bucketAlarmsByObj  = []byte("alarms_by_obj")
	bucketMeta         = []byte("meta")

	allBuckets = [][]byte{bucketObjects, bucketMessages, bucketPending, bucketAlarms,
		bucketAlarmsByTime, bucketAlarmsByObj, bucketMeta}

	metaFormat       = []byte("format")
	metaNextID       = []byte("next_id")
	metaDeferredOpen = []byte("deferred_sync_open")
)

// formatVersion is the version of the layout above. OpenBolt rejects files
// of another version.
const formatVersion = 1

// appendAddress appends the encoding of a to dst.
func appendAddress(dst []byte, a callhost.Address) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(a.Class)))
	dst = append(dst, a.Class...)
	dst = binary.AppendUvarint(dst, uint64(len(a.ID)))
	return append(dst, a.ID...)
}

// BoltMaxKeySize returns the largest storage key the bbolt store can hold
// for an object whose class and id are classLen and idLen bytes long. The
// store keys a value by the object's address followed by the key, and bbolt
// keys are at most 32 KiB.
func BoltMaxKeySize(classLen, idLen int) int {
	return bolt.MaxKeySize - uvarintLen(classLen) - classLen - uvarintLen(idLen) - idLen
}

// addressLen returns the length of the encoding of a.
func addressLen(a callhost.Address) int {
	return uvarintLen(len(a.Class)) + len(a.Class) + uvarintLen(len(a.ID)) + len(a.ID)
}

func uvarintLen(n int) int {
	var buf [binary.MaxVarintLen64]byte
	return binary.PutUvarint(buf[:], uint64(n))
}

// readAddress decodes an address from the start of b and returns the rest.
func readAddress(b []byte) (callhost.Address, []byte, error) {
	class, rest, err := readString(b)
	if err != nil {
		return callhost.Address{}, nil, err
	}
	id, rest, err := readString(rest)
	if err != nil {
		return callhost.Address{}, nil, err
	}
	return callhost.Address{Class: class, ID: id}, rest, nil
}

func readString(b []byte) (string, []byte, error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return "", nil, fmt.Errorf("%w: invalid address", ErrCorrupt)
	}
	end := w + int(n)
	return string(b[w:end]), b[end:], nil
}

// objectKey returns the key of key in obj's storage.
func objectKey(obj callhost.Address, key []byte) []byte {
	k := make([]byte, 0, addressLen(obj)+len(key))
	return append(appendAddress(k, obj), key...)
}

// idKey returns the key of a message seq, pending call id or alarm id.
func idKey(id uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), id)
}

// keyID decodes a key made by idKey.
func keyID(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("%w: id key of %d bytes", ErrCorrupt, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// sortableTime returns t in Unix nanoseconds with the sign bit flipped, so
// that unsigned order is time order. Times outside the range of int64
// nanoseconds (before 1678 or after 2262) are clamped to it.
func sortableTime(t time.Time) uint64 {
	var n int64
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		n = math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		n = math.MaxInt64
	default:
		n = t.UnixNano()
	}
	return uint64(n) ^ 1<<63
}

// timeFromSortable inverts sortableTime.
func timeFromSortable(u uint64) time.Time {
	return time.Unix(0, int64(u^1<<63)).UTC()
}

// timeKey returns the alarms_by_time key of an alarm.
func timeKey(at time.Time, id uint64) []byte {
	k := make([]byte, 0, 16)
	k = binary.BigEndian.AppendUint64(k, sortableTime(at))
	return binary.BigEndian.AppendUint64(k, id)
}

// alarmObjectKey returns the alarms_by_obj key of an alarm.
func alarmObjectKey(obj callhost.Address, at time.Time, id uint64) []byte {
	k := make([]byte, 0, addressLen(obj)+16)
	k = appendAddress(k, obj)
	k = binary.BigEndian.AppendUint64(k, sortableTime(at))
	return binary.BigEndian.AppendUint64(k, id)
}

// encodeMessage returns the value of m in the messages bucket.
func encodeMessage(m Message) []byte {
	v := make([]byte, 0, addressLen(m.To)+len(m.Data))
	return append(appendAddress(v, m.To), m.Data...)
}

// decodeMessage decodes a messages record.
func decodeMessage(k, v []byte) (Message, error) {
	seq, err := keyID(k)
	if err != nil {
		return Message{}, err
	}
	to, data, err := readAddress(v)
	if err != nil {
		return Message{}, fmt.Errorf("message %d: %w", seq, err)
	}
	return Message{Seq: seq, To: to, Data: clone(data)}, nil
}

// encodeAlarm returns the value of a in the alarms bucket.
func encodeAlarm(a Alarm) []byte {
	v := make([]byte, 0, 8+addressLen(a.Object)+len(a.Data))
	v = binary.BigEndian.AppendUint64(v, sortableTime(a.At))
	v = appendAddress(v, a.Object)
	return append(v, a.Data...)
}

// decodeAlarm decodes the alarms record of id.
func decodeAlarm(id uint64, v []byte) (Alarm, error) {
	if len(v) < 8 {
		return Alarm{}, fmt.Errorf("alarm %d: %w: value of %d bytes", id, ErrCorrupt, len(v))
	}
	at := timeFromSortable(binary.BigEndian.Uint64(v))
	obj, data, err := readAddress(v[8:])
	if err != nil {
		return Alarm{}, fmt.Errorf("alarm %d: %w", id, err)
	}
	return Alarm{ID: id, Object: obj, At: at, Data: clone(data)}, nil
}

// clone copies b out of a bbolt page, which is valid only inside its
// transaction. It keeps nil and empty apart.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
