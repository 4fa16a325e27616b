package queryapi

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

const (
	readToken  = "read-token-1234567890"
	adminToken = "admin-token-1234567890"
)

func annotationServer(t *testing.T) (*echo.Echo, *store.Store) {
	t.Helper()
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := httpserver.New(log).Echo
	reg := catalog.Registry{Assistants: []string{"chatgpt", "meta_ai"}, Channels: []string{"whatsapp", "ios"}}
	mustNew(t, Deps{Store: s, Log: log, ReadTokens: []string{readToken}, AdminTokens: []string{adminToken}, Loopback: true,
		Annotations: annotation.New(s, reg)}).Register(e.Group("/api/v1"))
	return e, s
}

func call(t *testing.T, e *echo.Echo, method, target, token string, body any) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = "localhost" // httptest's example.com is a foreign host name
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestAnnotationCRUD(t *testing.T) {
	e, _ := annotationServer(t)
	xss := "<script>alert(1)</script>"
	in := map[string]any{"start": "2026-01-15", "title": xss, "text": "a & b \"quoted\"", "kind": "shutdown",
		"assistant": "chatgpt", "channel": "whatsapp", "real_world": true, "link": "https://example.com/x?a=1"}

	for _, tc := range []struct {
		name, token string
		want        int
	}{{"no token", "", 401}, {"read token", readToken, 401}, {"wrong token", "nope", 401}} {
		if rec := call(t, e, "POST", "/api/v1/annotations", tc.token, in); rec.Code != tc.want {
			t.Fatalf("POST with %s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	rec := call(t, e, "POST", "/api/v1/annotations", adminToken, in)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	var created annotation.Annotation
	if err := json.Unmarshal(rec.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == "" || created.Title != xss || created.End != "2026-01-15" || !created.RealWorld {
		t.Fatalf("created %+v: want an id, the title as given, end = start, real world", created)
	}

	// A second one, all scopes, a range.
	rec = call(t, e, "POST", "/api/v1/annotations", adminToken, map[string]any{"start": "2025-11-17", "end": "2026-01-14", "title": "Linking prompts"})
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST range: %d %s", rec.Code, rec.Body)
	}
	var ranged annotation.Annotation
	_ = json.Unmarshal(rec.Body.Bytes(), &ranged)
	if ranged.Kind != "other" {
		t.Errorf("default kind %q, want other", ranged.Kind)
	}

	list := func(t *testing.T, params string) []string {
		t.Helper()
		rec := call(t, e, "GET", "/api/v1/annotations"+params, readToken, nil)
		if rec.Code != 200 {
			t.Fatalf("GET %s: %d %s", params, rec.Code, rec.Body)
		}
		var out struct{ Annotations []annotation.Annotation }
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		var titles []string
		for _, a := range out.Annotations {
			titles = append(titles, a.Title)
		}
		sort.Strings(titles)
		return titles
	}
	for _, tc := range []struct {
		params string
		want   []string
	}{
		{"", []string{xss, "Linking prompts"}},
		{"?from=2026-01-15&to=2026-01-31", []string{xss}},
		{"?from=2026-01-14&to=2026-01-14", []string{"Linking prompts"}},
		{"?from=2025-12-01&to=2025-12-01", []string{"Linking prompts"}},
		{"?to=2025-11-16", nil},
		{"?assistant=chatgpt", []string{xss, "Linking prompts"}},
		{"?assistant=meta_ai", []string{"Linking prompts"}},
		{"?channel=ios", []string{"Linking prompts"}},
	} {
		sort.Strings(tc.want)
		if got := list(t, tc.params); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("GET %s: %q, want %q", tc.params, got, tc.want)
		}
	}

	// CSV carries the same rows, the title as given.
	rec = call(t, e, "GET", "/api/v1/annotations?format=csv", readToken, nil)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", rec.Code, rec.Header())
	}
	recs, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[0], ",") != strings.Join(annotation.CSVHeader, ",") {
		t.Fatalf("CSV rows %q", recs)
	}
	if recs[2][3] != xss || recs[2][0] != created.ID {
		t.Errorf("CSV row %q, want id %s and title %q (ordered by start)", recs[2], created.ID, xss)
	}

	// Update keeps the id and creation time.
	in["id"] = created.ID
	in["title"] = "ChatGPT leaves WhatsApp"
	rec = call(t, e, "POST", "/api/v1/annotations", adminToken, in)
	if rec.Code != http.StatusOK {
		t.Fatalf("update: %d %s", rec.Code, rec.Body)
	}
	rec = call(t, e, "GET", "/api/v1/annotations/"+created.ID, readToken, nil)
	var got annotation.Annotation
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if got.Title != "ChatGPT leaves WhatsApp" || !got.CreatedAt.Equal(created.CreatedAt) {
		t.Errorf("after update %+v, want the new title and created_at %s", got, created.CreatedAt)
	}
	if n := len(list(t, "")); n != 2 {
		t.Errorf("%d annotations after an update, want 2", n)
	}

	// Delete.
	if rec := call(t, e, "DELETE", "/api/v1/annotations/"+created.ID, readToken, nil); rec.Code != 401 {
		t.Errorf("DELETE with a read token: %d", rec.Code)
	}
	if rec := call(t, e, "DELETE", "/api/v1/annotations/"+created.ID, adminToken, nil); rec.Code != 204 {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := call(t, e, "GET", "/api/v1/annotations/"+created.ID, readToken, nil); rec.Code != 404 {
		t.Errorf("GET deleted: %d", rec.Code)
	}
	if rec := call(t, e, "DELETE", "/api/v1/annotations/"+created.ID, adminToken, nil); rec.Code != 404 {
		t.Errorf("DELETE again: %d", rec.Code)
	}
	if got := list(t, ""); len(got) != 1 || got[0] != "Linking prompts" {
		t.Errorf("after delete: %q", got)
	}
}

func TestAnnotationBadInput(t *testing.T) {
	e, s := annotationServer(t)
	for _, tc := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"no title", map[string]any{"start": "2026-01-15"}, "title"},
		{"bad date", map[string]any{"start": "15/01/2026", "title": "x"}, "start"},
		{"end before start", map[string]any{"start": "2026-01-15", "end": "2026-01-01", "title": "x"}, "before start"},
		{"unknown kind", map[string]any{"start": "2026-01-15", "title": "x", "kind": "rumour"}, "kind"},
		{"unknown assistant", map[string]any{"start": "2026-01-15", "title": "x", "assistant": "chatgtp"}, "assistant"},
		{"injection in scope", map[string]any{"start": "2026-01-15", "title": "x", "channel": "whatsapp' OR 1=1 --"}, "channel"},
		{"javascript link", map[string]any{"start": "2026-01-15", "title": "x", "link": "javascript:alert(1)"}, "link"},
		{"bad id", map[string]any{"start": "2026-01-15", "title": "x", "id": "a'b"}, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := call(t, e, "POST", "/api/v1/annotations", adminToken, tc.body)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("%d %s, want 400 naming %q", rec.Code, rec.Body, tc.want)
			}
		})
	}
	for _, params := range []string{"?from=yesterday", "?to=2026-13-01", "?assistant=" + url.QueryEscape("chatgpt' OR 1=1 --"), "?format=xml", "?user_key=1"} {
		if rec := call(t, e, "GET", "/api/v1/annotations"+params, readToken, nil); rec.Code != 400 {
			t.Errorf("GET %s: %d %s, want 400", params, rec.Code, rec.Body)
		}
	}
	// Nothing was written by any of them.
	list, err := annotation.New(s, catalog.Registry{}).List(context.Background(), annotation.Filter{})
	if err != nil || len(list) != 0 {
		t.Errorf("after bad input: %d annotations, %v", len(list), err)
	}
}
