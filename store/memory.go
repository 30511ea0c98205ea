package store

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"time"

	"github.com/callhost/callhost"
)

// Memory is a [Store] that keeps object storage and alarms in memory. It
// records no messages or pending calls, and everything is lost when the
// process exits.
type Memory struct {
	mu      sync.RWMutex
	objects map[callhost.Address]map[string][]byte
	alarms  map[uint64]Alarm
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory {
	return &Memory{
		objects: make(map[callhost.Address]map[string][]byte),
		alarms:  make(map[uint64]Alarm),
	}
}

// Get implements [Store].
func (s *Memory) Get(_ context.Context, obj callhost.Address, key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.objects[obj][string(key)]
	return v, ok, nil
}

// List implements [Store].
func (s *Memory) List(_ context.Context, obj callhost.Address, prefix, start []byte,
	limit int) ([]KV, error) {
	s.mu.RLock()
	var out []KV
	for k, v := range s.objects[obj] {
		if bytes.HasPrefix([]byte(k), prefix) && k >= string(start) {
			out = append(out, KV{Key: []byte(k), Value: v})
		}
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Commit implements [Store]: it applies the writes and alarms of b and calls
// done before it returns.
func (s *Memory) Commit(b *Batch, done func(error)) {
	s.mu.Lock()
	for _, w := range b.Writes {
		s.apply(w)
	}
	// Adds before deletes, as in Bolt: an alarm set and cancelled in one
	// batch ends up absent.
	for _, a := range b.AlarmsAdd {
		s.alarms[a.ID] = a
	}
	for _, id := range b.AlarmsDel {
		delete(s.alarms, id)
	}
	s.mu.Unlock()
	done(nil)
}

func (s *Memory) apply(w Write) {
	m := s.objects[w.Object]
	if w.Delete {
		delete(m, string(w.Key))
		if len(m) == 0 {
			delete(s.objects, w.Object)
		}
		return
	}
	if m == nil {
		m = make(map[string][]byte)
		s.objects[w.Object] = m
	}
	m[string(w.Key)] = w.Value
}

// Durable implements [Store]; a Memory store is not durable.
func (s *Memory) Durable() bool { return false }

// Load implements [Store]; a Memory store has nothing to recover.
func (s *Memory) Load(context.Context) (*State, error) { return &State{}, nil }

// DueAlarms implements [Store].
func (s *Memory) DueAlarms(_ context.Context, now time.Time, limit int) ([]Alarm, error) {
	s.mu.RLock()
	var out []Alarm
	for _, a := range s.alarms {
		if !a.At.After(now) {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	sortAlarms(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Alarms implements [Store].
func (s *Memory) Alarms(_ context.Context, obj callhost.Address) ([]Alarm, error) {
	s.mu.RLock()
	var out []Alarm
	for _, a := range s.alarms {
		if a.Object == obj {
			out = append(out, a)
		}
	}
	s.mu.RUnlock()
	sortAlarms(out)
	return out, nil
}

func sortAlarms(as []Alarm) {
	sort.Slice(as, func(i, j int) bool {
		if !as[i].At.Equal(as[j].At) {
			return as[i].At.Before(as[j].At)
		}
		return as[i].ID < as[j].ID
	})
}

// Len returns the number of stored keys of all objects and the number of
// alarms.
func (s *Memory) Len() (keys, alarms int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, m := range s.objects {
		keys += len(m)
	}
	return keys, len(s.alarms)
}

// Close implements [Store].
func (s *Memory) Close() error { return nil }
