package store

import (
	"context"
	"testing"
	"time"

	"github.com/callhost/callhost"
)

func TestMemoryLen(t *testing.T) {
	s := NewMemory()
	a, b := callhost.Object("c", "a"), callhost.Object("c", "b")
	done := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	s.Commit(&Batch{
		Writes: []Write{
			{Object: a, Key: []byte("k1"), Value: []byte("1")},
			{Object: a, Key: []byte("k2"), Value: []byte("2")},
			{Object: b, Key: []byte("k1"), Value: []byte("3")},
		},
		AlarmsAdd: []Alarm{{ID: 1, Object: a, At: time.Now()}},
	}, done)
	keys, alarms := s.Len()
	if keys != 3 {
		t.Errorf("keys = %d after three writes, want 3", keys)
	}
	if alarms != 1 {
		t.Errorf("alarms = %d, want 1", alarms)
	}

	s.Commit(&Batch{Writes: []Write{{Object: a, Key: []byte("k1"), Delete: true}},
		AlarmsDel: []uint64{1}}, done)
	keys, alarms = s.Len()
	if keys != 2 {
		t.Errorf("keys = %d after a delete, want 2", keys)
	}
	if alarms != 0 {
		t.Errorf("alarms = %d after the delete, want 0", alarms)
	}
	if _, ok, _ := s.Get(context.Background(), a, []byte("k1")); ok {
		t.Error("k1 of a is still stored")
	}
}
