package queryapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

// TestDatesOutsideTheBoundsAre400: every date parameter is held to the
// catalog's date rule. Before, migration?date=9999-12-31 overflowed the
// store's Date columns (500), impact?date=0001-01-01 was taken for a
// missing date ("parameter date is required") and from=1990-01-01 passed
// the API's own check only as "from".
func TestDatesOutsideTheBoundsAre400(t *testing.T) {
	_, s := queryServer(t, Deps{})
	e := httpserver.New(quiet()).Echo
	api, err := New(Deps{Store: s, Log: quiet(), Annotations: annotation.New(s, catalog.Registry{})})
	if err != nil {
		t.Fatal(err)
	}
	api.Register(e.Group("/api/v1"))
	var h http.Handler = e
	for _, c := range []struct{ path, want string }{
		{"/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=9999-12-31", `date "9999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=2026-01-15&baseline=1999-12-31", `baseline "1999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"/api/v1/impact?date=0001-01-01&assistant=chatgpt&channel=whatsapp", `date "0001-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"/api/v1/series?from=1990-01-01&to=2026-01-05", `from "1990-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"/api/v1/retention?to=2101-01-01", `to "2101-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"/api/v1/dependency?from=1999-01-01", `from "1999-01-01": want a date from 2000-01-01 to 2100-12-31`},
	} {
		rec := apiGet(h, c.path, "")
		var body struct{ Error string }
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusBadRequest || body.Error != c.want {
			t.Errorf("%s: %d %s, want 400 %q", c.path, rec.Code, rec.Body, c.want)
		}
	}
}

// TestRangeAllStartsAtTheFirstEvent: range=all is read by the API too, from
// the first stored event (2025-12-01 in queryServer's data), not from the
// default launch day; so do retention, dependency and overlap.
func TestRangeAllStartsAtTheFirstEvent(t *testing.T) {
	_, s := queryServer(t, Deps{})
	e := httpserver.New(quiet()).Echo
	api, err := New(Deps{Store: s, Log: quiet(), Annotations: annotation.New(s, catalog.Registry{})})
	if err != nil {
		t.Fatal(err)
	}
	api.Register(e.Group("/api/v1"))
	for _, path := range []string{"/api/v1/series?range=all&interval=month", "/api/v1/retention?range=all&interval=month",
		"/api/v1/dependency?range=all&interval=month", "/api/v1/overlap?range=all&format=csv"} {
		rec := apiGet(e, path, "")
		if rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
			continue
		}
		if !strings.Contains(rec.Body.String(), "2025-12-01") || strings.Contains(rec.Body.String(), catalog.DefaultLaunch.Format(catalog.DateLayout)) {
			t.Errorf("%s does not start on 2025-12-01: %s", path, rec.Body.String()[:min(400, rec.Body.Len())])
		}
	}
}
