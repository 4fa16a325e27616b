package auth

import (
	"strings"
	"testing"
	"time"
)

func TestSession(t *testing.T) {
	a := testAccounts(t)
	now := time.Date(2026, 2, 11, 12, 0, 0, 0, time.UTC)
	exp := now.Add(time.Hour)
	id := NewSessionID()
	ana := a.SignSession(Session{ID: id, User: "ana", Role: RoleAdmin, Expires: exp})

	s, ok := a.VerifySession(ana, now)
	if !ok || s.ID != id || s.User != "ana" || !s.IsAdmin() || !s.Expires.Equal(exp) {
		t.Fatalf("round trip: %+v %v", s, ok)
	}
	if s, ok := a.VerifySession(a.SignSession(Session{ID: NewSessionID(), User: "vic", Role: RoleViewer, Expires: exp}), now); !ok || s.IsAdmin() {
		t.Errorf("viewer: %+v %v", s, ok)
	}
	payload, sig, _ := strings.Cut(ana, ".")
	other := NewAccounts(nil, []byte("another key, another signature.."))
	otherAccounts := NewAccounts([]User{{Name: "ana", Role: RoleAdmin}}, []byte("another key, another signature.."))
	for name, tc := range map[string]struct {
		value string
		at    time.Time
		a     *Accounts
	}{
		"expired":             {ana, exp.Add(time.Second), a},
		"tampered payload":    {strings.ToUpper(payload[:1]) + payload[1:] + "x." + sig, now, a},
		"tampered signature":  {payload + "." + sig[:len(sig)-1] + "A", now, a},
		"no signature":        {payload, now, a},
		"empty":               {"", now, a},
		"other key":           {ana, now, otherAccounts},
		"account removed":     {ana, now, NewAccounts(nil, []byte("0123456789abcdef0123456789abcdef"))},
		"role changed":        {ana, now, NewAccounts([]User{{Name: "ana", Role: RoleViewer}}, []byte("0123456789abcdef0123456789abcdef"))},
		"forged by other key": {other.SignSession(Session{ID: id, User: "ana", Role: RoleAdmin, Expires: exp}), now, a},
		"no session id":       {a.SignSession(Session{User: "ana", Role: RoleAdmin, Expires: exp}), now, a},
	} {
		if s, ok := tc.a.VerifySession(tc.value, tc.at); ok {
			t.Errorf("%s: accepted as %+v", name, s)
		}
	}
}

// TestSessionRevoked: a revoked session's cookie is refused until it
// expires; other sessions of the same account are not affected.
func TestSessionRevoked(t *testing.T) {
	a := testAccounts(t)
	now := time.Date(2026, 2, 11, 12, 0, 0, 0, time.UTC)
	s1 := Session{ID: NewSessionID(), User: "ana", Role: RoleAdmin, Expires: now.Add(time.Hour)}
	s2 := s1
	s2.ID = NewSessionID()
	a.Revoke(s1, now)
	if _, ok := a.VerifySession(a.SignSession(s1), now.Add(time.Minute)); ok {
		t.Error("a revoked session is accepted")
	}
	if _, ok := a.VerifySession(a.SignSession(s2), now.Add(time.Minute)); !ok {
		t.Error("another session of the account is refused")
	}
}

func TestCSRF(t *testing.T) {
	a := testAccounts(t)
	seed := NewCSRFSeed()
	if !ValidCSRFSeed(seed) || seed == NewCSRFSeed() {
		t.Fatalf("seed %q: want 32 new hex digits each time", seed)
	}
	for _, s := range []string{"", "short", strings.Repeat("z", 32), seed + "0"} {
		if ValidCSRFSeed(s) {
			t.Errorf("ValidCSRFSeed(%q) = true", s)
		}
	}
	tok := a.SeedCSRF(CSRFLogin, seed)
	if !SameToken(a.SeedCSRF(CSRFLogin, seed), tok) {
		t.Error("the token of the seed is refused")
	}
	s := Session{ID: NewSessionID(), User: "ana", Role: RoleAdmin}
	other := NewAccounts(nil, []byte("another key, another signature.."))
	for name, tc := range map[string]struct{ want, sent string }{
		"forged":             {tok, "forged"},
		"empty":              {tok, ""},
		"no cookie":          {a.SeedCSRF(CSRFLogin, ""), tok},
		"other seed":         {a.SeedCSRF(CSRFLogin, NewCSRFSeed()), tok},
		"other key":          {tok, other.SeedCSRF(CSRFLogin, seed)},
		"other purpose":      {a.SeedCSRF(CSRFAnonymous, seed), tok},
		"seed for session":   {a.SessionCSRF(s), tok},
		"other session":      {a.SessionCSRF(s), a.SessionCSRF(Session{ID: NewSessionID(), User: "ana", Role: RoleAdmin})},
		"session without id": {a.SessionCSRF(Session{User: "ana"}), a.SessionCSRF(Session{User: "ana"})},
	} {
		if SameToken(tc.want, tc.sent) {
			t.Errorf("%s: accepted", name)
		}
	}
}
