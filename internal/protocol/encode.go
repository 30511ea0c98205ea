package protocol

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/abi"
	"github.com/callhost/callhost/internal/msgp"
)

// AppendWelcome appends a welcome frame.
func AppendWelcome(b []byte, w *Welcome) []byte {
	b = msgp.AppendArrayHeader(b, 4)
	b = msgp.AppendUint(b, uint64(TypeWelcome))
	b = msgp.AppendString(b, w.ClientID)
	b = msgp.AppendUint(b, w.Version)
	return msgp.AppendUint(b, w.MaxFrameSize)
}

// AppendCall appends a call frame. c.Steps must be an encoded operation.
func AppendCall(b []byte, c *Call) []byte {
	b = msgp.AppendArrayHeader(b, 6)
	b = msgp.AppendUint(b, uint64(TypeCall))
	b = msgp.AppendUint(b, c.ReqID)
	b = abi.AppendAddress(b, c.Target)
	b = append(b, c.Steps...)
	b = msgp.AppendUint(b, c.TimeoutMS)
	return msgp.AppendUint(b, c.Flags)
}

// AppendResult appends a result frame for request reqID.
func AppendResult(b []byte, reqID uint64, value []byte, err *callhost.Error) []byte {
	return appendOutcome(b, TypeResult, reqID, value, err)
}

// AppendReply appends a reply frame for invoke replyTo.
func AppendReply(b []byte, replyTo uint64, value []byte, err *callhost.Error) []byte {
	return appendOutcome(b, TypeReply, replyTo, value, err)
}

func appendOutcome(b []byte, t Type, id uint64, value []byte, err *callhost.Error) []byte {
	b = msgp.AppendArrayHeader(b, 4)
	b = msgp.AppendUint(b, uint64(t))
	b = msgp.AppendUint(b, id)
	if err != nil {
		code := err.Code
		if code == callhost.CodeOK {
			code = callhost.CodeInternal
		}
		b = msgp.AppendInt(b, int64(code))
		return msgp.AppendString(b, err.Message)
	}
	b = msgp.AppendInt(b, 0)
	if len(value) == 0 {
		return msgp.AppendNil(b)
	}
	return append(b, value...)
}

// AppendInvoke appends an invoke frame.
func AppendInvoke(b []byte, v *Invoke) []byte {
	b = msgp.AppendArrayHeader(b, 7)
	b = msgp.AppendUint(b, uint64(TypeInvoke))
	b = msgp.AppendUint(b, v.ReplyTo)
	b = abi.AppendAddress(b, v.From)
	b = msgp.AppendString(b, v.Handler)
	if len(v.Args) == 0 {
		b = msgp.AppendArrayHeader(b, 0)
	} else {
		b = append(b, v.Args...)
	}
	b = msgp.AppendUint(b, v.CallID)
	b = msgp.AppendArrayHeader(b, len(v.Hops))
	for _, h := range v.Hops {
		b = abi.AppendAddress(b, h)
	}
	return b
}
