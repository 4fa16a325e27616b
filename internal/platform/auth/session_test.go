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
	ana := a.SignSession(Session{User: "ana", Role: RoleAdmin, Expires: exp})

	s, ok := a.VerifySession(ana, now)
	if !ok || s.User != "ana" || !s.IsAdmin() || !s.Expires.Equal(exp) {
		t.Fatalf("round trip: %+v %v", s, ok)
	}
	if s, ok := a.VerifySession(a.SignSession(Session{User: "vic", Role: RoleViewer, Expires: exp}), now); !ok || s.IsAdmin() {
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
		"forged by other key": {other.SignSession(Session{User: "ana", Role: RoleAdmin, Expires: exp}), now, a},
	} {
		if s, ok := tc.a.VerifySession(tc.value, tc.at); ok {
			t.Errorf("%s: accepted as %+v", name, s)
		}
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
	tok := a.CSRFToken(seed)
	if !a.ValidCSRF(seed, tok) {
		t.Error("the token of the seed is refused")
	}
	other := NewAccounts(nil, []byte("another key, another signature.."))
	for name, tc := range map[string]struct{ seed, token string }{
		"forged":     {seed, "forged"},
		"empty":      {seed, ""},
		"no cookie":  {"", tok},
		"other seed": {NewCSRFSeed(), tok},
		"other key":  {seed, other.CSRFToken(seed)},
		"empty both": {"", a.CSRFToken("")},
	} {
		if a.ValidCSRF(tc.seed, tc.token) {
			t.Errorf("%s: accepted", name)
		}
	}
}
