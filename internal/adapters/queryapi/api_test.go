package queryapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// queryServer is the query API on a fresh database with a small data set.
func queryServer(t *testing.T, deps Deps) (http.Handler, *store.Store) {
	t.Helper()
	s := chtest.NewStore(t)
	var rows []schematest.Event
	as, cs, ks, ms := []string{"chatgpt", "meta_ai", "copilot"}, []string{"whatsapp", "ios", "web"}, []string{"EG", "FR"}, []string{"text", "voice"}
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	for u := uint64(1); u <= 60; u++ {
		for day := 0; day < 80; day++ {
			if (u*31+uint64(day)*17)%5 > 1 {
				continue
			}
			for k := uint64(0); k < 1+(u+uint64(day))%3; k++ {
				at := start.AddDate(0, 0, day).Add(time.Duration((u*3600+k*977)%86400) * time.Second)
				rows = append(rows, schematest.Event{Time: at, Assistant: as[(u+k*uint64(day%2))%3], Channel: cs[(u/3+uint64(day/40))%3],
					EventType: "message", Modality: ms[k%2], User: u * 104729, Country: ks[u%2], Count: uint32(1 + k), Linked: u%5/4 == 1})
			}
		}
	}
	schematest.InsertAndBuild(t, s, "a", rows)
	e := httpserver.New(quiet()).Echo
	deps.Store, deps.Log = s, quiet()
	mustNew(t, deps).Register(e.Group("/api/v1"))
	return e, s
}

func apiGet(h http.Handler, target, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Host = "localhost" // httptest's example.com is a foreign host name
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestInjectionAttemptsAre400(t *testing.T) {
	h, s := queryServer(t, Deps{})
	bad := []string{
		"chatgpt' OR 1=1 --", "x;DROP TABLE events", "user_key", "1) OR (1=1", `"; SELECT 1`, "chatgpt\x00", "../../etc",
		"whatsapp' UNION SELECT user_key FROM events --", "%27",
	}
	params := map[string][]string{
		"/api/v1/series":    {"metric", "interval", "from", "to", "by", "assistant", "channel", "country", "modality", "event_type", "compare", "tz", "share_of", "exact", "format"},
		"/api/v1/migration": {"assistant", "channel", "date", "before_days", "after_days", "format"},
		"/api/v1/retention": {"interval", "from", "to", "assistant", "channel", "country", "modality", "event_type", "format"},
	}
	valid := map[string]url.Values{
		"/api/v1/series":    {"metric": {"share"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}, "by": {"assistant"}},
		"/api/v1/migration": {"assistant": {"chatgpt"}, "channel": {"whatsapp"}, "date": {"2026-01-15"}},
		"/api/v1/retention": {"from": {"2026-01-05"}, "to": {"2026-02-01"}},
	}
	n := 0
	for path, names := range params {
		for _, p := range names {
			for _, b := range bad {
				if b == "user_key" && p != "by" && p != "share_of" && p != "metric" && p != "interval" && p != "format" {
					continue // a plain value that matches nothing: 200 with zeros is right
				}
				v := url.Values{}
				for k, vals := range valid[path] {
					v[k] = vals
				}
				v.Set(p, b)
				rec := apiGet(h, path+"?"+v.Encode(), "")
				n++
				if rec.Code != http.StatusBadRequest {
					t.Errorf("%s %s=%q: status %d, want 400 (%s)", path, p, b, rec.Code, rec.Body.String())
					continue
				}
				var body struct{ Error string }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(body.Error, p) {
					t.Errorf("%s %s=%q: error %q should name the parameter", path, p, b, rec.Body.String())
				}
			}
		}
	}
	// Named cases of the issue, with messages that list allowed values.
	for target, want := range map[string]string{
		"/api/v1/series?metric=x;DROP%20TABLE":              "malformed",
		"/api/v1/series?metric=x%3BDROP%20TABLE":            "active_users, events, modality_mix, new_users, share, stickiness",
		"/api/v1/series?by=user_key":                        "assistant,channel,country,modality,event_type",
		"/api/v1/series?interval=hour":                      "day, week, month",
		"/api/v1/series?from=2026-13-01":                    "YYYY-MM-DD",
		"/api/v1/series?assistant=chatgpt'%20OR%201=1%20--": "assistant",
	} {
		rec := apiGet(h, target, "")
		if rec.Code != 400 || !strings.Contains(rec.Body.String(), want) {
			t.Errorf("%s: %d %s, want 400 naming %q", target, rec.Code, rec.Body.String(), want)
		}
	}
	// Nothing changed: the events are all still there.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var count uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&count); err != nil || count == 0 {
		t.Fatalf("events after the attempts: %d, %v", count, err)
	}
	t.Logf("%d injection attempts answered 400", n)
}

