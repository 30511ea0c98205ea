package server_test

import (
	"testing"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/server"
)

// TestDisconnectKeepsQueuedCalls checks that a call still queued when its
// client disconnects runs all the same: the server accepted it, and only its
// outcome is dropped. The call waits behind a 500 ms spin on the same object,
// so the server notices the disconnect before it runs.
func TestDisconnectKeepsQueuedCalls(t *testing.T) {
	e := newEnv(t, server.Options{})
	dropped := dialRaw(t, e.url)
	dropped.call(1, "queued", callhost.Op("spin", 500), 0)
	dropped.call(2, "queued", callhost.Op("incr", 1), 0)
	// The server reads the two calls on its own goroutine, so the client
	// disconnects only once the runtime holds both.
	waitFor(t, "both calls to be accepted", func() bool { return e.rt.Stats().Active >= 2 })
	dropped.ws.CloseNow()

	// The call of the second client queues behind both calls of the first.
	c := dialRaw(t, e.url)
	c.call(1, "queued", callhost.Op("incr", 0), 0)
	o := c.result()
	if o.Err != nil {
		t.Fatalf("incr(0): %v", o.Err)
	}
	if count := decodeInt(t, o.Value); count != 1 {
		t.Errorf("count = %d, want 1: the accepted call of the disconnected client did not run",
			count)
	}
}
