package queryapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

func apiPost(h http.Handler, target, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, nil)
	req.Host = "localhost"
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestInsightEndpoints: /impact, /overlap and /breaks answer JSON and CSV
// to a read token, refuse no token, and keep detection, accept and
// dismiss to admins.
func TestInsightEndpoints(t *testing.T) {
	_, s := queryServer(t, Deps{})
	e := httpserver.New(quiet()).Echo
	detected := 0
	mustNew(t, Deps{Store: s, Log: quiet(), ReadTokens: []string{"r1"}, AdminTokens: []string{"a1"},
		Annotations: annotation.New(s, catalog.Registry{}), Detect: func(context.Context) (string, error) {
			detected++
			return "ran", nil
		}}).Register(e.Group("/api/v1"))
	var h http.Handler = e

	impact := "/api/v1/impact?date=2026-01-20&assistant=chatgpt&channel=whatsapp"
	if rec := apiGet(h, impact, ""); rec.Code != 401 {
		t.Errorf("impact without a token: %d", rec.Code)
	}
	rec := apiGet(h, impact, "r1")
	if rec.Code != 200 {
		t.Fatalf("impact: %d %s", rec.Code, rec.Body)
	}
	var res struct {
		Estimates []struct {
			Metric  string   `json:"metric"`
			Effect  *float64 `json:"effect"`
			Summary string   `json:"summary"`
		} `json:"estimates"`
		Controls []map[string]string `json:"controls"`
		Caveat   string              `json:"caveat"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Estimates) != 2 || res.Estimates[0].Metric != "active_users" || res.Estimates[0].Effect == nil || len(res.Controls) == 0 || res.Caveat == "" {
		t.Fatalf("impact answer %s", rec.Body)
	}
	rec = apiGet(h, impact+"&format=csv", "r1")
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "metric,date,treated,controls,") || strings.Count(rec.Body.String(), "\r\n") != 3 {
		t.Errorf("impact CSV: %d %q", rec.Code, rec.Body)
	}
	if rec := apiGet(h, impact+"&rows=days&format=csv", "r1"); rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "day,window,metric,treated,control,counterfactual\r\n") {
		t.Errorf("impact days CSV: %d %q", rec.Code, rec.Body.String()[:min(200, rec.Body.Len())])
	}
	for _, c := range []struct {
		q    string
		code int
		want string
	}{
		{"date=2026-02-10&assistant=chatgpt&channel=whatsapp", 422, "the after window needs at least 14"},
		{"date=2026-01-20&assistant=bard", 400, "bard"},
		{"date=2026-01-20&assistant=chatgpt&control=chatgpt:*", 400, "must not share events"},
		{"annotation=nope&assistant=chatgpt", 404, "no annotation"},
	} {
		rec := apiGet(h, "/api/v1/impact?"+c.q, "r1")
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.want) {
			t.Errorf("impact?%s: %d %s; want %d with %q", c.q, rec.Code, rec.Body, c.code, c.want)
		}
	}

	rec = apiGet(h, "/api/v1/overlap?from=2026-01-01&to=2026-01-31", "r1")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"exact":true`) {
		t.Errorf("overlap: %d %s", rec.Code, rec.Body)
	}
	rec = apiGet(h, "/api/v1/overlap?from=2026-01-01&to=2026-02-15&interval=month&format=csv", "r1")
	if rec.Code != 200 || !strings.HasPrefix(rec.Body.String(), "period,from,to,complete,assistant,users,exclusive,other,both,share_pct,lift\r\n") {
		t.Errorf("overlap CSV: %d %q", rec.Code, rec.Body)
	}
	if rec := apiGet(h, "/api/v1/overlap?interval=week", "r1"); rec.Code != 400 {
		t.Errorf("overlap interval=week: %d", rec.Code)
	}

	if rec := apiGet(h, "/api/v1/breaks", "r1"); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"breaks":[]`) {
		t.Errorf("breaks: %d %s", rec.Code, rec.Body)
	}
	if rec := apiGet(h, "/api/v1/breaks?status=maybe", "r1"); rec.Code != 400 {
		t.Errorf("breaks?status=maybe: %d", rec.Code)
	}
	if rec := apiPost(h, "/api/v1/breaks/detect", "r1"); rec.Code != 401 || detected != 0 {
		t.Errorf("detect with a read token: %d", rec.Code)
	}
	if rec := apiPost(h, "/api/v1/breaks/detect", "a1"); rec.Code != 200 || detected != 1 {
		t.Errorf("detect with an admin token: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/api/v1/breaks/nope/accept", "/api/v1/breaks/nope/dismiss"} {
		if rec := apiPost(h, p, "r1"); rec.Code != 401 {
			t.Errorf("%s with a read token: %d", p, rec.Code)
		}
		if rec := apiPost(h, p, "a1"); rec.Code != 404 {
			t.Errorf("%s of an unknown break: %d %s", p, rec.Code, rec.Body)
		}
	}
}
