// Package protocol encodes and decodes the frames of the callhost WebSocket
// protocol (docs/protocol.md). The server and the Go client share it.
//
// Every frame is one binary WebSocket message holding one MessagePack array
// whose first element is the frame [Type]. Encoders append to a byte slice;
// decoders read a whole message and return slices that alias it.
//
//	b := protocol.AppendCall(nil, &protocol.Call{ReqID: 1, Target: to, Steps: steps})
//	h, err := protocol.ReadHeader(b)
//	if err == nil && h.Type == protocol.TypeCall {
//		var c protocol.Call
//		err = protocol.DecodeCall(b, &c)
//	}
//
// Decoding errors are *callhost.Error values with code
// callhost.CodeBadRequest, ready to send back in a result frame.
package protocol
