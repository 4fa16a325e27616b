package queryapi

import (
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// TestCSVDownloadNamedLikeScheduledFiles: a CSV answer (the dashboard's
// "Download CSV" links here) is named <name>_<first day>_<last day>.csv
// like a scheduled file, the metric or view in the export's place, and
// _synthetic exactly when the days read hold demo events, by the
// scheduler's own check.
func TestCSVDownloadNamedLikeScheduledFiles(t *testing.T) {
	s := chtest.NewStore(t)
	var rows []schematest.Event
	for d := 0; d < 21; d++ {
		at := time.Date(2026, 1, 5+d, 10, 0, 0, 0, time.UTC)
		rows = append(rows, schematest.Event{Time: at, Assistant: "chatgpt", Channel: "whatsapp", User: uint64(d%4 + 1)},
			schematest.Event{Time: at.Add(time.Hour), Assistant: "meta_ai", Channel: "whatsapp", User: uint64(d%3 + 10)})
	}
	// One demo event, on 20 January.
	rows = append(rows, schematest.Event{Time: time.Date(2026, 1, 20, 9, 0, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "web", User: 99, Source: query.DemoSource})
	schematest.InsertAndBuild(t, s, "n", rows)
	e := httpserver.New(quiet()).Echo
	mustNew(t, Deps{Store: s, Log: quiet()}).Register(e.Group("/api/v1"))

	for _, c := range []struct{ target, name, header string }{
		{"/api/v1/series?metric=active_users&interval=week&from=2026-01-05&to=2026-01-18&assistant=meta_ai,chatgpt&format=csv",
			"active_users_2026-01-05_2026-01-18.csv", "period,value,complete,tz,filter_assistant\r\n2026-01-05,"},
		{"/api/v1/series?metric=events&interval=day&from=2026-01-12&to=2026-01-25&tz=Europe/Paris&channel=whatsapp&format=csv",
			"events_2026-01-12_2026-01-25_synthetic.csv", "period,value,complete,tz,filter_channel\r\n2026-01-12,"},
		{"/api/v1/retention?interval=week&from=2026-01-05&to=2026-01-25&format=csv", "retention_2026-01-05_2026-01-25_synthetic.csv", "cohort,"},
		{"/api/v1/dependency?interval=week&from=2026-01-05&to=2026-01-11&format=csv", "dependency_2026-01-05_2026-01-11.csv", "period,"},
		{"/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=2026-01-10&before_days=3&after_days=5&format=csv",
			"migration_2026-01-07_2026-01-15.csv", "outcome,"},
		{"/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=2026-01-10&before_days=3&after_days=14&format=csv",
			"migration_2026-01-07_2026-01-24_synthetic.csv", "outcome,"},
	} {
		rec := apiGet(e, c.target, "")
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", c.target, rec.Code, rec.Body)
		}
		if got := rec.Header().Get("Content-Disposition"); got != `attachment; filename="`+c.name+`"` {
			t.Errorf("%s: Content-Disposition %q, want file name %s", c.target, got, c.name)
		}
		if !strings.HasPrefix(rec.Body.String(), c.header) {
			t.Errorf("%s: body %q, want it to start %q", c.target, rec.Body.String(), c.header)
		}
	}
	// The same name a scheduled export of that name writes for those days.
	if n := (export.Export{Name: "active_users"}).FileName(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 18, 0, 0, 0, 0, time.UTC), false); n != "active_users_2026-01-05_2026-01-18.csv" {
		t.Errorf("scheduled name %s", n)
	}
}
