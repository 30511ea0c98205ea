package protocol

import (
	"time"

	"github.com/callhost/callhost"
)

// Version is the protocol version that this package implements and that the
// server announces in its welcome frame.
const Version = 1

// Path is the HTTP path of the WebSocket endpoint.
const Path = "/ws"

// QueryClientID is the query parameter that requests a client id.
const QueryClientID = "client_id"

// Type is the first element of every frame.
type Type uint64

// Frame types.
const (
	TypeWelcome Type = 0 // server to client, once, right after the upgrade
	TypeCall    Type = 1 // client to server
	TypeResult  Type = 2 // server to client: the outcome of a call, or a frame error
	TypeReply   Type = 3 // client to server: the outcome of an invoke
	TypeInvoke  Type = 4 // server to client: an object calls a client handler
)

func (t Type) String() string {
	switch t {
	case TypeWelcome:
		return "welcome"
	case TypeCall:
		return "call"
	case TypeResult:
		return "result"
	case TypeReply:
		return "reply"
	case TypeInvoke:
		return "invoke"
	}
	return "unknown"
}

// FlagNoReply in a call frame's flags asks the server to send no result
// frame for the call: the call is fire-and-forget.
const FlagNoReply = 1

// knownFlags are the call flag bits this version defines.
const knownFlags = FlagNoReply

// Limits and defaults shared by the server and the client.
const (
	// DefaultMaxFrameSize is the default size limit of one frame, in bytes,
	// in either direction.
	DefaultMaxFrameSize = 1 << 20
	// DefaultMaxInFlight is the default number of calls one connection may
	// have waiting for a result.
	DefaultMaxInFlight = 4096
	// MaxTimeout caps the timeout_ms of a call frame. Larger values are
	// treated as this one.
	MaxTimeout = 24 * time.Hour
	// maxClientID is the longest client id, in bytes.
	maxClientID = 128
)

// Welcome is the first frame the server sends: [0, client_id, version,
// max_frame_size].
type Welcome struct {
	ClientID     string
	Version      uint64
	MaxFrameSize uint64 // 0 when the server did not send one
}

// Call is a call frame: [1, req_id, target, operation, timeout_ms, flags].
type Call struct {
	ReqID     uint64
	Target    callhost.Address
	Steps     []byte // encoded operation, as in docs/abi.md
	TimeoutMS uint64 // 0 means the server's default
	Flags     uint64
}

// NoReply reports whether the call is fire-and-forget.
func (c *Call) NoReply() bool { return c.Flags&FlagNoReply != 0 }

// Timeout returns the call's timeout, capped at [MaxTimeout], or 0 for the
// server's default.
func (c *Call) Timeout() time.Duration {
	if c.TimeoutMS >= uint64(MaxTimeout/time.Millisecond) {
		return MaxTimeout
	}
	return time.Duration(c.TimeoutMS) * time.Millisecond
}

// Outcome is a result frame [2, req_id, code, value-or-message] or a reply
// frame [3, reply_to, code, value-or-message].
type Outcome struct {
	ID    uint64
	Value []byte          // encoded value when Err is nil
	Err   *callhost.Error // the failure, or nil on success
}

// Invoke is an invoke frame: [4, reply_to, from, handler, args, call_id,
// hops].
type Invoke struct {
	ReplyTo uint64 // 0 when no reply is expected
	From    callhost.Address
	Handler string
	Args    []byte // encoded array
	CallID  uint64
	Hops    []callhost.Address
}

// ValidClientID reports whether id can name a client: 1 to 128 ASCII
// letters, digits, '_', '.' or '-'.
func ValidClientID(id string) bool {
	if id == "" || len(id) > maxClientID {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
