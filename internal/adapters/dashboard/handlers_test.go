package dashboard

import (
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/schema/schematest"

	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
	"github.com/adoptscope/adoptscope/views"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// testNow is "now" for every test: the data set ends the day before.
var testNow = time.Date(2026, 2, 11, 12, 0, 0, 0, time.UTC)

type ev struct {
	day       time.Time
	assistant string
	channel   string
	user      uint64
	modality  string
	linked    bool
	source    string
	at        time.Time // the event's time; zero: a time of day from its index
}

func day(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		panic(err)
	}
	return t
}

// smallDataSet: ChatGPT on WhatsApp until 2026-01-14, then some of its
// people on ChatGPT iOS and Meta AI on WhatsApp; steady users besides.
func smallDataSet() []ev {
	var out []ev
	each := func(from, to string, fn func(d time.Time)) {
		for d := day(from); !d.After(day(to)); d = d.AddDate(0, 0, 1) {
			fn(d)
		}
	}
	each("2026-01-01", "2026-01-14", func(d time.Time) {
		for u := uint64(1); u <= 10; u++ {
			m := "text"
			if u%3 == 0 {
				m = "voice"
			}
			out = append(out, ev{d, "chatgpt", "whatsapp", u, m, u <= 5, "panel", time.Time{}})
		}
	})
	each("2026-01-15", "2026-02-10", func(d time.Time) {
		for u := uint64(1); u <= 4; u++ {
			out = append(out, ev{d, "chatgpt", "ios", u, "text", true, "panel", time.Time{}})
		}
		for u := uint64(5); u <= 7; u++ {
			out = append(out, ev{d, "meta_ai", "whatsapp", u, "image", false, "demo", time.Time{}})
		}
	})
	each("2026-01-01", "2026-02-10", func(d time.Time) {
		for u := uint64(20); u < 20+uint64(d.Day()%5)+3; u++ {
			out = append(out, ev{d, "chatgpt", "ios", u, "text", false, "panel", time.Time{}})
		}
		for u := uint64(30); u < 35; u++ {
			if d.Weekday() != time.Sunday {
				out = append(out, ev{d, "meta_ai", "whatsapp", u, "text", false, "demo", time.Time{}})
			}
		}
	})
	return out
}

// insertEvents writes evs into events (the shared fixture), each at
// 10:00-17:00 of its day unless it names its time, and builds the rollups.
func insertEvents(t testing.TB, s *store.Store, evs []ev) {
	t.Helper()
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		ts := e.day.Add(time.Duration(10+i%8) * time.Hour)
		if !e.at.IsZero() {
			ts = e.at
		}
		rows[i] = schematest.Event{Time: ts, Assistant: e.assistant, Channel: e.channel, Modality: e.modality, Country: "BR",
			User: e.user, Count: 2, Linked: e.linked, Source: e.source}
	}
	schematest.InsertAndBuild(t, s, "e", rows)
}

type testApp struct {
	srv   *httptest.Server
	store *store.Store
	h     *Handler
}

func newTestApp(t testing.TB, users []auth.User, withData bool) *testApp {
	return newTestAppWith(t, users, withData, nil)
}

// newTestAppWith is newTestApp with the dashboard's options adjusted by
// opt (nil: none) before it is built.
func newTestAppWith(t testing.TB, users []auth.User, withData bool, opt func(*Deps)) *testApp {
	t.Helper()
	var evs []ev
	if withData {
		evs = smallDataSet()
	}
	return newTestAppEvents(t, users, evs, opt)
}

