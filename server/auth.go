package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/callhost/callhost"
)

// MinTokenSize is the fewest bytes a token's secret may have.
const MinTokenSize = 16

// Token is a client credential and the objects that its holder may call.
type Token struct {
	// Name names the token in logs and error messages, which never show
	// the secret.
	Name string
	// Secret is the bearer token that clients send as
	// "Authorization: Bearer SECRET", of at least MinTokenSize bytes.
	Secret string
	// Allow maps a class, or "*" for every class, to the ids of its objects
	// that the token may call: an exact id, "*" for every id, or a prefix
	// followed by "*", such as "team-*". A class that Allow does not list
	// falls back to the "*" entry, if any.
	Allow map[string][]string
}

// Auth is a checked set of tokens that a [Server] requires from its clients
// (Options.Auth). Make one with [NewAuth] or [LoadPolicy].
type Auth struct {
	grants []*grant
}

// NewAuth checks tokens: each needs a unique name, a unique secret of at
// least MinTokenSize bytes and an allow list.
func NewAuth(tokens []Token) (*Auth, error) {
	if len(tokens) == 0 {
		return nil, fmt.Errorf("auth: no tokens: a server with auth and no token rejects " +
			"every client")
	}
	grants, err := compileTokens(tokens)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	return &Auth{grants: grants}, nil
}

// grant is a compiled Token.
type grant struct {
	name    string
	digest  [sha256.Size]byte
	classes map[string]*idRule
	other   *idRule // the "*" class entry; nil when absent
	allowed string  // the allowed class/id patterns, for error messages
}

// idRule is the ids of one class that a token may call.
type idRule struct {
	any      bool
	ids      map[string]struct{}
	prefixes []string
}

// compileTokens checks tokens and compiles them.
func compileTokens(tokens []Token) ([]*grant, error) {
	names := map[string]bool{}
	secrets := map[[sha256.Size]byte]bool{}
	out := make([]*grant, 0, len(tokens))
	for i, tok := range tokens {
		g, err := compileToken(tok)
		if err != nil {
			return nil, fmt.Errorf("token %d: %w", i, err)
		}
		if names[g.name] {
			return nil, fmt.Errorf("token %d: name %q is used twice", i, g.name)
		}
		if secrets[g.digest] {
			return nil, fmt.Errorf("token %q: its secret is also another token's", g.name)
		}
		names[g.name], secrets[g.digest] = true, true
		out = append(out, g)
	}
	return out, nil
}

func compileToken(tok Token) (*grant, error) {
	switch {
	case tok.Name == "":
		return nil, fmt.Errorf("token has no name")
	case len(tok.Secret) < MinTokenSize:
		return nil, fmt.Errorf("token %q: secret is %d bytes, min %d", tok.Name,
			len(tok.Secret), MinTokenSize)
	case len(tok.Allow) == 0:
		return nil, fmt.Errorf("token %q allows no class: give it an allow list", tok.Name)
	}
	g := &grant{name: tok.Name, digest: sha256.Sum256([]byte(tok.Secret)),
		classes: map[string]*idRule{}}
	var desc []string
	for class, ids := range tok.Allow {
		if class != "*" && !callhost.ValidClassName(class) {
			return nil, fmt.Errorf("token %q: invalid class %q", tok.Name, class)
		}
		r, err := compileIDs(ids)
		if err != nil {
			return nil, fmt.Errorf("token %q: class %q: %w", tok.Name, class, err)
		}
		if class == "*" {
			g.other = r
		} else {
			g.classes[class] = r
		}
		for _, id := range ids {
			desc = append(desc, class+"/"+id)
		}
	}
	sort.Strings(desc)
	g.allowed = strings.Join(desc, ", ")
	return g, nil
}

func compileIDs(ids []string) (*idRule, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("no ids: use [\"*\"] for every id")
	}
	r := &idRule{ids: map[string]struct{}{}}
	for _, id := range ids {
		switch {
		case id == "":
			return nil, fmt.Errorf("empty id")
		case id == "*":
			r.any = true
		case strings.HasSuffix(id, "*"):
			r.prefixes = append(r.prefixes, strings.TrimSuffix(id, "*"))
		default:
			r.ids[id] = struct{}{}
		}
	}
	return r, nil
}

func (r *idRule) allows(id string) bool {
	if r.any {
		return true
	}
	if _, ok := r.ids[id]; ok {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(id, p) {
			return true
		}
	}
	return false
}

// authorize returns a forbidden error unless g may call to.
func (g *grant) authorize(to callhost.Address) *callhost.Error {
	r := g.classes[to.Class]
	if r == nil {
		r = g.other
	}
	if r != nil && r.allows(to.ID) {
		return nil
	}
	return callhost.Errorf(callhost.CodeForbidden,
		"token %q may not call class %q, id %q: it may call %s", g.name, to.Class, to.ID,
		g.allowed)
}

// authenticate returns the grant of the bearer token that r carries. It
// compares the token's digest with every grant's, in constant time, so the
// time it takes tells nothing about the secrets. The error message is safe
// to send to the client.
func (a *Auth) authenticate(r *http.Request) (*grant, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" || !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, fmt.Errorf("missing bearer token: this server requires the header " +
			"\"Authorization: Bearer TOKEN\"")
	}
	digest := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	var found *grant
	for _, g := range a.grants {
		if subtle.ConstantTimeCompare(digest[:], g.digest[:]) == 1 {
			found = g
		}
	}
	if found == nil {
		return nil, fmt.Errorf("invalid bearer token: it matches none of the server's tokens")
	}
	return found, nil
}
