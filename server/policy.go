package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/callhost/callhost/runtime"
)

// Policy is the content of an access-control file, the file that
// "callhost serve -auth" loads. docs/security.md specifies its format.
type Policy struct {
	// Auth holds the tokens that clients must present.
	Auth *Auth
	// Calls lists the classes that the objects of each class may call. It
	// is nil when the file has no "calls" section.
	Calls runtime.CallRules
}

// policyFile is the JSON form of a Policy.
type policyFile struct {
	Tokens []struct {
		Name  string              `json:"name"`
		Token string              `json:"token"`
		Allow map[string][]string `json:"allow"`
	} `json:"tokens"`
	Calls map[string][]string `json:"calls"`
}

// LoadPolicy reads and checks the access-control file at path.
func LoadPolicy(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("access-control file: %w", err)
	}
	p, err := ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("access-control file %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy parses and checks the JSON of an access-control file. Unknown
// fields are errors, so a misspelt field does not silently grant access.
func ParsePolicy(data []byte) (*Policy, error) {
	var f policyFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	tokens := make([]Token, 0, len(f.Tokens))
	for _, t := range f.Tokens {
		tokens = append(tokens, Token{Name: t.Name, Secret: t.Token, Allow: t.Allow})
	}
	auth, err := NewAuth(tokens)
	if err != nil {
		return nil, err
	}
	calls := runtime.CallRules(f.Calls)
	if err := calls.Check(); err != nil {
		return nil, err
	}
	return &Policy{Auth: auth, Calls: calls}, nil
}
