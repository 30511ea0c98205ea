package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/callhost/callhost"
)

// benchCommitters are the numbers of goroutines that commit at once, each
// waiting for its done before its next commit, the way turns of different
// objects do.
var benchCommitters = []int{1, 64}

// BenchmarkBoltCommit measures small batches committed in parallel: one
// storage write, one message sent and the previous one consumed.
func BenchmarkBoltCommit(b *testing.B) {
	policies := []SyncPolicy{SyncEveryGroup, SyncInterval(100 * time.Millisecond)}
	for _, policy := range policies {
		for _, committers := range benchCommitters {
			name := fmt.Sprintf("sync=%v/committers=%d", policy, committers)
			b.Run(name, func(b *testing.B) {
				s, err := OpenBolt(b.TempDir(), BoltOptions{Sync: policy})
				if err != nil {
					b.Fatal(err)
				}
				benchmarkCommit(b, s, committers)
				st := s.Stats()
				if err := s.Close(); err != nil {
					b.Fatal(err)
				}
				if st.Groups > 0 {
					b.ReportMetric(float64(st.Batches)/float64(st.Groups), "batches/group")
				}
			})
		}
	}
}

// BenchmarkMemoryCommit is BenchmarkBoltCommit on the in-memory store, for
// comparison.
func BenchmarkMemoryCommit(b *testing.B) {
	for _, committers := range benchCommitters {
		b.Run(fmt.Sprintf("committers=%d", committers), func(b *testing.B) {
			benchmarkCommit(b, NewMemory(), committers)
		})
	}
}

// benchmarkCommit commits b.N batches from committers goroutines and
// reports batches/s.
func benchmarkCommit(b *testing.B, s Store, committers int) {
	var next atomic.Int64
	value := make([]byte, 100)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range committers {
		wg.Go(func() {
			var prev uint64 // this goroutine's last message, which the next batch runs
			for n := uint64(next.Add(1)); n <= uint64(b.N); n = uint64(next.Add(1)) {
				obj := callhost.Object("bench", fmt.Sprint(n%1000))
				batch := &Batch{
					Writes:   []Write{{Object: obj, Key: []byte("state"), Value: value}},
					Messages: []Message{{Seq: n, To: obj, Data: value}},
					Consumed: []uint64{prev},
					NextID:   n,
				}
				if err := commit(s, batch); err != nil {
					b.Error(err)
					return
				}
				prev = n
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "batches/s")
}
