//go:build wasip1

// Command guest is the guest module of the server, client and command tests.
// It echoes values, returns large values, fails or panics on request, calls
// back the client that called it, spins, and counts.
package main

import (
	"time"

	"github.com/callhost/callhost"
	"github.com/callhost/callhost/guest"
	"github.com/callhost/callhost/internal/msgp"
)

func main() {}

func init() {
	guest.Expose1("echo", echo)
	guest.Expose1("blob", blob)
	guest.Expose2("fail", fail)
	guest.Expose3("ask", ask)
	guest.Expose3("relay", relay)
	guest.Expose0("hops", hops)
	guest.Expose0("panic", func(*guest.Ctx) (guest.None, error) { panic("guest panic") })
	guest.Expose1("spin", spin)
	guest.Expose1("incr", incr)
	guest.Local2("askDone", askDone)
}

// echo returns its argument.
func echo(_ *guest.Ctx, v msgp.Raw) (msgp.Raw, error) { return v, nil }

// blob returns n bytes.
func blob(_ *guest.Ctx, n int) ([]byte, error) { return make([]byte, n), nil }

// spin runs for ms milliseconds without returning to the host.
func spin(_ *guest.Ctx, ms int) (int, error) {
	end := time.Now().Add(time.Duration(ms) * time.Millisecond)
	n := 0
	for time.Now().Before(end) {
		n++
	}
	return n, nil
}

// incr adds n to the object's stored count and returns the new count.
func incr(c *guest.Ctx, n int) (int, error) {
	v, _, err := guest.Load[int](c, "count")
	if err != nil {
		return 0, err
	}
	v += n
	return v, guest.Store(c, "count", v)
}

// fail fails with code and msg.
func fail(_ *guest.Ctx, code int, msg string) (guest.None, error) {
	return guest.None{}, guest.Errorf(callhost.Code(code), "%s", msg)
}

// client returns the address of the connected client id.
func client(id string) guest.Address {
	return guest.Address{Class: callhost.ClassClient, ID: id}
}

// ask calls handler(arg) on client id. The continuation askDone reports the
// outcome to the same client's "report" handler.
func ask(c *guest.Ctx, id, handler string, arg msgp.Raw) (uint64, error) {
	return c.Call(client(id), guest.Op(handler, arg), guest.Then("askDone", id, guest.Placeholder))
}

// askDone sends the outcome of an ask to the client's "report" handler as
// [code, value or message], without waiting for a reply.
func askDone(c *guest.Ctx, id string, r guest.Result[msgp.Raw]) (guest.None, error) {
	op := guest.Op("report", 0, r.Value)
	if r.Err != nil {
		op = guest.Op("report", int(r.Err.Code), r.Err.Message)
	}
	_, err := c.Send(client(id), op)
	return guest.None{}, err
}

// relay forwards the call it serves to handler(arg) on client id, so the
// client's reply becomes the outcome of the call to relay.
func relay(c *guest.Ctx, id, handler string, arg msgp.Raw) (guest.None, error) {
	return guest.None{}, c.Forward(client(id), guest.Op(handler, arg))
}

// hops returns the caller and the hops of the call it serves, as "class/id"
// strings.
func hops(c *guest.Ctx) ([]string, error) {
	caller, _ := c.Caller()
	out := []string{caller.String()}
	for _, h := range c.Hops() {
		out = append(out, h.String())
	}
	return out, nil
}
