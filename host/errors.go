package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
	codeTooLarge   = 9
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
	return fmt.Sprintf("guest module %q trapped: %s", e.Module, e.summary())
}

func (e *TrapError) summary() string {
	msg := firstLine(e.Message)
	if e.Err != nil {
		if cause := firstLine(e.Err.Error()); cause != msg {
			msg += " (" + cause + ")"
		}
	}
	return msg
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

// callError is the error of a guest call outside a turn: instantiation, the
// start function, _initialize or callhost_buffer while an instance is
// created.
type callError struct {
	module  string
	call    string // the call that failed, such as "the start function"
	timeout time.Duration
	err     error
}

func (e *callError) Error() string {
	return fmt.Sprintf("host: module %q: %s %s", e.module, e.call, failure(e.err, e.timeout))
}

func (e *callError) Unwrap() error { return e.err }

// failure describes how a guest call ended with err, without naming the
// module, for a message that names it once. timeout is the deadline of the call.
func failure(err error, timeout time.Duration) string {
	var trap *TrapError
	switch {
	case errors.As(err, &trap):
		return "trapped: " + trap.summary()
	case errors.Is(err, ErrTurnDeadline):
		return fmt.Sprintf("did not return within the deadline of %v (Config.TurnTimeout)", timeout)
	case errors.Is(err, ErrClosed):
		return "was stopped because the engine closed"
	case errors.Is(err, context.Canceled):
		return "was stopped: " + context.Canceled.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "was stopped: " + context.DeadlineExceeded.Error()
	}
	return "failed: " + err.Error()
}

// turnError is the error of a turn that the host stopped or did not run.
// Its message names the module once, and it wraps the sentinel or context
// error that callers test with [errors.Is].
type turnError struct {
	module string
	detail string // the turn's outcome, without the module's name
	err    error
}

func (e *turnError) Error() string {
	return fmt.Sprintf("host: module %q: the turn %s", e.module, e.detail)
}

func (e *turnError) Unwrap() error { return e.err }

// loadError is an error of [Engine.Compile]. Its message names the module
// once. It wraps [ErrBadModule] when the module is at fault, and its cause.
type loadError struct {
	module string
	detail string // the failure, without the module's name
	bad    bool
	err    error // the cause, or nil
}

func (e *loadError) Error() string {
	if e.bad {
		return fmt.Sprintf("%v %q: %s", ErrBadModule, e.module, e.detail)
	}
	return fmt.Sprintf("host: load module %q: %s", e.module, e.detail)
}

func (e *loadError) Unwrap() []error {
	var errs []error
	if e.bad {
		errs = append(errs, ErrBadModule)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// errorCode returns the wire error code for an error an [Effects] method returned.
func errorCode(err error) int {
	var c interface{ ErrorCode() int }
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	return codeInternal
}
