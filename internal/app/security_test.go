package app

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
)

// routeFamilies are one request of each kind the server answers: ingest
// (and its Segment and PostHog forms), the query API (reads and writes),
// the API description, the dashboard (pages, sign-in, forms, static files),
// health, metrics, and a path nobody serves.
var routeFamilies = []struct{ method, path, body string }{
	{"POST", "/v1/events", `{"time":"2026-01-15T00:00:00Z","assistant":"chatgpt","channel":"ios","user_id":"u"}`},
	{"POST", "/v1/track", `{"type":"track","event":"x"}`},
	{"POST", "/capture", `{"event":"x"}`},
	{"GET", "/api/v1/series", ""},
	{"GET", "/api/v1/exports", ""},
	{"POST", "/api/v1/annotations", `{"start":"2026-01-15","title":"rebinding"}`},
	{"GET", "/api/v1/openapi.json", ""},
	{"GET", "/", ""},
	{"GET", "/login", ""},
	{"POST", "/annotations", "title=x"},
	{"GET", "/static/x/app.css", ""},
	{"GET", "/healthz", ""},
	{"GET", "/metrics", ""},
	{"GET", "/no/such/page", ""},
}

func hostRequest(t *testing.T, base, method, path, body, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Host = host
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b struct{ Error string }
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return resp.StatusCode, b.Error
}

// TestRebindingGuardOnEveryRouteFamily: with no account and no token (the
// laptop default, where every visitor is admin), a request that names a
// foreign host is refused with 421 on every route before any handler runs:
// no annotation is created; localhost, *.localhost and IP literals are
// answered; names in ADOPTSCOPE_ALLOWED_HOSTS (exact and *.example.com)
// are answered too.
func TestRebindingGuardOnEveryRouteFamily(t *testing.T) {
	a, base := startFullApp(t, false)
	port := base[strings.LastIndex(base, ":"):]
	for _, rf := range routeFamilies {
		code, msg := hostRequest(t, base, rf.method, rf.path, rf.body, "evil.example"+port)
		if code != http.StatusMisdirectedRequest {
			t.Errorf("%s %s with Host evil.example: %d, want 421", rf.method, rf.path, code)
		}
		if strings.HasPrefix(rf.path, "/api/") && !strings.Contains(msg, "ADOPTSCOPE_ALLOWED_HOSTS") {
			t.Errorf("%s %s: message %q does not name ADOPTSCOPE_ALLOWED_HOSTS", rf.method, rf.path, msg)
		}
	}
	if code, _ := hostRequest(t, base, "GET", "/api/v1/annotations", "", "127.0.0.1"+port); code != 200 {
		t.Fatalf("annotations from 127.0.0.1: %d", code)
	}
	var list struct{ Annotations []any }
	resp, err := http.Get(base + "/api/v1/annotations")
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Annotations) != 0 {
		t.Fatalf("the refused POST created %d annotation(s)", len(list.Annotations))
	}

	allowedHosts := []string{"127.0.0.1" + port, "10.0.0.7" + port, "[::1]" + port, "localhost" + port, "dash.localhost" + port}
	for _, host := range allowedHosts {
		for _, rf := range routeFamilies {
			if code, _ := hostRequest(t, base, rf.method, rf.path, rf.body, host); code == http.StatusMisdirectedRequest {
				t.Errorf("%s %s with Host %s: 421, want it answered", rf.method, rf.path, host)
			}
		}
	}

	// Names an operator lists are answered; others still refused.
	a.Server.SetOptions(serverOptions(withAllowedHosts(a, "dash.example.com", "*.corp.example")))
	for host, want := range map[string]bool{"dash.example.com": true, "DASH.example.com.:443": true, "a.corp.example": true, "x.y.corp.example" + port: true,
		"corp.example": false, "evil.example": false, "dash.example.com.evil.example": false} {
		code, _ := hostRequest(t, base, "GET", "/api/v1/exports", "", host)
		if got := code != http.StatusMisdirectedRequest; got != want {
			t.Errorf("Host %s with ADOPTSCOPE_ALLOWED_HOSTS=dash.example.com,*.corp.example: %d, want answered=%v", host, code, want)
		}
	}
}

func withAllowedHosts(a *App, hosts ...string) config.Config {
	cfg := a.Cfg
	cfg.HTTP.AllowedHosts = hosts
	return cfg
}

