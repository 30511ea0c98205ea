// Package server serves a callhost runtime over WebSocket, with the frame
// protocol of docs/protocol.md, and reports its health over HTTP.
//
// A [Server] is an http.Handler with two routes: /ws upgrades to a
// WebSocket connection and /healthz returns {"status": "ok", "classes":
// [...]} (200), or status "draining" (503) once [Server.Shutdown] has begun.
//
//	rt, err := runtime.New(ctx, runtime.Options{})
//	...
//	srv := server.New(rt, server.Options{Logger: logger})
//	hs := &http.Server{Addr: "127.0.0.1:8080", Handler: srv}
//	go hs.ListenAndServe()
//	...
//	srv.Shutdown(ctx) // finish in-flight calls, close connections
//	hs.Shutdown(ctx)
//	rt.Shutdown(ctx)
//
// Each connection is attached to the runtime as a peer under its client id,
// so objects can call the handlers a client registers, at address
// callhost.ClassClient/<client id>. Calls from the client reach objects with
// that address as their caller.
//
// One reader goroutine and one writer goroutine serve each connection. The
// writer drains a queue of outgoing frames that is bounded both in frames
// ([Options.WriteQueue]) and in bytes ([Options.MaxQueuedBytes]). A client
// that reads so slowly that a frame would pass either bound is disconnected
// with close status 1008 (policy violation), so a slow client never makes
// the server buffer without bound.
package server
