package dashboard

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
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
	s := auth.Session{ID: auth.NewSessionID(), User: u.Name, Role: u.Role, Expires: time.Now().Add(a.SessionTTL)}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.SignSession(s), Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// endSession signs r out: its session is revoked on the server (its cookie
// is refused from now on, wherever it was copied to) and the cookie
// cleared.
func (a *Auth) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if s, ok := a.VerifySession(c.Value, time.Now()); ok {
			a.Revoke(s, time.Now())
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode})
}

// csrfToken returns the form token of r's pages: bound to its session when
// signed in; otherwise to the seed of its CSRF cookie (set first when r
// has none), valid for the sign-in form only, or for every form on a
// dashboard without accounts (see auth.SessionCSRF, auth.SeedCSRF).
func (a *Auth) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if a.Enabled() {
		if s, ok := a.SessionFromRequest(r); ok {
			return a.SessionCSRF(s)
		}
	}
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
	return a.SeedCSRF(a.seedPurpose(), seed)
}

func (a *Auth) seedPurpose() string {
	if a.Enabled() {
		return auth.CSRFLogin
	}
	return auth.CSRFAnonymous
}

// CSRFHeader carries the form token on a write sent by a script (the
// query API accepts it from a dashboard session).
const CSRFHeader = "X-CSRF-Token"

// validCSRF reports whether the write r comes from this site: it carries
// the token of its session (form field or CSRFHeader), or, for the sign-in
// form and on a dashboard without accounts, the token of its CSRF cookie;
// or its Origin is this server's own (scheme, host and port).
func (a *Auth) validCSRF(r *http.Request) bool {
	if sameOrigin(r) {
		return true
	}
	sent := r.Header.Get(CSRFHeader)
	if sent == "" {
		sent = r.PostFormValue(csrfField)
	}
	if a.Enabled() {
		if s, ok := a.SessionFromRequest(r); ok && auth.SameToken(a.SessionCSRF(s), sent) {
			return true
		}
		if r.URL.Path != "/login" {
			return false
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil {
		return false
	}
	return auth.SameToken(a.SeedCSRF(a.seedPurpose(), c.Value), sent)
}

// CheckWrite refuses a write to the query API that a browser could have
// been made to send from another site: one without a bearer token whose
// Origin is another site's, and one authenticated by the session cookie
// that has neither the session's token (CSRFHeader) nor this site's
// Origin. Bearer-token requests, which no other site can make a browser
// send, pass; reads pass.
func (a *Auth) CheckWrite(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	if o := r.Header.Get("Origin"); o != "" && !sameOrigin(r) {
		return httperr.New(http.StatusForbidden, "a write from a page of another site (Origin "+strconv.Quote(o)+") is refused: call the API from this site's pages, or with Authorization: Bearer <admin token>")
	}
	if _, err := r.Cookie(sessionCookie); err != nil || sameOrigin(r) {
		return nil
	}
	if s, ok := a.SessionFromRequest(r); ok && auth.SameToken(a.SessionCSRF(s), r.Header.Get(CSRFHeader)) {
		return nil
	}
	return httperr.New(http.StatusForbidden, "a write with the dashboard's session cookie needs the "+CSRFHeader+" header (the token of the dashboard's pages) or an Origin of this site; scripts should send Authorization: Bearer <admin token> instead")
}

// sameOrigin reports whether r's Origin is this server as the browser
// reached it: the same scheme, host and port. Another port of the same
// host is another origin (though the same site for cookies).
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" || u.User != nil {
		return false
	}
	scheme := "http"
	if secureRequest(r) {
		scheme = "https"
	}
	if !strings.EqualFold(u.Scheme, scheme) {
		return false
	}
	return hostPort(u.Host, scheme) == hostPort(r.Host, scheme)
}

// hostPort is host with its port, the scheme's default when it names none,
// in lower case.
func hostPort(host, scheme string) string {
	host = strings.ToLower(host)
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "80"
	if scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
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
