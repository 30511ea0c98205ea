package runtime

import (
	"context"
	"sync"
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/store"
)

// TestFairShareRunsShortTurnsFirst runs one worker with ten 30 ms turns of
// class "slow" queued before ten short turns of class "calc". Fair share
// lets the short turns run once "slow" has used more turn time than "calc",
// so they finish after at most a few slow turns, where a FIFO would run all
// ten slow turns first.
func TestFairShareRunsShortTurnsFirst(t *testing.T) {
	ctx := context.Background()
	rt, err := New(ctx, Options{Store: store.NewMemory(), CacheDir: cacheDir, Workers: 1,
		MaxInstances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown(ctx)
	for _, class := range []string{"slow", "calc"} {
		if err := rt.Load(ctx, class, buildTestGuest(t)); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var order []string
	var done sync.WaitGroup
	submit := func(class, id string, op callhost.Operation) {
		steps, _ := op.AppendSteps(nil)
		done.Add(1)
		_, err := rt.Submit(Submission{To: callhost.Object(class, id), Steps: steps,
			Done: func(_ []byte, err *callhost.Error) {
				if err != nil {
					t.Errorf("%s/%s: %v", class, id, err)
				}
				mu.Lock()
				order = append(order, class)
				mu.Unlock()
				done.Done()
			}})
		if err != nil {
			t.Fatal(err)
		}
	}
	const each = 10
	for i := range each {
		submit("slow", "s"+string(rune('a'+i)), callhost.Op("spin", 30))
	}
	for i := range each {
		submit("calc", "c"+string(rune('a'+i)), callhost.Op("double", i))
	}
	done.Wait()

	slowFirst := 0
	calcDone := 0
	for _, class := range order {
		if class == "calc" {
			calcDone++
			if calcDone == each {
				break
			}
			continue
		}
		slowFirst++
	}
	t.Logf("completion order: %v", order)
	if slowFirst > 3 {
		t.Errorf("%d slow turns finished before the last calc turn, want at most 3",
			slowFirst)
	}
}
