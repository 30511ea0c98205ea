package callhost

import (
	"fmt"
	"strings"
)

// Reserved classes that address callers outside the runtime.
const (
	// ClassClient addresses a client connected over the WebSocket endpoint.
	ClassClient = "@client"
	// ClassEmbed addresses a Go program that embeds the runtime.
	ClassEmbed = "@embed"
)

// Address names an object: the class (a loaded guest module) and the object's id
// within that class.
type Address struct {
	Class string
	ID    string
}

// Object returns the address of object id of class.
func Object(class, id string) Address { return Address{Class: class, ID: id} }

// String returns the address as "class/id".
func (a Address) String() string { return a.Class + "/" + a.ID }

// IsZero reports whether a is the zero Address.
func (a Address) IsZero() bool { return a.Class == "" && a.ID == "" }

// ParseAddress parses "class/id". The id may contain further slashes.
func ParseAddress(s string) (Address, error) {
	class, id, ok := strings.Cut(s, "/")
	if !ok || class == "" || id == "" {
		return Address{}, fmt.Errorf("invalid address %q: want CLASS/ID", s)
	}
	return Address{Class: class, ID: id}, nil
}

// MaxClassNameSize is the longest class name, in bytes.
const MaxClassNameSize = 128

// ValidClassName reports whether name can name a loaded class: 1 to 128 ASCII
// letters, digits, '_', '-' or '.', not starting with '.'. Names starting with
// '@' are reserved for callers outside the runtime.
func ValidClassName(name string) bool {
	if name == "" || len(name) > MaxClassNameSize || name[0] == '.' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.'
		if !ok {
			return false
		}
	}
	return true
}
