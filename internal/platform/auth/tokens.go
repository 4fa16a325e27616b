// Package auth holds what proves who a caller is: bearer tokens checked
// against the configured lists, the dashboard's accounts (users file,
// password hashes), signed session cookies and CSRF tokens, and the secret
// files (keys, generated tokens) that two processes may create at once.
package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Tokens is a set of accepted bearer tokens.
type Tokens struct{ hashes [][32]byte }

// NewTokens builds a set from the given lists (for example read tokens plus
// admin tokens, since an admin token may also read).
func NewTokens(lists ...[]string) Tokens {
	var t Tokens
	for _, l := range lists {
		for _, tok := range l {
			t.hashes = append(t.hashes, sha256.Sum256([]byte(tok)))
		}
	}
	return t
}

// Empty reports whether no token is configured.
func (t Tokens) Empty() bool { return len(t.hashes) == 0 }

// Allows reports whether tok is one of the set. Tokens are compared as
// hashes in constant time, so timing reveals nothing of them.
func (t Tokens) Allows(tok string) bool {
	if tok == "" {
		return false
	}
	h := sha256.Sum256([]byte(tok))
	ok := 0
	for _, want := range t.hashes {
		ok |= subtle.ConstantTimeCompare(h[:], want[:])
	}
	return ok == 1
}

// BearerToken returns the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) > len(prefix) && strings.EqualFold(h[:len(prefix)], prefix) {
		return strings.TrimSpace(h[len(prefix):])
	}
	return ""
}
