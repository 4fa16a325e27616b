package queryapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// localGet is apiGet addressed to localhost (the server answers only its
// own names).
func localGet(h http.Handler, target string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Host = "localhost" // httptest's example.com is a foreign host name
	req.Host = "localhost"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestUnknownValuesAre400: a slug that is not in the registry is a 400
// naming the known values, on every endpoint that takes it.
func TestUnknownValuesAre400(t *testing.T) {
	h, _ := queryServer(t, Deps{})
	for _, tc := range []struct{ path, want string }{
		{"/api/v1/series?assistant=bard", `unknown assistant "bard" (known: chatgpt, copilot, meta_ai, perplexity)`},
		{"/api/v1/series?assistant=chatgtp&format=csv", `unknown assistant "chatgtp"`},
		{"/api/v1/series?channel=fax", `unknown channel "fax" (known: `},
		{"/api/v1/series?event_type=click", `unknown event type "click" (known: account_linked, message, session_start, signup)`},
		{"/api/v1/series?modality=video", `unknown modality "video" (known: file, image, image_generation, text, voice)`},
		{"/api/v1/migration?assistant=bard&channel=whatsapp&date=2026-01-15", `unknown assistant "bard"`},
		{"/api/v1/retention?channel=fax", `unknown channel "fax"`},
		{"/api/v1/dependency?assistant=bard", `unknown assistant "bard"`},
		{"/api/v1/kpis?channel=fax", `unknown channel "fax"`},
	} {
		rec := localGet(h, tc.path)
		if body := strings.ReplaceAll(rec.Body.String(), `\"`, `"`); rec.Code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.path, rec.Code, rec.Body.String(), tc.want)
		}
	}
	for _, path := range []string{"/api/v1/series?assistant=meta_ai&channel=whatsapp", "/api/v1/kpis", "/api/v1/freshness",
		"/api/v1/dependency?interval=week&from=2026-01-05&to=2026-02-01", "/api/v1/dependency?format=csv&from=2026-01-05&to=2026-02-01"} {
		if rec := localGet(h, path); rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
	rec := localGet(h, "/api/v1/series?from=2026-01-05&to=2026-01-11")
	var body struct {
		DataThrough *string `json:"data_through"`
		Rows        []struct {
			Complete *bool `json:"complete"`
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.DataThrough == nil || len(body.Rows) == 0 || body.Rows[0].Complete == nil || !*body.Rows[0].Complete {
		t.Errorf("series JSON without data_through or complete: %s", rec.Body.String())
	}
}
