package runtime

import (
	"bytes"

	"github.com/callhost/callhost/store"
)

// maxLinearWrites is the number of writes a writeSet searches by scanning
// before it builds an index. Most turns write one or two keys, and scanning
// a few keys is cheaper than making and filling a map.
const maxLinearWrites = 8

// writeSet contains the latest staged write of each key, in the order the keys
// were first written. Replacing a key's write in place keeps the result of
// applying the list in order the same, because writes of different keys do
// not interact.
type writeSet struct {
	list  []store.Write
	index map[string]int // position in list by key; nil until list outgrows maxLinearWrites
}

// find returns the write of key, or nil. The pointer is valid until the next
// call to set or reset.
func (s *writeSet) find(key []byte) *store.Write {
	if s.index != nil {
		if i, ok := s.index[string(key)]; ok {
			return &s.list[i]
		}
		return nil
	}
	for i := range s.list {
		if bytes.Equal(s.list[i].Key, key) {
			return &s.list[i]
		}
	}
	return nil
}

// set records w as the latest write of its key. The set keeps w's slices.
func (s *writeSet) set(w store.Write) {
	if old := s.find(w.Key); old != nil {
		old.Value, old.Delete = w.Value, w.Delete
		return
	}
	s.list = append(s.list, w)
	switch {
	case s.index != nil:
		s.index[string(w.Key)] = len(s.list) - 1
	case len(s.list) > maxLinearWrites:
		s.index = make(map[string]int, 2*len(s.list))
		for i := range s.list {
			s.index[string(s.list[i].Key)] = i
		}
	}
}

// reset empties the set and keeps the list's capacity for reuse. It drops
// its references to the keys and values, which the run has copied.
func (s *writeSet) reset() {
	clear(s.list)
	s.list = s.list[:0]
	s.index = nil
}
