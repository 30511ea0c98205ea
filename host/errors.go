package host

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrClosed is returned by calls on an [Engine], [Module] or [Pool] after its Close.
	ErrClosed = errors.New("host: closed")

	// ErrTurnDeadline is wrapped by the error of a turn that ran past
	// [Config.TurnTimeout]. The instance is broken afterwards.
	ErrTurnDeadline = errors.New("host: turn ran past its deadline")

	// ErrBadModule is wrapped by every [Engine.Compile] error that is the guest
	// module's fault: invalid WebAssembly, a missing or mistyped export, an unknown
	// import, a wrong ABI version or a malformed handler table.
	ErrBadModule = errors.New("host: bad guest module")

	// ErrBroken is wrapped by the error of [Instance.Turn] on an instance that an
	// earlier turn broke.
	ErrBroken = errors.New("host: instance is broken")
)

// Error codes of docs/abi.md used by the host itself.
const (
	codeBadRequest = 1
	codeInternal   = 12
)

// TrapError is the error of a turn whose guest trapped: a panic, an unreachable
// instruction, an out-of-bounds access, running out of memory, exiting, or breaking
// the ABI (a response outside its memory). The instance is broken afterwards.
type TrapError struct {
	// Module is the name the module was compiled under.
	Module string
	// Message is the guest's stderr output of the turn (its first and last
	// kilobytes), such as Go's "panic: boom" and stack trace. When the guest wrote
	// nothing, it is the runtime's description of the trap.
	Message string
	// Err is the error the WebAssembly runtime reported, if any.
	Err error
}

// Error returns the first line of Message and, when Message came from the guest,
// the first line of Err.
func (e *TrapError) Error() string {
	msg := firstLine(e.Message)
	if e.Err != nil {
		if cause := firstLine(e.Err.Error()); cause != msg {
			msg += " (" + cause + ")"
		}
	}
	return fmt.Sprintf("guest module %q trapped: %s", e.Module, msg)
}

// Unwrap returns Err.
func (e *TrapError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

// errorCode returns the wire error code for an error an [Effects] method returned.
func errorCode(err error) int {
	var c interface{ ErrorCode() int }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return codeInternal
}
