package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/callhost/callhost/internal/protocol"
	"github.com/coder/websocket"
)

// serveWebSocket upgrades one request and serves the connection until it
// closes. The client id is claimed before the upgrade, so a taken id is
// rejected with HTTP 409 instead of a WebSocket close.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	g, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	id, err := requestedID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c := newConn(s, id)
	c.grant = g
	if err := s.register(c); err != nil {
		s.log.Warn("connection rejected", "client_id", id, "remote", r.RemoteAddr,
			"reason", err.Error())
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer s.unregister(c)
	if err := s.rt.AttachPeer(id, c); err != nil {
		http.Error(w, fmt.Sprintf("client id %q is already connected; "+
			"choose another or omit %s for a random one", id, protocol.QueryClientID),
			http.StatusConflict)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		// Accept has written the HTTP error response.
		s.log.Debug("websocket upgrade failed", "client_id", id, "remote", r.RemoteAddr,
			"error", err)
		c.failReplies(c.release())
		return
	}
	s.log.Debug("client connected", "client_id", id, "remote", r.RemoteAddr)
	c.serve(ws)
}

// authenticate returns the grant of the request's token, or writes HTTP 401
// and reports false. Without Options.Auth it returns a nil grant.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (*grant, bool) {
	if s.opts.Auth == nil {
		return nil, true
	}
	g, err := s.opts.Auth.authenticate(r)
	if err != nil {
		s.log.Info("connection rejected: authentication failed", "remote", r.RemoteAddr,
			"reason", err.Error())
		w.Header().Set("WWW-Authenticate", `Bearer realm="callhost"`)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return nil, false
	}
	return g, true
}

// requestedID returns the client_id query parameter, or a random id when it
// is absent.
func requestedID(r *http.Request) (string, error) {
	q := r.URL.Query()
	if !q.Has(protocol.QueryClientID) {
		return randomID(), nil
	}
	id := q.Get(protocol.QueryClientID)
	if !protocol.ValidClientID(id) {
		return "", fmt.Errorf("invalid %s %q: use 1-128 ASCII letters, digits, '_', '.' or '-'",
			protocol.QueryClientID, id)
	}
	return id, nil
}

// randomID returns "c-" and 16 random hex digits.
func randomID() string {
	var b [8]byte
	rand.Read(b[:])
	return "c-" + hex.EncodeToString(b[:])
}
