package runtime

import (
	"bytes"
	"context"
	"sort"
	"sync"

	"github.com/callhost/callhost"
)

// Store keeps the key-value storage of every object. Implementations must be
// safe for concurrent use; the runtime never runs two turns of one object at
// once, so calls for one object do not overlap.
type Store interface {
	// Get returns the value of key in obj's storage.
	Get(ctx context.Context, obj callhost.Address, key []byte) (value []byte, ok bool, err error)
	// List returns at most limit pairs of obj's storage whose keys start with
	// prefix and are >= start, sorted by key.
	List(ctx context.Context, obj callhost.Address, prefix, start []byte, limit int) ([]KV, error)
	// Commit applies the writes of one turn atomically: all or none.
	Commit(ctx context.Context, obj callhost.Address, writes []Write) error
}

// KV is one stored pair.
type KV struct {
	Key   []byte
	Value []byte
}

// Write is one staged storage change.
type Write struct {
	Key    []byte
	Value  []byte
	Delete bool
}

// MemoryStore is a [Store] that keeps everything in memory. Its contents are
// lost when the process exits.
type MemoryStore struct {
	mu      sync.RWMutex
	objects map[callhost.Address]map[string][]byte
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{objects: make(map[callhost.Address]map[string][]byte)}
}

// Get implements [Store].
func (s *MemoryStore) Get(_ context.Context, obj callhost.Address, key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.objects[obj][string(key)]
	return v, ok, nil
}

// List implements [Store].
func (s *MemoryStore) List(_ context.Context, obj callhost.Address, prefix, start []byte,
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

// Commit implements [Store]. Values are stored without copying; the runtime
// hands over buffers it no longer uses.
func (s *MemoryStore) Commit(_ context.Context, obj callhost.Address, writes []Write) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.objects[obj]
	for _, w := range writes {
		if w.Delete {
			delete(m, string(w.Key))
			continue
		}
		if m == nil {
			m = make(map[string][]byte)
			s.objects[obj] = m
		}
		m[string(w.Key)] = w.Value
	}
	if len(m) == 0 {
		delete(s.objects, obj)
	}
	return nil
}
