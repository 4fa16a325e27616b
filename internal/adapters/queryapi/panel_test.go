package queryapi

import (
	"encoding/json"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// The panel routes: admin uploads in CSV or NDJSON, read access to the
// weights, the weights' margins matching the targets sent.
func TestPanelRoutes(t *testing.T) {
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := httpserver.New(log).Echo
	key := func(id string) uint64 { h := fnv.New64a(); h.Write([]byte(id)); return h.Sum64() }
	mustNew(t, Deps{Store: s, Log: log, ReadTokens: []string{readToken}, AdminTokens: []string{adminToken},
		Panel: panel.NewService(s, key)}).Register(e.Group("/api/v1"))
	send := func(method, target, token, ct, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Host = "localhost"
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	var members strings.Builder
	members.WriteString("panel,user_id,country,platform\n")
	// 40 in FR on iOS, 20 in FR on Android, 10 in EG on iOS, 30 in EG on
	// Android: FR and iOS over-represented against the targets below.
	for i, c := range []struct {
		n                 int
		country, platform string
	}{{40, "FR", "ios"}, {20, "FR", "android"}, {10, "EG", "ios"}, {30, "EG", "android"}} {
		for k := range c.n {
			members.WriteString("p1,u" + string(rune('a'+i)) + strings.Repeat("x", k) + "," + c.country + "," + c.platform + "\n")
		}
	}
	if rec := send(http.MethodPost, "/api/v1/panel/members", readToken, "text/csv", members.String()); rec.Code != http.StatusUnauthorized {
		t.Errorf("members with a read token: %d, want 401", rec.Code)
	}
	if rec := send(http.MethodPost, "/api/v1/panel/members", adminToken, "image/png", members.String()); rec.Code != http.StatusUnsupportedMediaType {
		t.Errorf("members as image/png: %d, want 415", rec.Code)
	}
	rec := send(http.MethodPost, "/api/v1/panel/members", adminToken, "text/csv", members.String())
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"accepted":100`) {
		t.Fatalf("members: %d %s", rec.Code, rec.Body)
	}
	targets := `{"panel":"p1","month":"2026-01","dimension":"country","category":"FR","population":2000}
{"panel":"p1","month":"2026-01","dimension":"country","category":"EG","population":8000}
{"panel":"p1","month":"2026-01","dimension":"platform","category":"ios","population":3000}
{"panel":"p1","month":"2026-01","dimension":"platform","category":"android","population":7000}`
	if rec := send(http.MethodPost, "/api/v1/panel/targets", adminToken, "application/x-ndjson", targets); rec.Code != http.StatusOK {
		t.Fatalf("targets: %d %s", rec.Code, rec.Body)
	}
	rec = send(http.MethodGet, "/api/v1/panel/weights?panel=p1&month=2026-03", readToken, "", "")
	if rec.Code != http.StatusOK {
		t.Fatalf("weights: %d %s", rec.Code, rec.Body)
	}
	var got struct {
		Members      int     `json:"members"`
		TargetsMonth string  `json:"targets_month"`
		Converged    bool    `json:"converged"`
		NEff         float64 `json:"n_eff"`
		Margins      []struct {
			Dimension, Category string
			Target, Weighted    float64
		} `json:"margins"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Members != 100 || got.TargetsMonth != "2026-01" || !got.Converged || got.NEff <= 0 || got.NEff >= 100 {
		t.Errorf("weights %+v: want 100 members, January's targets, converged, 0 < n_eff < 100", got)
	}
	for _, m := range got.Margins {
		if d := m.Weighted - m.Target; d > 0.001*m.Target || d < -0.001*m.Target {
			t.Errorf("%s=%s weighted %v, target %v", m.Dimension, m.Category, m.Weighted, m.Target)
		}
	}
	// Estimates: the 40 French iPhone members used ChatGPT on 10 January.
	var evs []schematest.Event
	for k := range 40 {
		evs = append(evs, schematest.Event{Time: time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC), Assistant: "chatgpt", User: key("ua" + strings.Repeat("x", k))})
	}
	schematest.InsertAndBuild(t, s, "pan", evs)
	rec = send(http.MethodGet, "/api/v1/series?metric=active_users&interval=month&from=2026-01-01&to=2026-01-31&by=assistant&estimate=population&panel=p1", readToken, "", "")
	var est struct {
		Estimate   string `json:"estimate"`
		Assumption string `json:"assumption"`
		Rows       []struct {
			Assistant  string   `json:"assistant"`
			Value      *float64 `json:"value"`
			Low, High  float64
			N          int     `json:"n"`
			NEff       float64 `json:"n_eff"`
			Confidence string  `json:"confidence"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &est); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("estimate: %d %s", rec.Code, rec.Body)
	}
	if est.Estimate != "population" || est.Assumption == "" || len(est.Rows) != 1 {
		t.Fatalf("estimate answer %+v", est)
	}
	r := est.Rows[0]
	// Every FR/iOS member weighs the same (one cell): n_eff is n.
	if r.Assistant != "chatgpt" || r.N != 40 || r.Value == nil || *r.Value < r.Low || *r.Value > r.High || r.NEff < 39.9 || r.NEff > 40.1 || r.Confidence == "suppressed" {
		t.Errorf("estimate row %+v (value %v): want 40 members of one cell, n_eff 40, a value inside its interval", r, r.Value)
	}
	for _, bad := range []string{"estimate=sample&panel=p1", "estimate=population&panel=p1&tz=Europe/Paris", "estimate=population&panel=p1&metric=events", "estimate=population"} {
		if rec := send(http.MethodGet, "/api/v1/series?from=2026-01-01&to=2026-01-31&"+bad, readToken, "", ""); rec.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, rec.Code)
		}
	}
	if rec := send(http.MethodGet, "/api/v1/panel/weights?panel=p1&month=2026-13", readToken, "", ""); rec.Code != http.StatusBadRequest {
		t.Errorf("month 2026-13: %d, want 400", rec.Code)
	}
	if rec := send(http.MethodGet, "/api/v1/panel/weights?panel=p2&month=2026-01", readToken, "", ""); rec.Code != http.StatusNotFound {
		t.Errorf("unknown panel: %d, want 404", rec.Code)
	}
}
