package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/client"
	"github.com/callhost/callhost/server"
)

func obj(id string) callhost.Address { return callhost.Object(testClass, id) }

func TestCallAndWait(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	res, err := c.Call(testContext(t), obj("a"), callhost.Op("echo", map[string]any{"n": 1}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]int
	if err := res.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got["n"] != 1 {
		t.Fatalf("echo returned %v", got)
	}
}

func TestConcurrentCalls(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	ctx := testContext(t)
	const n = 2000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Call(ctx, obj(fmt.Sprint(i%10)), callhost.Op("echo", i))
			if err != nil {
				errs <- err
				return
			}
			var got int
			if err := res.Decode(&got); err != nil || got != i {
				errs <- fmt.Errorf("call %d returned %d (%v)", i, got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestCallErrors(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	ctx := testContext(t)
	_, err := c.Call(ctx, callhost.Object("nosuch", "a"), callhost.Op("echo", 1))
	if !errors.Is(err, callhost.ErrNotFound) {
		t.Fatalf("unknown class: %v, want not_found", err)
	}
	_, err = c.Call(ctx, obj("a"), callhost.Op("fail", 1001, "no credit"))
	var ce *callhost.Error
	if !errors.As(err, &ce) || ce.Code != 1001 || ce.Message != "no credit" {
		t.Fatalf("guest failure: %v, want code 1001 with message %q", err, "no credit")
	}
	_, err = c.Call(ctx, obj("a"), callhost.Op("echo", make([]byte, 2<<20)))
	if !errors.Is(err, callhost.ErrTooLarge) {
		t.Fatalf("oversized call: %v, want too_large", err)
	}
}

func TestCallFunc(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	got := make(chan int, 1)
	err := c.CallFunc(obj("a"), callhost.Op("echo", 9), func(r callhost.Result, err error) {
		var n int
		if err == nil {
			err = r.Decode(&n)
		}
		if err != nil {
			n = -1
		}
		got <- n
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != 9 {
			t.Fatalf("callback got %d, want 9", n)
		}
	case <-testContext(t).Done():
		t.Fatal("callback never ran")
	}
}

// TestHandlerCalledByObject has an object call the client's double handler;
// the object's continuation sends the outcome to the report handler.
func TestHandlerCalledByObject(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, &client.Options{ID: "alice"})
	if c.ID() != "alice" {
		t.Fatalf("id %q, want alice", c.ID())
	}
	from := make(chan callhost.Address, 1)
	c.Handle("double", func(_ context.Context, in *client.Invocation) (any, error) {
		var n int
		if err := in.Decode(&n); err != nil {
			return nil, err
		}
		from <- in.From
		return 2 * n, nil
	})
	reports := make(chan [2]any, 1)
	c.Handle("report", func(_ context.Context, in *client.Invocation) (any, error) {
		var code int
		var value any
		err := in.Decode(&code, &value)
		reports <- [2]any{code, value}
		return nil, err
	})
	ctx := testContext(t)
	if _, err := c.Call(ctx, obj("a"), callhost.Op("ask", "alice", "double", 21)); err != nil {
		t.Fatal(err)
	}
	if f := <-from; f != obj("a") {
		t.Fatalf("invocation from %s, want %s", f, obj("a"))
	}
	select {
	case r := <-reports:
		if r[0] != 0 || fmt.Sprint(r[1]) != "42" {
			t.Fatalf("continuation reported %v, want [0 42]", r)
		}
	case <-ctx.Done():
		t.Fatal("continuation never reported")
	}
}

func TestHandlerOutcomes(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	c.Handle("double", func(_ context.Context, in *client.Invocation) (any, error) {
		var n int
		err := in.Decode(&n)
		return 2 * n, err
	})
	c.Handle("app", func(context.Context, *client.Invocation) (any, error) {
		return nil, fmt.Errorf("wrapped: %w", callhost.Errorf(1500, "quota exceeded"))
	})
	c.Handle("plain", func(context.Context, *client.Invocation) (any, error) {
		return nil, errors.New("disk on fire")
	})
	c.Handle("panics", func(context.Context, *client.Invocation) (any, error) {
		panic("boom")
	})
	cases := []struct {
		handler string
		code    callhost.Code
		message string
	}{
		{"double", callhost.CodeOK, ""},
		{"missing", callhost.CodeNotFound, `has no handler "missing"`},
		{"app", 1500, "quota exceeded"},
		{"plain", callhost.CodeGuestError, "disk on fire"},
		{"panics", callhost.CodeGuestError, "panicked: boom"},
	}
	ctx := testContext(t)
	for _, tc := range cases {
		t.Run(tc.handler, func(t *testing.T) {
			// relay forwards the call, so the client's reply is the outcome.
			res, err := c.Call(ctx, obj("a"), callhost.Op("relay", c.ID(), tc.handler, 4))
			if tc.code == callhost.CodeOK {
				var n int
				if err != nil || res.Decode(&n) != nil || n != 8 {
					t.Fatalf("result %x, error %v; want 8", res, err)
				}
				return
			}
			var ce *callhost.Error
			if !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("error %v, want code %s", err, tc.code)
			}
			if !strings.Contains(ce.Message, tc.message) {
				t.Fatalf("message %q does not contain %q", ce.Message, tc.message)
			}
		})
	}
}

func TestSend(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	notes := make(chan string, 1)
	c.Handle("note", func(_ context.Context, in *client.Invocation) (any, error) {
		var s string
		err := in.Decode(&s)
		notes <- s
		return nil, err
	})
	ctx := testContext(t)
	if err := c.Send(ctx, obj("a"), callhost.Op("relay", c.ID(), "note", "hi")); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-notes:
		if s != "hi" {
			t.Fatalf("note %q, want hi", s)
		}
	case <-ctx.Done():
		t.Fatal("fire-and-forget call never reached the handler")
	}
}

func TestCallTimeout(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	release := make(chan struct{})
	defer close(release)
	c.Handle("hold", func(ctx context.Context, _ *client.Invocation) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	start := time.Now()
	_, err := c.Call(testContext(t), obj("a"), callhost.Op("relay", c.ID(), "hold", 0),
		client.WithTimeout(100*time.Millisecond))
	if !errors.Is(err, callhost.ErrTimeout) {
		t.Fatalf("error %v, want timeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timeout took %s", d)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Call(ctx, obj("a"), callhost.Op("echo", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled context: %v", err)
	}
}

func TestDialTakenID(t *testing.T) {
	e := newEnv(t, server.Options{})
	e.dial(t, &client.Options{ID: "bob"})
	_, err := client.Dial(testContext(t), e.url, &client.Options{ID: "bob"})
	if err == nil || !strings.Contains(err.Error(), "HTTP 409") ||
		!strings.Contains(err.Error(), `client id "bob" is already connected`) {
		t.Fatalf("dial error %v, want HTTP 409 naming the id", err)
	}
	_, err = client.Dial(testContext(t), e.url, &client.Options{ID: "no spaces"})
	if err == nil || !strings.Contains(err.Error(), "invalid client id") {
		t.Fatalf("dial error %v, want invalid client id", err)
	}
}

// TestConnectionLostFailsCalls cuts the connection from the server side
// while a call waits and checks that the call fails with unavailable.
func TestConnectionLostFailsCalls(t *testing.T) {
	e := newEnv(t, server.Options{})
	c := e.dial(t, nil)
	holding := make(chan struct{})
	c.Handle("hold", func(ctx context.Context, _ *client.Invocation) (any, error) {
		close(holding)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), obj("a"), callhost.Op("relay", c.ID(), "hold", 0))
		errc <- err
	}()
	<-holding
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := e.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v, want the deadline to pass while the call waits", err)
	}
	err := <-errc
	if !errors.Is(err, callhost.ErrUnavailable) {
		t.Fatalf("waiting call: %v, want unavailable", err)
	}
	<-c.Done()
	if _, err := c.Call(testContext(t), obj("a"), callhost.Op("echo", 1)); !errors.Is(err,
		callhost.ErrUnavailable) {
		t.Fatalf("call after the connection ended: %v, want unavailable", err)
	}
}
