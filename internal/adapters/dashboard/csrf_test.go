package dashboard

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// cookieOf is the value of the cookie name that c holds for base.
func cookieOf(t *testing.T, c *http.Client, base, name string) string {
	t.Helper()
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie", name)
	return ""
}

// postWith posts form to path with exactly the cookies given and the
// headers hdr.
func postWith(t *testing.T, base, path string, form url.Values, cookies map[string]string, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestCSRFTokenBoundToSession: the token of a signed-out /login page,
// with its CSRF cookie, does not work with someone's session (it is only
// good for the sign-in form); the token of the session's own pages does,
// in the form or in the X-CSRF-Token header; a token of another session
// does not.
func TestCSRFTokenBoundToSession(t *testing.T) {
	app := newTestApp(t, testUsers(t), false)
	base := app.srv.URL
	ana, code := login(t, base, "ana", "admin-pass")
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	session := cookieOf(t, ana, base, sessionCookie)

	// An anonymous visitor's pair: the seed cookie and the login form token.
	anon := newClient(t)
	_, doc, _ := get(t, anon, base+"/login")
	anonToken := doc.Find(`input[name=_csrf]`).AttrOr("value", "")
	anonSeed := cookieOf(t, anon, base, csrfCookie)
	form := url.Values{"_csrf": {anonToken}, "start": {"2026-01-15"}, "title": {"Forged"}, "kind": {"shutdown"}}
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session, csrfCookie: anonSeed}, nil); code != http.StatusForbidden {
		t.Errorf("anonymous /login token with another's session: %d, want 403", code)
	}

	// Another session's token.
	vic, _ := login(t, base, "vic", "viewer-pass")
	_, vdoc, _ := get(t, vic, base+"/annotations")
	vicToken := vdoc.Find(`input[name=_csrf]`).AttrOr("value", "")
	form.Set("_csrf", vicToken)
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session, csrfCookie: cookieOf(t, vic, base, csrfCookie)}, nil); code != http.StatusForbidden {
		t.Errorf("another session's token: %d, want 403", code)
	}

	// The session's own token, in the form and in the header.
	_, adoc, _ := get(t, ana, base+"/annotations")
	own := csrfOfPage(adoc)
	form.Set("_csrf", own)
	form.Set("title", "Own form")
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session}, nil); code != http.StatusSeeOther {
		t.Errorf("own token in the form: %d, want 303", code)
	}
	form.Del("_csrf")
	form.Set("title", "Own header")
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session}, map[string]string{"X-CSRF-Token": own}); code != http.StatusSeeOther {
		t.Errorf("own token in the header: %d, want 303", code)
	}
	// No token: refused, unless the Origin is this server's own; another
	// port of the same host is another origin.
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session}, nil); code != http.StatusForbidden {
		t.Errorf("no token: %d, want 403", code)
	}
	u, _ := url.Parse(base)
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session}, map[string]string{"Origin": "http://" + u.Hostname() + ":1"}); code != http.StatusForbidden {
		t.Errorf("no token, Origin another port: %d, want 403", code)
	}
	form.Set("title", "Same origin")
	if code := postWith(t, base, "/annotations", form, map[string]string{sessionCookie: session}, map[string]string{"Origin": base}); code != http.StatusSeeOther {
		t.Errorf("no token, same Origin: %d, want 303", code)
	}
}

// TestSignOutRevokesTheSession: after sign-out, the session's cookie,
// kept by someone who copied it, no longer opens a page, nor signs out
// another session.
func TestSignOutRevokesTheSession(t *testing.T) {
	app := newTestApp(t, testUsers(t), false)
	base := app.srv.URL
	ana, _ := login(t, base, "ana", "admin-pass")
	other, _ := login(t, base, "ana", "admin-pass")
	session := cookieOf(t, ana, base, sessionCookie)
	_, doc, _ := get(t, ana, base+"/annotations")
	resp, err := ana.PostForm(base+"/logout", url.Values{"_csrf": {csrfOfPage(doc)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/annotations", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: session})
	resp, err = (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("the signed-out cookie: %d %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	if r, _, _ := get(t, other, base+"/annotations"); r.StatusCode != http.StatusOK {
		t.Errorf("the account's other session: %d, want 200", r.StatusCode)
	}
}