func TestJSONAndCSVCarryTheSameNumbers(t *testing.T) {
	h, _ := queryServer(t, Deps{})
	for _, q := range []string{
		"metric=active_users&interval=day&from=2026-01-01&to=2026-01-31&by=assistant,channel&compare=previous",
		"metric=share&interval=week&from=2026-01-05&to=2026-02-15&by=assistant,channel&share_of=channel",
		"metric=stickiness&interval=month&from=2025-12-01&to=2026-02-28&by=country",
		"metric=modality_mix&interval=week&from=2025-12-01&to=2026-02-15&country=EG",
		"metric=new_users&interval=day&from=2025-12-01&to=2025-12-20&tz=Europe/Paris&compare=previous",
		"metric=events&interval=month&from=2025-12-01&to=2026-02-28",
	} {
		jr := apiGet(h, "/api/v1/series?"+q, "")
		cr := apiGet(h, "/api/v1/series?"+q+"&format=csv", "")
		if jr.Code != 200 || cr.Code != 200 {
			t.Fatalf("%s: status %d / %d: %s %s", q, jr.Code, cr.Code, jr.Body.String(), cr.Body.String())
		}
		if ct := cr.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("CSV Content-Type %q", ct)
		}
		var body struct {
			By   []string
			TZ   string
			Rows []map[string]json.RawMessage
		}
		asked, _ := url.ParseQuery(q)
		if err := json.Unmarshal(jr.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(strings.NewReader(cr.Body.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		header := recs[0]
		for _, d := range append([]string{"tz"}, "assistant", "channel", "country", "modality", "event_type") {
			col := "filter_" + d
			if d == "tz" {
				col = "tz"
			}
			if (d == "tz" || asked.Get(d) != "") != slices.Contains(header, col) {
				t.Errorf("%s: header %v: want the column %s exactly when applied (tz always)", q, header, col)
			}
		}
		if len(recs)-1 != len(body.Rows) || len(body.Rows) == 0 {
			t.Fatalf("%s: %d CSV rows, %d JSON rows", q, len(recs)-1, len(body.Rows))
		}
		nonzero := 0
		for i, row := range body.Rows {
			for j, col := range header {
				// The zone and the filters, the same on every row, are
				// the JSON head's tz and the request's parameters.
				if col == "tz" || strings.HasPrefix(col, "filter_") {
					want := body.TZ
					if col != "tz" {
						want = asked.Get(strings.TrimPrefix(col, "filter_"))
					}
					if recs[i+1][j] != want {
						t.Errorf("%s row %d column %s: %q, want %q", q, i, col, recs[i+1][j], want)
					}
					continue
				}
				raw := string(row[col])
				var js string
				switch {
				case raw == "null":
					js = ""
				case strings.HasPrefix(raw, `"`):
					_ = json.Unmarshal(row[col], &js)
				default:
					js = raw
				}
				if js != recs[i+1][j] {
					t.Errorf("%s row %d column %s: JSON %s, CSV %q", q, i, col, raw, recs[i+1][j])
				}
				if col == "value" && js != "0" {
					nonzero++
				}
			}
		}
		if nonzero == 0 {
			t.Errorf("%s: every value is 0; the data set does not exercise it", q)
		}
	}
	for _, q := range []string{
		"/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=2026-01-15&before_days=28&after_days=28",
		"/api/v1/retention?interval=week&from=2025-12-01&to=2026-02-15",
	} {
		jr := apiGet(h, q, "")
		cr := apiGet(h, q+"&format=csv", "")
		if jr.Code != 200 || cr.Code != 200 {
			t.Fatalf("%s: %d %d %s", q, jr.Code, cr.Code, jr.Body.String())
		}
		recs, err := csv.NewReader(strings.NewReader(cr.Body.String())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]json.RawMessage
		if err := json.Unmarshal(jr.Body.Bytes(), &body); err != nil {
			t.Fatal(err)
		}
		var rows []map[string]any
		key := "rows"
		if strings.Contains(q, "migration") {
			key = "outcomes"
		}
		if err := json.Unmarshal(body[key], &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(recs)-1 {
			t.Fatalf("%s: %d JSON rows, %d CSV rows", q, len(rows), len(recs)-1)
		}
		for i, row := range rows {
			for j, col := range recs[0] {
				var want string
				switch col {
				case "cohort", "linked", "observed_days", "after_days":
					if key == "outcomes" {
						want = string(body[col])
						break
					}
					fallthrough
				case "baseline_date", "baseline_cohort":
					if key == "outcomes" {
						// The baseline's date and cohort repeat on every CSV row.
						var b map[string]any
						_ = json.Unmarshal(body["baseline"], &b)
						if v, ok := b[strings.TrimPrefix(col, "baseline_")]; ok {
							want = fmt.Sprint(v)
						}
						break
					}
					fallthrough
				default:
					if v, ok := row[col]; ok {
						want = fmt.Sprint(v)
					}
				}
				if want != recs[i+1][j] {
					t.Errorf("%s row %d %s: JSON %q CSV %q", q, i, col, want, recs[i+1][j])
				}
			}
		}
	}
}

func TestReadAndAdminAccess(t *testing.T) {
	const target = "/api/v1/series?metric=events&from=2026-01-01&to=2026-01-02"
	t.Run("open when nothing is configured", func(t *testing.T) {
		h, _ := queryServer(t, Deps{})
		if rec := apiGet(h, target, ""); rec.Code != 200 {
			t.Errorf("status %d, want 200", rec.Code)
		}
	})
	t.Run("tokens", func(t *testing.T) {
		sessionRole := ""
		h, _ := queryServer(t, Deps{ReadTokens: []string{"r1"}, AdminTokens: []string{"a1"},
			Session:        func(r *http.Request) (string, bool) { return sessionRole, sessionRole != "" },
			DashboardUsers: func() bool { return true }})
		for _, c := range []struct {
			token, role string
			want        int
		}{{"", "", 401}, {"wrong", "", 401}, {"r1", "", 200}, {"a1", "", 200}, {"", "viewer", 200}} {
			sessionRole = c.role
			if rec := apiGet(h, target, c.token); rec.Code != c.want {
				t.Errorf("token %q session %q: status %d, want %d", c.token, c.role, rec.Code, c.want)
			}
		}
	})
	t.Run("admin", func(t *testing.T) {
		s := chtest.NewStore(t)
		a := mustNew(t, Deps{Store: s, ReadTokens: []string{"r1"}, AdminTokens: []string{"a1"}})
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer r1")
		if a.CanAdmin(r) || !a.CanRead(r) {
			t.Error("a read token must read and not write")
		}
		r.Header.Set("Authorization", "Bearer a1")
		if !a.CanAdmin(r) || !a.CanRead(r) {
			t.Error("an admin token must read and write")
		}
		open := mustNew(t, Deps{Store: s, Loopback: true})
		if !open.CanAdmin(httptest.NewRequest("GET", "/", nil)) {
			t.Error("nothing configured on loopback: admin is open")
		}
		if mustNew(t, Deps{Store: s}).CanAdmin(httptest.NewRequest("GET", "/", nil)) {
			t.Error("nothing configured beyond loopback: admin must stay closed")
		}
		users := mustNew(t, Deps{Store: s, DashboardUsers: func() bool { return true }, Loopback: true})
		if users.CanRead(httptest.NewRequest("GET", "/", nil)) {
			t.Error("with dashboard accounts, an anonymous request must not read")
		}
	})
}

// mustNew is New for a test whose dependencies are complete.
func mustNew(t *testing.T, d Deps) *API {
	t.Helper()
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestNewNamesAMissingDependency: the API refuses to start without its
// store, and says so by the field's name.
func TestNewNamesAMissingDependency(t *testing.T) {
	if _, err := New(Deps{ReadTokens: []string{"r1"}}); err == nil || !strings.Contains(err.Error(), "Deps.Store") {
		t.Errorf("New without a store: %v, want an error naming Deps.Store", err)
	}
}
