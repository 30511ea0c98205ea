// Package client is the Go client of the callhost WebSocket protocol
// (docs/protocol.md). A [Conn] calls objects and serves handlers that
// objects can call back.
//
//	conn, err := client.Dial(ctx, "ws://127.0.0.1:8080/ws", &client.Options{ID: "alice"})
//	if err != nil {
//		return err
//	}
//	defer conn.Close()
//
//	// Objects reach this handler at callhost.Address{Class: "@client", ID: "alice"}.
//	conn.Handle("greet", func(ctx context.Context, in *client.Invocation) (any, error) {
//		var name string
//		if err := in.Decode(&name); err != nil {
//			return nil, err
//		}
//		return "hello " + name, nil
//	})
//
//	res, err := conn.Call(ctx, callhost.Object("counter", "a"), callhost.Op("add", 1))
//	if err != nil {
//		return err // a *callhost.Error carries the code
//	}
//	var total int
//	err = res.Decode(&total)
//
// One connection carries any number of concurrent calls. A reader goroutine
// matches results to calls by request id, and it starts a goroutine for
// each invoked handler. A writer goroutine sends frames in order. When the
// connection drops, every call still waiting fails with
// callhost.CodeUnavailable. [Conn.Close] stops all of these goroutines.
package client
