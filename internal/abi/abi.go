// Package abi encodes and decodes the envelopes of the guest ABI (docs/abi.md)
// and resolves the extension values inside call arguments. Both the host and
// the Go guest SDK use it.
package abi

import (
	"github.com/callhost/callhost"
	"github.com/callhost/callhost/internal/msgp"
)

// Version is the ABI version this package implements.
const Version = 1

// Names of the guest's exports and of the host's import module.
const (
	ExportVersion = "callhost_abi_version"
	ExportBuffer  = "callhost_buffer"
	ExportTurn    = "callhost_turn"
	ExportInit    = "_initialize"
	ImportModule  = "callhost"
)

// Request kinds.
const (
	KindDescribe     = 0
	KindInvoke       = 1
	KindContinuation = 2
	KindAlarm        = 3
)

// FlagForward marks a call that answers the call being served; see docs/abi.md.
const FlagForward = 1

// FlagExposed marks an exposed handler in the describe table.
const FlagExposed = 1

// Import results shared by several host imports.
const (
	ResultAbsent = -1
	ResultFailed = -2
)

// Handler is one row of the describe table.
type Handler struct {
	Name    string
	Exposed bool
}

// AppendAddress appends an address as [class, id].
func AppendAddress(b []byte, a callhost.Address) []byte {
	b = msgp.AppendArrayHeader(b, 2)
	b = msgp.AppendString(b, a.Class)
	return msgp.AppendString(b, a.ID)
}

// ReadAddress reads an address written by [AppendAddress].
func ReadAddress(r *msgp.Reader) (callhost.Address, error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return callhost.Address{}, err
	}
	if n < 2 {
		return callhost.Address{}, errorf("address has %d elements, want 2", n)
	}
	class, err := r.ReadString()
	if err != nil {
		return callhost.Address{}, err
	}
	id, err := r.ReadString()
	if err != nil {
		return callhost.Address{}, err
	}
	return callhost.Address{Class: class, ID: id}, skipN(r, n-2)
}

// readAddressBytes reads an address as [ReadAddress] does, returning its
// class and id as slices of the input.
func readAddressBytes(r *msgp.Reader) (class, id []byte, err error) {
	n, err := r.ReadArrayHeader()
	if err != nil {
		return nil, nil, err
	}
	if n < 2 {
		return nil, nil, errorf("address has %d elements, want 2", n)
	}
	if class, err = r.ReadStringBytes(); err != nil {
		return nil, nil, err
	}
	if id, err = r.ReadStringBytes(); err != nil {
		return nil, nil, err
	}
	return class, id, skipN(r, n-2)
}

func skipN(r *msgp.Reader, n int) error {
	for ; n > 0; n-- {
		if err := r.Skip(); err != nil {
			return err
		}
	}
	return nil
}

func errorf(format string, args ...any) *callhost.Error {
	return callhost.Errorf(callhost.CodeBadRequest, format, args...)
}

// AppendDescribe appends the describe response value: an array of [name, flags].
func AppendDescribe(b []byte, hs []Handler) []byte {
	b = msgp.AppendArrayHeader(b, len(hs))
	for _, h := range hs {
		b = msgp.AppendArrayHeader(b, 2)
		b = msgp.AppendString(b, h.Name)
		var flags uint64
		if h.Exposed {
			flags |= FlagExposed
		}
		b = msgp.AppendUint(b, flags)
	}
	return b
}

// DecodeDescribe decodes the describe response value.
func DecodeDescribe(value []byte) ([]Handler, error) {
	r := msgp.NewReader(value)
	n, err := r.ReadArrayHeader()
	if err != nil {
		return nil, err
	}
	hs := make([]Handler, 0, n)
	for i := 0; i < n; i++ {
		m, err := r.ReadArrayHeader()
		if err != nil {
			return nil, err
		}
		if m < 2 {
			return nil, errorf("describe row has %d elements, want 2", m)
		}
		name, err := r.ReadString()
		if err != nil {
			return nil, err
		}
		flags, err := r.ReadUint()
		if err != nil {
			return nil, err
		}
		if err := skipN(&r, m-2); err != nil {
			return nil, err
		}
		hs = append(hs, Handler{Name: name, Exposed: flags&FlagExposed != 0})
	}
	return hs, nil
}
