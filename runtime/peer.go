package runtime

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// Peer is a caller outside the runtime that objects can call, such as a client
// connected over WebSocket. Objects address it as class callhost.ClassClient
// with the id it was attached under.
type Peer interface {
	// Invoke hands the peer a call. It must not block. A returned error
	// becomes the call's outcome; otherwise the peer answers later with
	// [Runtime.Reply] when ReplyTo is not zero.
	Invoke(call PeerCall) error
}

// PeerCall is a call addressed to a [Peer].
type PeerCall struct {
	ID      uint64 // call id, for logs
	ReplyTo uint64 // id to pass to Runtime.Reply; 0 when no one waits for the outcome
	From    callhost.Address
	Hops    []callhost.Address
	Handler string
	Args    []byte // encoded array, owned by the peer
}

// AttachPeer makes p callable at callhost.ClassClient/id. It fails if the id
// is taken.
func (rt *Runtime) AttachPeer(id string, p Peer) error {
	if id == "" {
		return callhost.Errorf(callhost.CodeBadRequest, "peer id is empty")
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if _, ok := rt.peers[id]; ok {
		return callhost.Errorf(callhost.CodeBadRequest, "peer id %q is already attached", id)
	}
	rt.peers[id] = p
	return nil
}

// DetachPeer removes the peer attached under id. Calls it has not answered
// still end with their deadline.
func (rt *Runtime) DetachPeer(id string) {
	rt.mu.Lock()
	delete(rt.peers, id)
	rt.mu.Unlock()
}

// Reply completes call replyTo with an encoded result or an error, and reports
// whether the call was still pending. Peers call it with the ReplyTo of a
// [PeerCall] they received; the runtime does not check who replies.
func (rt *Runtime) Reply(replyTo uint64, result []byte, err *callhost.Error) bool {
	if err == nil && len(result) > 0 {
		r := msgp.NewReader(result)
		if skipErr := r.Skip(); skipErr != nil || r.Len() != 0 {
			err = callhost.Errorf(callhost.CodeBadRequest, "peer result is not one MessagePack value")
		}
	}
	return rt.complete(replyTo, result, err)
}

func (rt *Runtime) deliverToPeer(to callhost.Address, msg *message) error {
	rt.mu.RLock()
	p := rt.peers[to.ID]
	rt.mu.RUnlock()
	if p == nil {
		return callhost.Errorf(callhost.CodeNotFound, "client %q is not connected", to.ID)
	}
	call := PeerCall{ID: msg.callID, ReplyTo: msg.replyTo, From: msg.from, Hops: msg.hops}
	steps := 0
	err := abi.ForEachStep(msg.steps, func(i int, handler string, args []byte) error {
		steps++
		call.Handler, call.Args = handler, args
		return nil
	})
	if err != nil || steps != 1 || msg.ext {
		return callhost.Errorf(callhost.CodeBadRequest,
			"calls to clients take one step without nested operations")
	}
	return p.Invoke(call)
}
