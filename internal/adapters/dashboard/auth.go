package dashboard

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Roles of dashboard users.
const (
	RoleViewer = "viewer"
	RoleAdmin  = "admin"
)

// User is a dashboard account. Hash is a bcrypt hash of the password.
type User struct {
	Name string
	Role string
	Hash []byte
}

// ParseUsers reads accounts written as name:role:bcrypt-hash, separated by
// commas or newlines (ADOPTSCOPE_USERS and the users file share the form;
// lines starting with # are comments). `htpasswd -nbB name password`
// (Debian apache2-utils) prints such a line with role missing: insert the
// role, name:admin:$2y$…
func ParseUsers(text, origin string) ([]User, error) {
	var users []User
	var errs []error
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(text, ",", "\n")))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			errs = append(errs, fmt.Errorf("%s entry %d: want name:role:bcrypt-hash", origin, n))
			continue
		}
		name, role, hash := parts[0], parts[1], parts[2]
		if role != RoleViewer && role != RoleAdmin {
			errs = append(errs, fmt.Errorf("%s user %q: role %q, want viewer or admin", origin, name, role))
			continue
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, fmt.Errorf("%s user %q: password must be a bcrypt hash ($2a$/$2b$/$2y$…): %v", origin, name, err))
			continue
		}
		users = append(users, User{Name: name, Role: role, Hash: []byte(hash)})
	}
	return users, errors.Join(errs...)
}

// LoadUsers combines ADOPTSCOPE_USERS-style text with a users file.
func LoadUsers(env, file string) ([]User, error) {
	users, err := ParseUsers(env, "ADOPTSCOPE_USERS")
	if err != nil {
		return nil, err
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("users file (ADOPTSCOPE_USERS_FILE): %w", err)
		}
		more, err := ParseUsers(string(b), file)
		if err != nil {
			return nil, err
		}
		users = append(users, more...)
	}
	return users, nil
}

// Auth holds the accounts and the key that signs session cookies.
type Auth struct {
	users map[string]User
	key   []byte
	// AnonymousRole is the role of a request when no account is
	// configured: admin on a loopback address, viewer otherwise.
	AnonymousRole string
	SessionTTL    time.Duration
	// dummy is compared against when the user is unknown, so timing does
	// not tell which names exist.
	dummy []byte
}

// NewAuth builds the dashboard auth. key signs cookies (32 random bytes;
// keep it to keep sessions over restarts).
func NewAuth(users []User, key []byte, anonymousRole string) *Auth {
	a := &Auth{users: map[string]User{}, key: key, AnonymousRole: anonymousRole, SessionTTL: 12 * time.Hour}
	for _, u := range users {
		a.users[u.Name] = u
	}
	a.dummy, _ = bcrypt.GenerateFromPassword([]byte("dummy password"), bcrypt.MinCost)
	return a
}

// Enabled reports whether a login is required.
func (a *Auth) Enabled() bool { return len(a.users) > 0 }

// Check verifies a name and password.
func (a *Auth) Check(name, password string) (User, bool) {
	u, ok := a.users[name]
	hash := u.Hash
	if !ok {
		hash = a.dummy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return u, ok && err == nil
}

// Session is who a request is.
type Session struct {
	User    string
	Role    string
	Expires time.Time
}

// IsAdmin reports whether the session may change annotations.
func (s Session) IsAdmin() bool { return s.Role == RoleAdmin }

const (
	sessionCookie = "adoptscope_session"
	csrfCookie    = "adoptscope_csrf"
	csrfField     = "_csrf"
)

func (a *Auth) sign(msg string) string {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(msg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (a *Auth) sessionValue(s Session) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(s.User + "\n" + s.Role + "\n" + strconv.FormatInt(s.Expires.Unix(), 10)))
	return payload + "." + a.sign("session:"+payload)
}

// SessionFromRequest returns the signed-in session of r. Without
// configured accounts every request is an anonymous session with
// AnonymousRole. The query API may use it to accept dashboard sessions.
func (a *Auth) SessionFromRequest(r *http.Request) (Session, bool) {
	if !a.Enabled() {
		return Session{User: "", Role: a.AnonymousRole}, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return Session{}, false
	}
	payload, sig, ok := strings.Cut(c.Value, ".")
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
	if err != nil || time.Now().Unix() > exp {
		return Session{}, false
	}
	u, known := a.users[f[0]]
	if !known || u.Role != f[1] {
		return Session{}, false // account removed or role changed since sign-in
	}
	return Session{User: f[0], Role: f[1], Expires: time.Unix(exp, 0)}, true
}

// secureRequest reports whether the browser reached us over HTTPS (directly
// or through a proxy that says so), which is when cookies get Secure.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (a *Auth) setSession(w http.ResponseWriter, r *http.Request, u User) {
	s := Session{User: u.Name, Role: u.Role, Expires: time.Now().Add(a.SessionTTL)}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: a.sessionValue(s), Path: "/", Expires: s.Expires,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

func clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteLaxMode})
}

// CSRF: a random token in an HttpOnly, SameSite=Strict cookie, and its
// HMAC in every form. A forged cross-site POST has neither the cookie (the
// browser does not send it) nor a way to compute the form value.
func (a *Auth) csrfToken(w http.ResponseWriter, r *http.Request) string {
	var seed string
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 32 {
		seed = c.Value
	} else {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		seed = hex.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: seed, Path: "/",
			HttpOnly: true, Secure: secureRequest(r), SameSite: http.SameSiteStrictMode})
		// Later reads in this request see the new cookie.
		r.AddCookie(&http.Cookie{Name: csrfCookie, Value: seed})
	}
	return a.sign("csrf:" + seed)
}

func (a *Auth) validCSRF(r *http.Request) bool {
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" {
		return false
	}
	got := r.PostFormValue(csrfField)
	want := a.sign("csrf:" + c.Value)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.IsAbs() || u.Host != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return "/"
	}
	return next
}

// HashPassword returns a bcrypt hash for a users entry.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// LoadOrCreateKey reads a 32-byte key from path, creating it (mode 0600)
// when missing, so sessions survive restarts.
func LoadOrCreateKey(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		b = bytes.TrimSpace(b)
		k, err := hex.DecodeString(string(b))
		if err == nil && len(k) >= 32 {
			return k, nil
		}
		return nil, fmt.Errorf("session key %s: want 64 hex digits; delete the file to make a new one", path)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write session key: %w", err)
	}
	return k, nil
}

type ctxKey int

const (
	sessionKey ctxKey = iota
	csrfKey
	nonceKey
)

func sessionOf(ctx context.Context) Session {
	s, _ := ctx.Value(sessionKey).(Session)
	return s
}

func csrfOf(ctx context.Context) string {
	s, _ := ctx.Value(csrfKey).(string)
	return s
}
