package app

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/internal/config"
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
