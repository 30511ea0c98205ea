// Package store keeps what the runtime must not lose: object storage, the
// calls accepted but not yet run, the calls waiting for an outcome, and
// alarms. Each turn's changes reach a store as one [Batch] that is applied
// atomically.
//
// [Memory] keeps everything in memory for tests and throwaway runs. [Bolt]
// keeps it in a bbolt file, commits batches in groups and survives crashes.
package store

import (
	"context"
	"time"

	"github.com/callhost/callhost"
)

// Store is the interface the runtime uses. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the value of key in obj's storage as of the last batch
	// whose done callback has run.
	Get(ctx context.Context, obj callhost.Address, key []byte) (value []byte, ok bool, err error)
	// List returns at most limit pairs of obj's storage whose keys start with
	// prefix and are >= start, sorted by key.
	List(ctx context.Context, obj callhost.Address, prefix, start []byte, limit int) ([]KV, error)

	// Commit applies b atomically and calls done once b is durable under the
	// store's sync policy, or has failed (then none of b is applied). Commit
	// does not wait for I/O. Batches become durable in the order Commit was
	// called, and their done callbacks run in that order. done runs on a
	// store goroutine, or on the caller's for stores that are not durable,
	// and must not block. The store owns b and its slices after the call.
	Commit(b *Batch, done func(error))

	// Durable reports whether batches survive a restart. The runtime records
	// messages and pending calls only in durable stores.
	Durable() bool
	// Load returns everything a restart recovers: messages in the order they
	// were committed, pending calls, and the highest id handed out.
	Load(ctx context.Context) (*State, error)

	// DueAlarms returns at most limit alarms due at or before now, earliest
	// first.
	DueAlarms(ctx context.Context, now time.Time, limit int) ([]Alarm, error)
	// Alarms returns the alarms of obj, earliest first.
	Alarms(ctx context.Context, obj callhost.Address) ([]Alarm, error)

	// Close waits for committed batches to become durable, then releases the
	// store.
	Close() error
}

// KV is one stored pair.
type KV struct {
	Key   []byte
	Value []byte
}

// Batch is the set of changes one or more turns commit together.
type Batch struct {
	// Writes change object storage.
	Writes []Write
	// Consumed are the sequence numbers of messages the turns ran.
	Consumed []uint64
	// Messages are messages the turns sent.
	Messages []Message
	// PendingAdd are calls made with a continuation.
	PendingAdd []Pending
	// PendingDel are ids of calls whose outcome was delivered.
	PendingDel []uint64
	// AlarmsAdd are alarms scheduled; AlarmsDel are ids of alarms fired or
	// cancelled.
	AlarmsAdd []Alarm
	AlarmsDel []uint64
	// NextID is the highest call, message or alarm id handed out so far. A
	// store keeps the maximum it has seen.
	NextID uint64
}

// Empty reports whether b changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Writes) == 0 && len(b.Consumed) == 0 && len(b.Messages) == 0 &&
		len(b.PendingAdd) == 0 && len(b.PendingDel) == 0 && len(b.AlarmsAdd) == 0 &&
		len(b.AlarmsDel) == 0
}

// Write is one change to an object's storage.
type Write struct {
	Object callhost.Address
	Key    []byte
	Value  []byte
	Delete bool
}

// Message is a queued message for an object. Data is encoded by the runtime
// and opaque to the store.
type Message struct {
	Seq  uint64
	To   callhost.Address
	Data []byte
}

// Pending is a call waiting for its outcome. Data is opaque to the store.
type Pending struct {
	ID   uint64
	Data []byte
}

// Alarm is a continuation an object scheduled on itself. Data is opaque to
// the store.
type Alarm struct {
	ID     uint64
	Object callhost.Address
	At     time.Time
	Data   []byte
}

// State is the recovered content that [Store.Load] returns.
type State struct {
	Messages []Message // in Seq order
	Pending  []Pending
	NextID   uint64
}
