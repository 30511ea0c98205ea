package runtime

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/callhost/callhost"
)

func TestAddKeepsCounter(t *testing.T) {
	rt := newRuntime(t, Options{})
	var sum int64
	mustCall(t, rt, "calc/add", callhost.Op("addTo", "count", 5), &sum)
	mustCall(t, rt, "calc/add", callhost.Op("addTo", "count", -2), &sum)
	if sum != 3 {
		t.Errorf("count after adding 5 and -2 = %d, want 3", sum)
	}
	// incr reads the counter with Load and writes it with Store.
	var count int
	mustCall(t, rt, "calc/add", callhost.Op("incr", 10), &count)
	if count != 13 {
		t.Errorf("incr after Add = %d, want 13", count)
	}
	// The second step of a chain reads the sum of the first step's add.
	op := callhost.Op("addTo", "count", 1).Then("addTo", "count", 1)
	mustCall(t, rt, "calc/add", op, &sum)
	if sum != 15 {
		t.Errorf("count after a chain of two adds = %d, want 15", sum)
	}
}

func TestAddRejectsNonIntegerAndOverflow(t *testing.T) {
	rt := newRuntime(t, Options{})
	// tryPut stores 3 zero bytes under "k", which is not one integer.
	mustCall(t, rt, "calc/bad", callhost.Op("tryPut", 1, 3), nil)
	_, err := call(t, rt, "calc/bad", callhost.Op("addTo", "k", 1))
	var e *callhost.Error
	if !errors.As(err, &e) || e.Code != callhost.CodeBadRequest {
		t.Errorf("Add to a non-integer value: %v, want bad_request", err)
	}
	if want := `kv_add: storage value for key "k" is not an int64 integer`; err != nil &&
		!strings.HasPrefix(e.Message, want) {
		t.Errorf("message = %q, want it to start with %q, the code only once", e.Message, want)
	}

	mustCall(t, rt, "calc/bad", callhost.Op("addTo", "max", math.MaxInt64), nil)
	_, err = call(t, rt, "calc/bad", callhost.Op("addTo", "max", 1))
	if !errors.As(err, &e) || e.Code != callhost.CodeBadRequest {
		t.Errorf("Add past MaxInt64: %v, want bad_request", err)
	}
	var sum int64
	mustCall(t, rt, "calc/bad", callhost.Op("addTo", "max", 0), &sum)
	if sum != math.MaxInt64 {
		t.Errorf("counter after the overflow = %d, want it unchanged at MaxInt64", sum)
	}
}
