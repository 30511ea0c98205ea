package callhost

import (
	"errors"
	"fmt"
)

// Code is a stable error code. Codes cross the wire and the host/guest boundary;
// a code never changes meaning. Guests may define their own codes from
// [CodeApplication] up.
type Code int

// Error codes. The table in docs/abi.md is the reference.
const (
	CodeOK           Code = 0
	CodeBadRequest   Code = 1
	CodeNotFound     Code = 2
	CodeNotExposed   Code = 3
	CodeOverloaded   Code = 4
	CodeTimeout      Code = 5
	CodeGuestTrap    Code = 6
	CodeGuestError   Code = 7
	CodeTurnDeadline Code = 8
	CodeTooLarge     Code = 9
	CodeForbidden    Code = 10
	CodeUnavailable  Code = 11
	CodeInternal     Code = 12
	CodeThrottled    Code = 13

	// CodeApplication is the first code available to guest code.
	CodeApplication Code = 1000
)

var codeNames = [...]string{
	CodeOK:           "ok",
	CodeBadRequest:   "bad_request",
	CodeNotFound:     "not_found",
	CodeNotExposed:   "not_exposed",
	CodeOverloaded:   "overloaded",
	CodeTimeout:      "timeout",
	CodeGuestTrap:    "guest_trap",
	CodeGuestError:   "guest_error",
	CodeTurnDeadline: "turn_deadline",
	CodeTooLarge:     "too_large",
	CodeForbidden:    "forbidden",
	CodeUnavailable:  "unavailable",
	CodeInternal:     "internal",
	CodeThrottled:    "throttled",
}

// String returns the code's name from the table, "application_N" for
// application codes, or "code_N" for unknown ones.
func (c Code) String() string {
	if c >= 0 && int(c) < len(codeNames) {
		return codeNames[c]
	}
	if c >= CodeApplication {
		return fmt.Sprintf("application_%d", int(c))
	}
	return fmt.Sprintf("code_%d", int(c))
}

// ParseCode returns the code with the given name.
func ParseCode(name string) (Code, bool) {
	for c, n := range codeNames {
		if n == name {
			return Code(c), true
		}
	}
	return 0, false
}

// Error is a failed outcome: a stable code and a message for people.
//
// errors.Is(err, ErrTimeout) and the other sentinels below compare codes only,
// so they match an *Error with any message.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the code, for callers that match on an interface.
func (e *Error) ErrorCode() int { return int(e.Code) }

// ErrorMessage returns the message without the code, for callers that match
// on an interface and report the code separately.
func (e *Error) ErrorMessage() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is; each matches any *Error with its code.
var (
	ErrBadRequest   = &Error{Code: CodeBadRequest}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrNotExposed   = &Error{Code: CodeNotExposed}
	ErrOverloaded   = &Error{Code: CodeOverloaded}
	ErrTimeout      = &Error{Code: CodeTimeout}
	ErrGuestTrap    = &Error{Code: CodeGuestTrap}
	ErrGuestError   = &Error{Code: CodeGuestError}
	ErrTurnDeadline = &Error{Code: CodeTurnDeadline}
	ErrTooLarge     = &Error{Code: CodeTooLarge}
	ErrForbidden    = &Error{Code: CodeForbidden}
	ErrUnavailable  = &Error{Code: CodeUnavailable}
	ErrInternal     = &Error{Code: CodeInternal}
	ErrThrottled    = &Error{Code: CodeThrottled}
)

// AsError returns err as an *Error. An error that is not one becomes
// [CodeInternal] with err's text.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: err.Error()}
}
