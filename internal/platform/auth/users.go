package auth

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

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

// HashPassword returns a bcrypt hash for a users entry.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// Accounts are the dashboard's users and the key that signs their session
// cookies and CSRF tokens.
type Accounts struct {
	users map[string]User
	key   []byte
	// dummy is compared against when the name is unknown, so timing does
	// not tell which names exist. It has the cost of the costliest
	// account's hash: a cheaper one would answer unknown names faster.
	dummy []byte
	// revoked are the sessions signed out before their expiry.
	revoked revocations
}

// NewAccounts builds the accounts. key signs cookies (32 random bytes;
// keep it to keep sessions over restarts).
func NewAccounts(users []User, key []byte) *Accounts {
	a := &Accounts{users: map[string]User{}, key: key}
	cost := bcrypt.MinCost
	for _, u := range users {
		a.users[u.Name] = u
		if c, err := bcrypt.Cost(u.Hash); err == nil && c > cost {
			cost = c
		}
	}
	if len(users) > 0 {
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("dummy password"), cost)
	}
	return a
}

// Enabled reports whether a login is required: some account exists.
func (a *Accounts) Enabled() bool { return len(a.users) > 0 }

// Check verifies a name and password.
func (a *Accounts) Check(name, password string) (User, bool) {
	u, ok := a.users[name]
	hash := u.Hash
	if !ok {
		hash = a.dummy
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	return u, ok && err == nil
}
