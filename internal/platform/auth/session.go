package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Session is who a request is.
type Session struct {
	User    string
	Role    string
	Expires time.Time
}

// IsAdmin reports whether the session may change annotations.
func (s Session) IsAdmin() bool { return s.Role == RoleAdmin }

func (a *Accounts) sign(msg string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignSession returns the value of s's session cookie: the session and its
// HMAC, so that only the holder of the key can make one.
func (a *Accounts) SignSession(s Session) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(s.User + "\n" + s.Role + "\n" + strconv.FormatInt(s.Expires.Unix(), 10)))
	return payload + "." + a.sign("session:"+payload)
}

// VerifySession returns the session of a cookie value made by SignSession,
// when its signature holds, it has not expired at now, and its account
// still exists with the same role.
func (a *Accounts) VerifySession(value string, now time.Time) (Session, bool) {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(a.sign("session:"+payload))) {
		return Session{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Session{}, false
	}
	f := strings.Split(string(raw), "\n")
	if len(f) != 3 {
		return Session{}, false
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || now.Unix() > exp {
		return Session{}, false
	}
	u, known := a.users[f[0]]
	if !known || u.Role != f[1] {
		return Session{}, false // account removed or role changed since sign-in
	}
	return Session{User: f[0], Role: f[1], Expires: time.Unix(exp, 0)}, true
}

// CSRF: a random seed in an HttpOnly, SameSite=Strict cookie, and its HMAC
// in every form. A forged cross-site POST has neither the cookie (the
// browser does not send it) nor a way to compute the form value.

// NewCSRFSeed returns a new random seed for the CSRF cookie.
func NewCSRFSeed() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// ValidCSRFSeed reports whether seed has the form NewCSRFSeed gives, so a
// cookie holding it may be kept.
func ValidCSRFSeed(seed string) bool {
	_, err := hex.DecodeString(seed)
	return len(seed) == 32 && err == nil
}

// CSRFToken returns the form token for seed.
func (a *Accounts) CSRFToken(seed string) string { return a.sign("csrf:" + seed) }

// ValidCSRF reports whether token is the form token of seed.
func (a *Accounts) ValidCSRF(seed, token string) bool {
	if seed == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(token), []byte(a.CSRFToken(seed))) == 1
}
