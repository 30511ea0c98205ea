package server_test

import (
	"context"
	"testing"

	"github.com/callhost/callhost/server"
	"github.com/coder/websocket"
)

// BenchmarkConnect opens a connection, reads the welcome frame and drops the
// connection, as a client that reconnects for every call does. It measures
// the client's side and the server's side together.
func BenchmarkConnect(b *testing.B) {
	e := newEnv(b, server.Options{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ws, _, err := websocket.Dial(ctx, e.url, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ws.Read(ctx); err != nil {
			b.Fatal(err)
		}
		ws.CloseNow()
	}
}
