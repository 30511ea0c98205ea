//go:build wasip1

// Command pingpong shows a long exchange built from calls and continuations:
// two objects of the class play rounds, and each continuation makes the next
// call.
//
// start on pingpong/a with peer "b" calls ping on pingpong/b. When b's answer
// arrives, a's continuation pong stores the number of rounds played and, until
// the game is over, calls ping again. No turn ever waits: between two rounds
// neither object runs, and the game's state lives in the continuation's bound
// arguments and in a's storage.
//
// The handlers take and return scalars only. The SDK encodes and decodes
// scalars without reflection, which matters for a handler that runs tens of
// thousands of times.
//
// Handlers:
//
//	start(peer string, rounds int)  starts a game of rounds rounds
//	                                (DefaultRounds when rounds <= 0)
//	                                with pingpong/<peer>
//	ping(round int) int             returns round + 1
//	played() int                    the rounds this object has played as starter
//	pong (local)                    the continuation of each ping
package main

import (
	"github.com/callhost/callhost/guest"
)

// DefaultRounds is the length of a game started with rounds <= 0.
const DefaultRounds = 10_000

// playedKey is the storage key of the rounds played so far, which grows by
// one each round.
const playedKey = "played"

func init() {
	guest.Expose2("start", start)
	guest.Expose1("ping", ping)
	guest.Expose0("played", played)
	guest.Local3("pong", pong)
}

func main() {}

// start resets the count and sends the first ping. It returns before the
// game has started; poll played to follow it.
func start(c *guest.Ctx, peer string, rounds int) (guest.None, error) {
	if rounds <= 0 {
		rounds = DefaultRounds
	}
	if err := guest.Store(c, playedKey, 0); err != nil {
		return guest.None{}, err
	}
	return guest.None{}, serve(c, peer, rounds, 0)
}

// serve calls ping on the peer with the rounds played so far. The
// continuation binds the peer and the game's length, because pong runs in a
// new turn that shares nothing else with this one.
func serve(c *guest.Ctx, peer string, rounds, round int) error {
	target := guest.Object(c.Self().Class, peer)
	then := guest.Then("pong", peer, rounds, guest.Placeholder)
	_, err := c.Call(target, guest.Op("ping", round), then)
	return err
}

// ping returns the ball: the number of rounds played once this one is done.
func ping(_ *guest.Ctx, round int) (int, error) {
	return round + 1, nil
}

// pong runs on the starter when the peer's answer arrives. An error fails
// this turn, which the host logs, and ends the game: no further call is
// made.
func pong(c *guest.Ctx, peer string, rounds int, r guest.Result[int]) (guest.None, error) {
	round, err := r.Get()
	if err != nil {
		return guest.None{}, err
	}
	if err := guest.Store(c, playedKey, round); err != nil {
		return guest.None{}, err
	}
	if round >= rounds {
		c.Logger().Info("game over", "peer", peer, "rounds", round)
		return guest.None{}, nil
	}
	return guest.None{}, serve(c, peer, rounds, round)
}

// played returns the rounds played in the last game this object started.
func played(c *guest.Ctx) (int, error) {
	n, _, err := guest.Load[int](c, playedKey)
	return n, err
}
