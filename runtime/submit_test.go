package runtime

import (
	"context"
	"testing"

	"github.com/callhost/callhost"
)

// submitAndWait submits op to to with ctx as its Submission.Context and
// returns the outcome.
func submitAndWait(t *testing.T, rt *Runtime, ctx context.Context, to callhost.Address,
	op callhost.Operation) ([]byte, *callhost.Error) {
	t.Helper()
	steps, err := op.AppendSteps(nil)
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		value []byte
		err   *callhost.Error
	}
	ch := make(chan outcome, 1)
	_, err = rt.Submit(Submission{To: to, Steps: steps, Context: ctx,
		Done: func(v []byte, err *callhost.Error) { ch <- outcome{v, err} }})
	if err != nil {
		t.Fatalf("submit %s: %v", op.Handler(), err)
	}
	o := <-ch
	return o.value, o.err
}

func TestSubmitAbandonedCallDoesNotRun(t *testing.T) {
	rt := newRuntime(t, Options{})
	to := callhost.Object("calc", "abandoned")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := submitAndWait(t, rt, ctx, to, callhost.Op("incr", 5))
	if err == nil || err.Code != callhost.CodeUnavailable {
		t.Fatalf("incr with a done context: error %v, want code unavailable", err)
	}

	var count int
	mustCall(t, rt, "calc/abandoned", callhost.Op("incr", 0), &count)
	if count != 0 {
		t.Errorf("count = %d after the abandoned incr, want 0", count)
	}
}

func TestSubmitWithLiveContextRuns(t *testing.T) {
	rt := newRuntime(t, Options{})
	to := callhost.Object("calc", "live")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	value, err := submitAndWait(t, rt, ctx, to, callhost.Op("incr", 5))
	if err != nil {
		t.Fatalf("incr with a live context: %v", err)
	}
	var count int
	if err := callhost.Result(value).Decode(&count); err != nil {
		t.Fatal(err)
	}
	if count != 5 {
		t.Errorf("incr returned %d, want 5", count)
	}
}

func TestStatsCountInstances(t *testing.T) {
	rt := newRuntime(t, Options{WarmInstances: 2, MaxInstances: 2})
	mustCall(t, rt, "calc/counted", callhost.Op("double", 2), nil)
	st := rt.Stats()
	if want := 2 * len(testClasses); st.Instances != want {
		t.Errorf("Instances = %d, want %d: two warm instances of each class", st.Instances,
			want)
	}
	if st.Discarded != 0 {
		t.Errorf("Discarded = %d before any trap, want 0", st.Discarded)
	}

	if _, err := call(t, rt, "calc/counted", callhost.Op("panic")); err == nil {
		t.Fatal("panic returned no error")
	}
	if st := rt.Stats(); st.Discarded != 1 {
		t.Errorf("Discarded = %d after a trap, want 1", st.Discarded)
	}
}
