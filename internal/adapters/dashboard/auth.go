package dashboard

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/auth"
)

// The accounts, sessions and CSRF tokens are internal/platform/auth's; the
// dashboard holds their cookies and pages.

// Auth is the dashboard's side of the accounts: the cookies that carry
// sessions and CSRF seeds, and the role of a visitor when no account is
// configured.
type Auth struct {
	*auth.Accounts
	// AnonymousRole is the role of a request when no account is
	// configured: admin on a loopback address, viewer otherwise.
	AnonymousRole string
	SessionTTL    time.Duration
	// Throttle limits failed sign-ins per account and client address;
	// Proxies say whose X-Forwarded-For names the client.
	Throttle *auth.Throttle
	Proxies  auth.Proxies
	// Wait sleeps the throttle's delay (tests replace it); nil: auth.Wait.
	Wait func(ctx context.Context, d time.Duration) error
}

func (a *Auth) wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	if a.Wait != nil {
		return a.Wait(ctx, d)
	}
	return auth.Wait(ctx, d)
}

// NewAuth builds the dashboard auth. key signs cookies (32 random bytes;
// keep it to keep sessions over restarts).
func NewAuth(users []auth.User, key []byte, anonymousRole string) *Auth {
	return &Auth{Accounts: auth.NewAccounts(users, key), AnonymousRole: anonymousRole, SessionTTL: 12 * time.Hour,
		Throttle: auth.NewThrottle()}
}

const (
	sessionCookie = "adoptscope_session"
	csrfCookie    = "adoptscope_csrf"
	csrfField     = "_csrf"
)

// SessionFromRequest returns the signed-in session of r. Without
// configured accounts every request is an anonymous session with
// AnonymousRole. The query API may use it to accept dashboard sessions.
func (a *Auth) SessionFromRequest(r *http.Request) (auth.Session, bool) {
	if !a.Enabled() {
		return auth.Session{User: "", Role: a.AnonymousRole}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return auth.Session{}, false
	}
	return a.VerifySession(c.Value, time.Now())
}

// secureRequest reports whether the browser reached us over HTTPS (directly
// or through a proxy that says so), which is when cookies get Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (a *Auth) setSession(w http.ResponseWriter, r *http.Request, u auth.User) {
	s := auth.Session{User: u.Name, Role: u.Role, Expires: time.Now().Add(a.SessionTTL)}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.SignSession(s), Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode})
}

// csrfToken returns the form token of r's CSRF cookie, setting the cookie
// first when r has none (see auth.CSRFToken).
func (a *Auth) csrfToken(w http.ResponseWriter, r *http.Request) string {
	var seed string
	if c, err := r.Cookie(csrfCookie); err == nil && auth.ValidCSRFSeed(c.Value) {
		seed = c.Value
	} else {
		seed = auth.NewCSRFSeed()
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: seed, Path: "/",
			HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
		// Later reads in this request see the new cookie.
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: seed})
	}
	return a.CSRFToken(seed)
}

func (a *Auth) validCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return a.ValidCSRF(c.Value, r.PostFormValue(csrfField))
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

// LoadOrCreateKey reads a 32-byte key from path, creating it (mode 0600)
// when missing, so sessions survive restarts. Two processes starting at
// once get the same key (auth.LoadOrCreateSecret).
func LoadOrCreateKey(path string) ([]byte, error) {
	v, _, err := auth.LoadOrCreateSecret(path, auth.HexSecret(32))
	if err != nil {
		return nil, fmt.Errorf("session key: %w", err)
	}
	k, err := hex.DecodeString(string(v))
	if err != nil || len(k) < 32 {
		return nil, fmt.Errorf("session key %s: want 64 hex digits; delete the file to make a new one", path)
	}
	return k, nil
}

type ctxKey int

const (
	sessionKey ctxKey = iota
	csrfKey
	nonceKey
)

func sessionOf(ctx context.Context) auth.Session {
	s, _ := ctx.Value(sessionKey).(auth.Session)
	return s
}

func csrfOf(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey).(string)
	return s
}