// signedIn signs ana in on the dashboard at base and returns the client
// (holding the session cookie) and the CSRF token of her pages.
func signedIn(t *testing.T, base string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := func(path string) string {
		resp, err := c.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return doc.Find(`input[name=_csrf]`).First().AttrOr("value", "")
	}
	resp, err := c.PostForm(base+"/login", url.Values{"_csrf": {token("/login")}, "username": {"ana"}, "password": {"admin-pass"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", resp.StatusCode)
	}
	return c, token("/annotations")
}

func withAna(t *testing.T) func(*config.Config) {
	h, err := auth.HashPassword("admin-pass")
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) { c.Users = "ana:admin:" + h }
}

// TestCookieWritesNeedCSRF: an API write without a body, authenticated by
// the dashboard's session cookie, is refused (403) without the session's
// CSRF token or this server's Origin; another port of the same host is
// another origin. With the token (X-CSRF-Token) or the same Origin it is
// answered, and a bearer-token request is not affected.
func TestCookieWritesNeedCSRF(t *testing.T) {
	_, base := startFullAppWith(t, true, withAna(t))
	c, token := signedIn(t, base)
	u, _ := url.Parse(base)
	post := func(path string, hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/api/v1/breaks/detect", "/api/v1/exports/x/run", "/api/v1/breaks/x/dismiss"} {
		for name, hdr := range map[string]map[string]string{
			"cookie alone":        nil,
			"Origin another port": {"Origin": "http://" + u.Hostname() + ":1"},
			"Origin another site": {"Origin": "https://evil.example"},
			"a token of no page":  {"X-CSRF-Token": "forged"},
			"Origin null":         {"Origin": "null"},
		} {
			if code := post(path, hdr); code != http.StatusForbidden {
				t.Errorf("POST %s, %s: %d, want 403", path, name, code)
			}
		}
	}
	for name, hdr := range map[string]map[string]string{
		"the session's token": {"X-CSRF-Token": token},
		"same Origin":         {"Origin": base},
	} {
		if code := post("/api/v1/breaks/detect", hdr); code == http.StatusForbidden || code == http.StatusUnauthorized {
			t.Errorf("POST /api/v1/breaks/detect, %s: %d, want it answered", name, code)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/breaks/detect", nil)
	req.Header.Set("Authorization", "Bearer oas-admin-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized {
		t.Errorf("POST /api/v1/breaks/detect with the admin token: %d, want it answered", resp.StatusCode)
	}
}

// TestSignOutRevokesAPISession: the session cookie kept after sign-out no
// longer reads the API (it used to, until it expired 12 h later).
func TestSignOutRevokesAPISession(t *testing.T) {
	_, base := startFullAppWith(t, false, withAna(t))
	c, token := signedIn(t, base)
	u, _ := url.Parse(base)
	var session string
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "adoptscope_session" {
			session = ck.Value
		}
	}
	read := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/freshness", nil)
		req.AddCookie(&http.Cookie{Name: "adoptscope_session", Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := read(); code != http.StatusOK {
		t.Fatalf("freshness with the session: %d", code)
	}
	resp, err := c.PostForm(base+"/logout", url.Values{"_csrf": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", resp.StatusCode)
	}
	if code := read(); code != http.StatusUnauthorized {
		t.Errorf("freshness with the signed-out cookie: %d, want 401", code)
	}
}

// TestAPIAnswersJSONForEveryPath: under /api/ and /v1/ and on the
// PostHog-compatible paths, a path no route serves is a JSON 404 (even a
// POST, which the dashboard's catch-all used to answer with its HTML
// "form has expired" 403), and a known path asked with another method a
// JSON 405 with Allow.
func TestAPIAnswersJSONForEveryPath(t *testing.T) {
	_, base := startFullApp(t, false)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"POST", "/api/v1/nope", 404, ""},
		{"GET", "/api/v1/nope", 404, ""},
		{"DELETE", "/api/nope", 404, ""},
		{"POST", "/v1/nope", 404, ""},
		{"PUT", "/api/v1/series", 405, "GET"},
		{"POST", "/api/v1/series", 405, "GET"},
		{"DELETE", "/api/v1/exports/x/run", 405, "POST"},
		{"GET", "/v1/events", 405, "POST"},
		{"GET", "/capture/", 405, "POST"},
		{"PUT", "/api/v1/annotations", 405, "GET, POST"},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var b struct{ Error string }
		jerr := json.NewDecoder(resp.Body).Decode(&b)
		resp.Body.Close()
		if resp.StatusCode != tc.status || jerr != nil || b.Error == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s (JSON error %q, %v), want %d in JSON", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), b.Error, jerr, tc.status)
		}
		if allow := resp.Header.Get("Allow"); tc.allow != "" && !strings.HasPrefix(allow, tc.allow) {
			t.Errorf("%s %s: Allow %q, want %s first", tc.method, tc.path, allow, tc.allow)
		}
	}
	// The dashboard still answers its own unknown paths as pages.
	resp, err := http.Get(base + "/no/such/page")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("GET /no/such/page: %d %s, want a 404 page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
