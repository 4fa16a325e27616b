package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestParseUsers(t *testing.T) {
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text string
		users      []string // name:role
		errs       []string // parts of the error
	}{
		{"empty", "", nil, nil},
		{"comma and newline", "ana:admin:" + h + ",vic:viewer:" + h + "\n# comment\n\n", []string{"ana:admin", "vic:viewer"}, nil},
		{"missing role", "ana:" + h, nil, []string{"test entry 1: want name:role:bcrypt-hash"}},
		{"bad role", "ana:root:" + h, nil, []string{`user "ana": role "root", want viewer or admin`}},
		{"plain password", "ana:admin:secret", nil, []string{`user "ana": password must be a bcrypt hash`}},
		{"good and bad", "ana:admin:" + h + "\nbob:root:" + h + "\ncy:viewer:x", []string{"ana:admin"},
			[]string{`"bob": role "root"`, `"cy": password must be a bcrypt hash`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			users, err := ParseUsers(tc.text, "test")
			var got []string
			for _, u := range users {
				got = append(got, u.Name+":"+u.Role)
				if err := bcrypt.CompareHashAndPassword(u.Hash, []byte("pw")); err != nil {
					t.Errorf("%s: hash does not match: %v", u.Name, err)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.users, ",") {
				t.Errorf("users %v, want %v", got, tc.users)
			}
			if (err != nil) != (len(tc.errs) > 0) {
				t.Fatalf("err %v, want one holding %q", err, tc.errs)
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("err %q lacks %q", err, e)
				}
			}
		})
	}
}

func TestLoadUsers(t *testing.T) {
	h, _ := HashPassword("pw")
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("# accounts\nvic:viewer:"+h+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users, err := LoadUsers("ana:admin:"+h, file)
	if err != nil || len(users) != 2 || users[0].Name != "ana" || users[1].Name != "vic" {
		t.Fatalf("users %v, err %v", users, err)
	}
	if _, err := LoadUsers("", filepath.Join(t.TempDir(), "missing")); err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_USERS_FILE") {
		t.Errorf("missing file: %v", err)
	}
	if err := os.WriteFile(file, []byte("vic:boss:"+h), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadUsers("", file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("bad file entry: %v, want an error naming the file", err)
	}
}

func testAccounts(t *testing.T) *Accounts {
	t.Helper()
	var users []User
	for _, u := range []struct{ name, role, pw string }{{"ana", RoleAdmin, "admin-pass"}, {"vic", RoleViewer, "viewer-pass"}} {
		h, err := bcrypt.GenerateFromPassword([]byte(u.pw), bcrypt.MinCost+1)
		if err != nil {
			t.Fatal(err)
		}
		users = append(users, User{Name: u.name, Role: u.role, Hash: h})
	}
	return NewAccounts(users, []byte("0123456789abcdef0123456789abcdef"))
}

func TestCheck(t *testing.T) {
	a := testAccounts(t)
	if !a.Enabled() || NewAccounts(nil, nil).Enabled() {
		t.Error("Enabled: want true with accounts, false without")
	}
	for _, tc := range []struct {
		name, pw string
		ok       bool
	}{{"ana", "admin-pass", true}, {"vic", "viewer-pass", true}, {"ana", "viewer-pass", false}, {"nobody", "admin-pass", false}, {"", "", false}} {
		u, ok := a.Check(tc.name, tc.pw)
		if ok != tc.ok || (ok && u.Name != tc.name) {
			t.Errorf("Check(%q, %q) = %v %v, want %v", tc.name, tc.pw, u.Name, ok, tc.ok)
		}
	}
	// An unknown name costs as much as a known one.
	if c, err := bcrypt.Cost(a.dummy); err != nil || c != bcrypt.MinCost+1 {
		t.Errorf("dummy hash cost %d (%v), want the accounts' %d", c, err, bcrypt.MinCost+1)
	}
}