// testDeps are the required dependencies of a dashboard on s, built as
// internal/app builds them: the accounts users (none: anonymous admin) and
// the annotations of s against the default registries.
func testDeps(s *store.Store, users []auth.User) Deps {
	return Deps{Store: s, Auth: NewAuth(users, make([]byte, 32), auth.RoleAdmin),
		Annotations: annotation.New(s, catalog.Registry{}), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func mustNew(t testing.TB, d Deps) *Handler {
	t.Helper()
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestNewRefusesMissingDeps: the dashboard does not start without a
// required service, and says which.
func TestNewRefusesMissingDeps(t *testing.T) {
	full := Deps{Store: &store.Store{}, Auth: NewAuth(nil, make([]byte, 32), auth.RoleAdmin), Annotations: annotation.New(nil, catalog.Registry{})}
	if _, err := New(full); err != nil {
		t.Fatalf("New with every required dependency: %v", err)
	}
	for _, c := range []struct {
		field string
		drop  func(*Deps)
	}{
		{"Store", func(d *Deps) { d.Store = nil }},
		{"Auth", func(d *Deps) { d.Auth = nil }},
		{"Annotations", func(d *Deps) { d.Annotations = nil }},
	} {
		d := full
		c.drop(&d)
		h, err := New(d)
		if err == nil || h != nil {
			t.Errorf("New without %s: %v, %v; want an error", c.field, h, err)
			continue
		}
		if !strings.Contains(err.Error(), "Deps."+c.field) {
			t.Errorf("New without %s: %q does not name the field", c.field, err)
		}
	}
}

// newTestAppEvents is newTestApp on the events evs (none: an empty store).
func newTestAppEvents(t testing.TB, users []auth.User, evs []ev, opt func(*Deps)) *testApp {
	t.Helper()
	s := chtest.NewStore(t)
	if len(evs) > 0 {
		insertEvents(t, s, evs)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	o := testDeps(s, users)
	o.Now = func() time.Time { return testNow }
	if opt != nil {
		opt(&o)
	}
	h := mustNew(t, o)
	srv0 := httpserver.New(log)
	srv0.PageError = h.ErrorPage
	e := srv0.Echo
	h.Register(e)
	api, err := queryapi.New(queryapi.Deps{Store: s, Log: log, Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	api.Register(e.Group("/api/v1"))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &testApp{srv: srv, store: s, h: h}
}

func get(t testing.TB, c *http.Client, u string) (*http.Response, *goquery.Document, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	return resp, doc, string(body)
}

func tid(id string) string { return `[data-testid="` + id + `"]` }

// TestPages: every page answers 200 with the filters from the URL applied,
// a chart or an empty state per card, no error box.
func TestPages(t *testing.T) {
	app := newTestApp(t, nil, true)
	q := "range=custom&from=2026-01-05&to=2026-02-08&interval=week&assistant=chatgpt,meta_ai&channel=whatsapp&channel=ios&country=BR" // a country code is upper case, as ingest stores it (country=br is refused)
	scenarios := []struct {
		path   string
		charts []string // data-testid of chart cards that must hold a drawn chart
	}{
		{"/", []string{"chart-active-users", "chart-channel-mix"}},
		{"/compare", []string{"chart-channel-ios", "chart-channel-whatsapp", "chart-compare-table"}},
		{"/channel?focus=whatsapp", []string{"chart-channel-share", "chart-platform-dependency"}},
		{"/impact?date=2026-01-15&source_assistant=chatgpt&source_channel=whatsapp", []string{"chart-before-after", "chart-migration-sankey", "chart-migration-table"}},
		// Everyone began on 2026-01-01, before these dates: nobody is first
		// seen in them, an empty week has no row, and the card says so
		// (TestRetentionColourIsRate draws the heatmap).
		{"/retention", nil},
		{"/modalities", []string{"chart-modality-whatsapp", "chart-modality-ios"}},
		{"/annotations", nil},
		{"/ingest", nil},
	}
	for _, sc := range scenarios {
		t.Run(sc.path, func(t *testing.T) {
			u := app.srv.URL + sc.path
			if strings.Contains(u, "?") {
				u += "&" + q
			} else {
				u += "?" + q
			}
			resp, doc, body := get(t, nil, u)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "'nonce-") {
				t.Errorf("CSP %q", csp)
			}
			if sc.path == "/retention" && !strings.Contains(doc.Find(tid("chart-retention")).Text(), "Nobody was first seen") {
				t.Errorf("retention card %q: want it to say nobody was first seen in these dates", doc.Find(tid("chart-retention")).Text())
			}
			if n := doc.Find(tid("chart-error")).Length(); n > 0 {
				t.Errorf("%d error boxes: %s", n, doc.Find(tid("chart-error")).First().Text())
			}
			for _, c := range sc.charts {
				card := doc.Find(tid(c))
				if card.Length() != 1 {
					t.Errorf("chart card %s: found %d", c, card.Length())
					continue
				}
				if card.Find(".chart[data-chart]").Length() == 0 && card.Find("table").Length() == 0 {
					t.Errorf("chart card %s has neither chart nor table: %s", c, card.Text())
				}
				if csv, ok := card.Find(`a[download]`).Attr("href"); ok && !strings.HasPrefix(csv, "/api/v1/") && !strings.HasPrefix(csv, "/channel/dependency.csv?") {
					t.Errorf("%s CSV link %q", c, csv)
				}
			}
			if doc.Find(tid("filters")).Length() == 1 {
				if v, _ := doc.Find(tid("filter-from")).Attr("value"); v != "2026-01-05" {
					t.Errorf("from = %q", v)
				}
				if v, _ := doc.Find(tid("filter-to")).Attr("value"); v != "2026-02-08" {
					t.Errorf("to = %q", v)
				}
				if v := doc.Find(tid("filter-interval")+" option[selected]").AttrOr("value", ""); v != "week" {
					t.Errorf("interval = %q", v)
				}
				for _, want := range []string{"chatgpt", "meta_ai"} {
					if doc.Find(`input[name=assistant][value=`+want+`][checked]`).Length() != 1 {
						t.Errorf("assistant %s not checked", want)
					}
				}
				if doc.Find(`input[name=assistant][value=copilot][checked]`).Length() != 0 {
					t.Error("copilot checked")
				}
				if v, _ := doc.Find(tid("filter-country")).Attr("value"); v != "BR" {
					t.Errorf("country = %q", v)
				}
			}
			// Every CSV link carries the filters of the page.
			if doc.Find(tid("filters")).Length() == 0 {
				return
			}
			doc.Find(`a[download]`).Each(func(_ int, a *goquery.Selection) {
				href := a.AttrOr("href", "")
				if !strings.Contains(href, "series") {
					return
				}
				u, _ := url.Parse(href)
				if u.Query().Get("from") != "2026-01-05" || u.Query().Get("country") != "BR" || u.Query().Get("format") != "csv" {
					t.Errorf("CSV link without the filters: %s", href)
				}
			})
		})
	}
}

// TestAnnotationEscaped: a title that is HTML shows as text, on the list
// and in the chart options.
func TestAnnotationEscaped(t *testing.T) {
	app := newTestApp(t, nil, true)
	const evil = `<script>alert(1)</script>`
	if _, err := annotation.New(app.store, catalog.Registry{}).Save(context.Background(), annotation.Annotation{Start: "2026-01-15", Title: evil, Text: `"><img src=x onerror=alert(2)>`, Kind: "shutdown"}); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/annotations", "/?from=2026-01-01&to=2026-02-10", "/impact"} {
		_, doc, body := get(t, nil, app.srv.URL+path)
		if strings.Contains(body, evil) || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: the title reached the page as markup", path)
		}
		if path == "/annotations" {
			if got := doc.Find(tid("annotation-title")).First().Text(); got != evil {
				t.Errorf("title shown as %q", got)
			}
		}
	}
}

// TestChartFailureIsolated: with the store gone every chart shows a
// readable error box and the page still renders.
func TestChartFailureIsolated(t *testing.T) {
	app := newTestApp(t, nil, false)
	ctx := context.Background()
	if err := app.store.Conn.Exec(ctx, "DROP DATABASE "+app.store.Database); err != nil {
		t.Fatal(err)
	}
	resp, doc, body := get(t, nil, app.srv.URL+"/compare")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if doc.Find(tid("chart-error")).Length() == 0 {
		t.Errorf("no error box: %s", body)
	}
	if strings.Contains(body, "goroutine ") || strings.Contains(body, ".go:") {
		t.Error("stack trace on the page")
	}
	if doc.Find(tid("filters")).Length() != 1 {
		t.Error("the rest of the page did not render")
	}
}

func TestEmptyState(t *testing.T) {
	app := newTestApp(t, nil, false)
	_, doc, _ := get(t, nil, app.srv.URL+"/")
	if doc.Find(tid("chart-empty")).Length() == 0 {
		t.Error("no empty state")
	}
	if doc.Find(tid("demo-badge")).Length() != 0 {
		t.Error("demo badge without demo data")
	}
}

func TestDemoBadge(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/?from=2026-01-01&to=2026-02-10")
	if doc.Find(tid("demo-badge")).Length() != 1 {
		t.Error("no demo badge with demo events in range")
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/?from=2025-01-01&to=2025-02-10")
	if doc.Find(tid("demo-badge")).Length() != 0 {
		t.Error("demo badge for a range without demo events")
	}
}

func TestStaticCaching(t *testing.T) {
	app := newTestApp(t, nil, false)
	resp, err := http.Get(app.srv.URL + views.StaticURL("echarts.min.js"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("status %d, cache %q, type %q", resp.StatusCode, resp.Header.Get("Cache-Control"), resp.Header.Get("Content-Type"))
	}
}

// The Ingest page says how many stored events the charts do not show yet.
func TestIngestPageShowsEventsNotInTheChartsYet(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/ingest")
	if got := doc.Find(tid("ingest-pending")).Text(); got != "none" {
		t.Errorf("after a build: %q", got)
	}
	if got := doc.Find(tid("ingest-totals") + " .note").Text(); got != "The charts read rollups built from the stored events every 5s, and within 1m after a burst of ingest." {
		t.Errorf("schedule note: %q", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 3 {
		if err := app.store.Conn.Exec(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source) SELECT ?, now(), now(), 'chatgpt', 'web', 'message', 'text', 7, 'FR', 1, 0, 'test'", fmt.Sprint("late-", i)); err != nil {
			t.Fatal(err)
		}
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/ingest")
	if got := doc.Find(tid("ingest-pending")).Text(); !strings.HasPrefix(got, "3 (oldest ") {
		t.Errorf("3 events not built yet: %q", got)
	}
}

func TestScheduleText(t *testing.T) {
	for _, c := range []struct {
		interval, maxLag time.Duration
		want             string
	}{
		{5 * time.Second, time.Minute, "every 5s, and within 1m after a burst of ingest"},
		{1500 * time.Millisecond, 2 * time.Hour, "every 1.5s, and within 2h after a burst of ingest"},
		{10 * time.Minute, time.Minute, "every 10m"},
		{90 * time.Second, 90 * time.Second, "every 1m30s"},
	} {
		if got := scheduleText(c.interval, c.maxLag); got != c.want {
			t.Errorf("scheduleText(%s, %s) = %q, want %q", c.interval, c.maxLag, got, c.want)
		}
	}
}
