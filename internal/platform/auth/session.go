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
	"sync"
	"time"
)

// Session is who a request is. ID names one sign-in: sign-out revokes it
// (Revoke), and the CSRF token of its pages is bound to it (SessionCSRF).
type Session struct {
	ID      string
	User    string
	Role    string
	Expires time.Time
}

// IsAdmin reports whether the session may change annotations.
func (s Session) IsAdmin() bool { return s.Role == RoleAdmin }

// NewSessionID returns a new random session id.
func NewSessionID() string { return NewCSRFSeed() }

func (a *Accounts) sign(msg string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// SignSession returns the value of s's session cookie: the session and its
// HMAC, so that only the holder of the key can make one.
func (a *Accounts) SignSession(s Session) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(s.User + "\n" + s.Role + "\n" + strconv.FormatInt(s.Expires.Unix(), 10) + "\n" + s.ID))
	return payload + "." + a.sign("session:"+payload)
}

// VerifySession returns the session of a cookie value made by SignSession,
// when its signature holds, it has not expired at now nor been revoked,
// and its account still exists with the same role. A cookie without a
// session id (made before sessions had one) is refused: sign in again.
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
	if len(f) != 4 || !ValidCSRFSeed(f[3]) {
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
	if a.revoked.has(f[3], now) {
		return Session{}, false // signed out
	}
	return Session{ID: f[3], User: f[0], Role: f[1], Expires: time.Unix(exp, 0)}, true
}

// Revoke ends s before its expiry (sign-out): VerifySession refuses its
// cookie from now on, in this process (see revocations).
func (a *Accounts) Revoke(s Session, now time.Time) {
	if s.ID != "" {
		a.revoked.add(s.ID, s.Expires, now)
	}
}

// CSRF: a form token is the HMAC of what the form is bound to. A signed-in
// page's token is bound to its session (SessionCSRF), so a token taken from
// one browser does not work with another's session. Before sign-in, and on
// a dashboard without accounts, there is no session: the token is bound to
// a random seed in an HttpOnly, SameSite=Strict cookie and to what it may
// be used for (SeedCSRF): the sign-in form, or, without accounts, every
// form. A forged cross-site post has neither the cookie (the browser does
// not send it) nor a way to compute the value.

// Purposes of a seed's token.
const (
	CSRFLogin     = "login"     // only the sign-in form
	CSRFAnonymous = "anonymous" // every form of a dashboard without accounts
)

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

// SessionCSRF returns the form token of s's pages ("" for a session
// without id).
func (a *Accounts) SessionCSRF(s Session) string {
	if s.ID == "" {
		return ""
	}
	return a.sign("csrf:session:" + s.ID)
}

// SeedCSRF returns the form token of seed for purpose (CSRFLogin or
// CSRFAnonymous); "" for an empty seed.
func (a *Accounts) SeedCSRF(purpose, seed string) string {
	if seed == "" {
		return ""
	}
	return a.sign("csrf:" + purpose + ":" + seed)
}

// SameToken reports whether the token sent is the one wanted (never when
// either is empty), in constant time.
func SameToken(want, sent string) bool {
	return want != "" && sent != "" && subtle.ConstantTimeCompare([]byte(want), []byte(sent)) == 1
}

// revocations are the ids of sessions signed out before their expiry,
// each kept until it expires. Sessions are signed cookies, checked without
// a store; this set is what makes sign-out final. It lives in memory: a
// restart forgets it (keep the session key to keep sessions, or change the
// key to end them all), and each instance behind a load balancer knows only
// the sign-outs it answered.
type revocations struct {
	mu    sync.Mutex
	until map[string]time.Time
}

// maxRevoked bounds the set. Only a signed-in account can add to it, one
// entry per sign-in; past the bound, expired entries go first, then those
// that expire soonest.
const maxRevoked = 100_000

func (r *revocations) add(id string, expires, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until == nil {
		r.until = map[string]time.Time{}
	}
	r.until[id] = expires
	if len(r.until) <= maxRevoked {
		return
	}
	for k, exp := range r.until {
		if now.After(exp) {
			delete(r.until, k)
		}
	}
	for len(r.until) > maxRevoked {
		var soonest string
		var at time.Time
		for k, exp := range r.until {
			if soonest == "" || exp.Before(at) {
				soonest, at = k, exp
			}
		}
		delete(r.until, soonest)
	}
}

func (r *revocations) has(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	exp, ok := r.until[id]
	if ok && now.After(exp) {
		delete(r.until, id)
		return false
	}
	return ok
}
