//go:build compat

// Package compat_test runs the product's own SQL on ClickHouse 26.9 (chDB,
// behind chdb_front.py) and on 18.16 (the test server of chtest), on the same
// fixture events, and compares every answer. See README.md.
package compat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// pair is the same database on both engines.
type pair struct {
	t        *testing.T
	old, cur *store.Store // 18.16 over native, 26.9 over HTTP
	compared int          // result sets found equal
	differ   int          // steps whose answers differ
}

// answer is what one engine gave for one step: a text rendering of the
// result, or the error.
type answer struct {
	out string
	err error
}

// same runs fn on both engines and fails the test when the answers differ.
// A step that both refuse with the product's own parameter error counts as
// compared; a server error on either side is a failure.
func (p *pair) same(name string, fn func(s *store.Store) (string, error)) {
	p.t.Helper()
	var a [2]answer
	for i, s := range []*store.Store{p.old, p.cur} {
		a[i].out, a[i].err = fn(s)
	}
	if a[0].err != nil || a[1].err != nil {
		var pe *query.ParamError
		if a[0].err != nil && a[1].err != nil && errorsAs(a[0].err, &pe) && a[0].err.Error() == a[1].err.Error() {
			p.compared++
			return
		}
		p.t.Errorf("%s:\n  18.16: %v\n  26.9:  %v", name, a[0].err, a[1].err)
		p.differ++
		return
	}
	if a[0].out != a[1].out {
		p.t.Errorf("%s: the engines disagree\n%s", name, diff(a[0].out, a[1].out))
		p.differ++
		return
	}
	p.compared++
}

func diff(old, cur string) string {
	ol, cl := strings.Split(old, "\n"), strings.Split(cur, "\n")
	for i := 0; i < max(len(ol), len(cl)); i++ {
		var o, c string
		if i < len(ol) {
			o = ol[i]
		}
		if i < len(cl) {
			c = cl[i]
		}
		if o != c {
			return fmt.Sprintf("  first difference, line %d:\n  18.16: %.400s\n  26.9:  %.400s", i+1, o, c)
		}
	}
	return "  (same lines)"
}

var (
	assistants = []string{"chatgpt", "copilot", "meta_ai", "perplexity"}
	channels   = []string{"whatsapp", "web", "ios"}
	countries  = []string{"FR", "DE", "US"}
	modalities = []string{"text", "voice", "image"}
	eventTypes = []string{"message", "message", "message", "session_start", "signup", "account_linked"}
	rangeFrom  = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)  // a Monday
	rangeTo    = time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC) // a Sunday: 12 whole weeks
)

// fixture is the events both engines receive: 160 people, each with a
// favourite assistant and channel, active on some days of the range and
// some switching assistant half-way (what migration and retention measure).
// Deterministic (fixed seed).
func fixture() []ingest.Input {
	r := rand.New(rand.NewPCG(16, 26))
	var in []ingest.Input
	days := int(rangeTo.Sub(rangeFrom).Hours()/24) + 1
	for u := 0; u < 160; u++ {
		fav, ch, ctry := assistants[u%4], channels[u%3], countries[u%3]
		start := r.IntN(days / 2)
		for d := start; d < days; d++ {
			if r.IntN(3) != 0 {
				continue
			}
			a := fav
			if d > days/2 && u%5 == 0 {
				a = assistants[(u+1)%4] // moved to another assistant
			}
			for k := 0; k < 1+r.IntN(3); k++ {
				at := rangeFrom.AddDate(0, 0, d).Add(time.Duration(r.IntN(86400)) * time.Second)
				in = append(in, ingest.Input{
					EventID: fmt.Sprintf("e-%d-%d-%d", u, d, k), Time: at, Assistant: a, Channel: ch,
					UserID: fmt.Sprintf("user-%d", u), EventType: eventTypes[r.IntN(len(eventTypes))],
					Modality: modalities[r.IntN(3)], Country: ctry, Count: uint32(1 + r.IntN(4)),
					Linked: u%7 == 0 && d > start+3, Source: "compat",
				})
			}
		}
	}
	return in
}

func TestProductSQLOn26_9MatchesOn18_16(t *testing.T) {
	f := startFront(t)
	p := &pair{t: t, old: chtest.NewEmptyStore(t)}
	p.cur = f.open(t, p.old.Database, nil)
	ctx := context.Background()

	var engine string
	if err := p.cur.Conn.QueryRow(ctx, "SELECT version()").Scan(&engine); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(engine, "26.9.") || p.cur.Version.Major != 26 {
		t.Fatalf("the front runs ClickHouse %s (store sees %s), want 26.9.x", engine, p.cur.Version)
	}
	t.Logf("engines: ClickHouse %s (chDB, HTTP) and %s (server, native); features on 26.9: %s", engine, p.old.Version, p.cur.Features())

	// Every migration as rendered for a single server, applied by the
	// product's Migrate; then the schemas must agree column by column.
	for _, s := range []*store.Store{p.old, p.cur} {
		if _, err := schema.Migrate(ctx, s, chtest.Logger()); err != nil {
			t.Fatalf("migrate on %s: %v", s.Version, err)
		}
	}
	p.same("schema: tables and columns", func(s *store.Store) (string, error) {
		return rowsText(ctx, s, "SELECT table, name, type, default_kind, default_expression FROM system.columns WHERE database = ? AND table NOT LIKE 'rollup_lease%' ORDER BY table, name", s.Database)
	})
	p.same("schema: engines", func(s *store.Store) (string, error) {
		return rowsText(ctx, s, "SELECT name, engine FROM system.tables WHERE database = ? ORDER BY name", s.Database)
	})

	testIngest(t, p)
	testRollups(t, p)
	testSeries(t, p)
	testMigrationRetention(t, p)
	testAnnotations(t, p)
	testExports(t, p)

	st := f.stats(t)
	t.Logf("compared on ClickHouse %s: %d statements run on 26.9 (%d refused), %d result sets compared with 18.16 %s",
		engine, st.Statements, st.Failed, p.compared, p.old.Version)
	fmt.Printf("compat: ClickHouse %s (chDB %s) vs %s: %d statements of the product run on 26.9, %d result sets compared, %d differences\n",
		engine, chdbVersion(), p.old.Version, st.Statements, p.compared, p.differ)
}

func chdbVersion() string {
	out, err := exec.Command(os.Getenv("ADOPTSCOPE_COMPAT_PYTHON"), "-c", "import chdb; print(chdb.__version__)").Output()
	if err != nil {
		return "chdb-core ?"
	}
	return "chdb-core " + strings.TrimSpace(string(out))
}

func testIngest(t *testing.T, p *pair) {
	ctx := context.Background()
	in := fixture()
	pipes := map[*store.Store]*ingest.Pipeline{}
	for _, s := range []*store.Store{p.old, p.cur} {
		pl, err := ingest.NewPipeline(s, ingest.Config{Secret: []byte("compat-secret-0123456789abcdef"), FlushInterval: 20 * time.Millisecond}, chtest.Logger())
		if err != nil {
			t.Fatal(err)
		}
		pipes[s] = pl
		t.Cleanup(func() {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pl.Close(cctx)
		})
	}
	third := len(in) / 3
	batches := [][]ingest.Input{in[:third], in[third : 2*third], in[2*third:], in[:200], append(append([]ingest.Input{}, in[third-50:third]...), in[len(in)-20:]...)}
	for i, b := range batches {
		p.same(fmt.Sprintf("ingest: batch %d (%d events; 4 and 5 repeat stored ids: the dedup lookup)", i+1, len(b)), func(s *store.Store) (string, error) {
			res, err := pipes[s].Submit(ctx, b)
			return fmt.Sprintf("accepted=%d duplicates=%d rejected=%d errors=%v", res.Accepted, res.Duplicates, res.Rejected, res.Errors), err
		})
	}
	p.same("ingest: idempotency store and lookup", func(s *store.Store) (string, error) {
		pl := pipes[s]
		if err := pl.StoreIdempotent(ctx, "token-a", "key-1", ingest.Idempotent{Status: 202, Body: []byte(`{"accepted":3}`)}); err != nil {
			return "", err
		}
		var out []string
		for _, k := range [][2]string{{"token-a", "key-1"}, {"token-a", "key-2"}, {"token-b", "key-1"}} {
			got, err := pl.LookupIdempotent(ctx, k[0], k[1])
			if err != nil {
				return "", err
			}
			if got == nil {
				out = append(out, k[0]+"/"+k[1]+": none")
			} else {
				out = append(out, fmt.Sprintf("%s/%s: %d %s", k[0], k[1], got.Status, got.Body))
			}
		}
		return strings.Join(out, "\n"), nil
	})
	// The truth, from the inputs: every event stored once.
	var sum uint64
	for _, e := range in {
		sum += uint64(e.Count)
	}
	want := fmt.Sprintf("%d\t%d\n", len(in), sum)
	for _, s := range []*store.Store{p.old, p.cur} {
		got, err := rowsText(ctx, s, "SELECT count(), sum(count) FROM events")
		if err != nil || got != want {
			t.Fatalf("events on %s: %q, %v; want %q (the fixture's count and sum)", s.Version, got, err, want)
		}
	}
}

func testRollups(t *testing.T, p *pair) {
	ctx := context.Background()
	// Time zones with rollups of their own (migration 0210): Europe/Paris
	// registered before the events are built (fed by the windows),
	// Asia/Kolkata after (backfilled from events, month by month).
	for _, s := range []*store.Store{p.old, p.cur} {
		if err := s.Conn.Exec(ctx, "INSERT INTO rollup_zones (tz, state, since, backfilled_through, updated) SELECT 'Europe/Paris', 'built', toDateTime(0), toDate('1970-01-01'), 1"); err != nil {
			t.Fatalf("register Europe/Paris on %s: %v", s.Version, err)
		}
		if err := rollup.BuildAll(ctx, s, chtest.Logger()); err != nil {
			t.Fatalf("build the rollups on %s: %v", s.Version, err)
		}
		if _, err := rollup.New(s, rollup.Config{Zones: []string{"Europe/Paris", "Asia/Kolkata"}}, chtest.Logger()).CatchUp(ctx); err != nil {
			t.Fatalf("backfill Asia/Kolkata on %s: %v", s.Version, err)
		}
	}
	p.same("rollup: pending after the build", func(s *store.Store) (string, error) {
		pd, err := rollup.PendingOf(ctx, s)
		return fmt.Sprint(pd.Rows), err
	})
	for _, q := range []string{
		"SELECT day, assistant, channel, country, uniqMerge(users) FROM rollup_users_day GROUP BY day, assistant, channel, country ORDER BY day, assistant, channel, country",
		"SELECT week, assistant, channel, country, uniqMerge(users) FROM rollup_users_week GROUP BY week, assistant, channel, country ORDER BY week, assistant, channel, country",
		"SELECT month, assistant, channel, country, uniqMerge(users) FROM rollup_users_month GROUP BY month, assistant, channel, country ORDER BY month, assistant, channel, country",
		"SELECT day, assistant, channel, country, modality, event_type, sum(events) FROM rollup_events_day GROUP BY day, assistant, channel, country, modality, event_type ORDER BY day, assistant, channel, country, modality, event_type",
		"SELECT day, assistant, channel, country, user_key, sum(events), sum(linked_events), sum(account_links) FROM rollup_person_day GROUP BY day, assistant, channel, country, user_key ORDER BY day, assistant, channel, country, user_key",
		"SELECT day, sum(events) FROM rollup_version_day GROUP BY day ORDER BY day",
		"SELECT assistant, channel, country, user_key, minMerge(first), minIfMerge(linked) FROM rollup_first_seen GROUP BY assistant, channel, country, user_key ORDER BY assistant, channel, country, user_key",
		"SELECT sum(rows) FROM rollup_windows", // how many windows depends on timing, not on the engine
		"SELECT tz, argMax(state, updated), argMax(backfilled_through, updated) FROM rollup_zones GROUP BY tz ORDER BY tz",
		"SELECT tz, day, assistant, channel, country, uniqMerge(users) FROM rollup_zone_users_day GROUP BY tz, day, assistant, channel, country ORDER BY tz, day, assistant, channel, country",
		"SELECT tz, week, assistant, channel, country, uniqMerge(users) FROM rollup_zone_users_week GROUP BY tz, week, assistant, channel, country ORDER BY tz, week, assistant, channel, country",
		"SELECT tz, month, assistant, channel, country, uniqMerge(users) FROM rollup_zone_users_month GROUP BY tz, month, assistant, channel, country ORDER BY tz, month, assistant, channel, country",
		"SELECT tz, day, assistant, channel, country, modality, event_type, sum(events) FROM rollup_zone_events_day GROUP BY tz, day, assistant, channel, country, modality, event_type ORDER BY tz, day, assistant, channel, country, modality, event_type",
		"SELECT DISTINCT tz, day, assistant, channel, country, user_key FROM rollup_zone_person_day ORDER BY tz, day, assistant, channel, country, user_key",
		"SELECT DISTINCT week, assistant, channel, country, user_key FROM rollup_person_week ORDER BY week, assistant, channel, country, user_key",
		"SELECT DISTINCT month, assistant, channel, country, user_key FROM rollup_person_month ORDER BY month, assistant, channel, country, user_key",
		"SELECT DISTINCT tz, week, assistant, channel, country, user_key FROM rollup_zone_person_week ORDER BY tz, week, assistant, channel, country, user_key",
		"SELECT DISTINCT tz, month, assistant, channel, country, user_key FROM rollup_zone_person_month ORDER BY tz, month, assistant, channel, country, user_key",
		"SELECT tz, assistant, channel, country, user_key, minMerge(first) FROM rollup_zone_first_seen GROUP BY tz, assistant, channel, country, user_key ORDER BY tz, assistant, channel, country, user_key",
		"SELECT tz, day, sum(events) FROM rollup_zone_version_day GROUP BY tz, day ORDER BY tz, day",
		"SELECT tz, day, grain, assistant, channel, country, argMax(users, version), max(version) FROM rollup_zone_users_final GROUP BY tz, day, grain, assistant, channel, country ORDER BY tz, day, grain, assistant, channel, country",
	} {
		p.same("rollup: "+q, func(s *store.Store) (string, error) {
			return rowsText(ctx, s, q)
		})
	}
	p.same("rollup: finalize the daily finals", func(s *store.Store) (string, error) {
		n, err := rollup.Finalize(ctx, s, 400)
		return fmt.Sprint(n), err
	})
	p.same("rollup: the finals", func(s *store.Store) (string, error) {
		return rowsText(ctx, s, "SELECT day, grain, assistant, channel, country, argMax(users, version), max(version) FROM rollup_users_final GROUP BY day, grain, assistant, channel, country ORDER BY day, grain, assistant, channel, country")
	})
}

// seriesRequests are the query layer's series requests the suite asks:
// every metric × interval × by, each metric × filter kind × interval,
// compare, exact, a time zone, an odd range and share_of.
func seriesRequests() []url.Values {
	base := func(m, iv string) url.Values {
		return url.Values{"metric": {m}, "interval": {iv}, "from": {rangeFrom.Format(catalog.DateLayout)}, "to": {rangeTo.Format(catalog.DateLayout)}}
	}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = append([]string{}, vs...)
		}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	bys := []string{"", "assistant", "channel", "country", "modality", "event_type", "assistant,channel", "assistant,channel,country"}
	filters := [][2]string{{"assistant", "chatgpt"}, {"channel", "web,ios"}, {"country", "FR"}, {"modality", "voice"}, {"event_type", "message"}}
	var out []url.Values
	for _, m := range query.MetricNames() {
		for _, iv := range query.Intervals {
			b := base(m, string(iv))
			for _, by := range bys {
				out = append(out, with(b, "by", by))
			}
			for _, f := range filters {
				out = append(out, with(b, f[0], f[1]), with(b, f[0], f[1], "by", "assistant"))
			}
			out = append(out,
				with(b, "compare", "previous"), with(b, "compare", "previous", "by", "channel"),
				with(b, "exact", "true"), with(b, "exact", "true", "by", "assistant,country"),
				with(b, "tz", "Europe/Paris"), with(b, "tz", "America/New_York", "by", "assistant"),
				with(b, "tz", "Asia/Kolkata", "by", "assistant,channel"), with(b, "tz", "Asia/Kolkata", "exact", "true", "channel", "web"),
				with(b, "from", "2026-01-07", "to", "2026-02-19"), with(b, "from", "2026-01-07", "to", "2026-02-19", "by", "channel", "country", "DE"),
			)
		}
	}
	for _, iv := range query.Intervals {
		out = append(out, with(base("share", string(iv)), "by", "assistant,channel", "share_of", "channel"))
	}
	return out
}

func testSeries(t *testing.T, p *pair) {
	ctx := context.Background()
	for i, v := range seriesRequests() {
		p.same("series "+v.Encode(), func(s *store.Store) (string, error) {
			r, err := query.ParseSeries(v)
			if err != nil {
				return "", err
			}
			res, err := query.Series(ctx, s, r)
			if err != nil {
				return "", err
			}
			var b bytes.Buffer
			if err := query.WriteSeriesJSON(&b, res); err != nil {
				return "", err
			}
			return b.String(), nil
		})
		if i%7 != 0 {
			continue // the CSV path runs the same SQL; a sample of it is enough
		}
		p.same("export CSV series "+v.Encode(), func(s *store.Store) (string, error) {
			var b bytes.Buffer
			err := query.ExportCSV(ctx, s, query.EndpointSeries, v, &b)
			return b.String(), err
		})
	}
	p.same("demo data present", func(s *store.Store) (string, error) {
		ok, err := query.HasDemoData(ctx, s, rangeFrom, rangeTo)
		return fmt.Sprint(ok), err
	})
}

func testMigrationRetention(t *testing.T, p *pair) {
	ctx := context.Background()
	for _, a := range assistants {
		for _, ch := range channels {
			for _, days := range [][2]string{{"28", "28"}, {"7", "35"}} {
				v := url.Values{"assistant": {a}, "channel": {ch}, "date": {"2026-02-16"}, "before_days": {days[0]}, "after_days": {days[1]}}
				p.same("migration "+v.Encode(), func(s *store.Store) (string, error) {
					var b bytes.Buffer
					err := query.ExportCSV(ctx, s, query.EndpointMigration, v, &b)
					return b.String(), err
				})
			}
		}
	}
	for _, iv := range []string{"week", "month"} {
		for _, f := range [][2]string{{"", ""}, {"assistant", "copilot"}, {"channel", "whatsapp,web"}, {"country", "US"}} {
			v := url.Values{"interval": {iv}, "from": {rangeFrom.Format(catalog.DateLayout)}, "to": {rangeTo.Format(catalog.DateLayout)}}
			if f[0] != "" {
				v.Set(f[0], f[1])
			}
			p.same("retention "+v.Encode(), func(s *store.Store) (string, error) {
				r, err := query.ParseRetention(v)
				if err != nil {
					return "", err
				}
				res, err := query.Retention(ctx, s, r)
				if err != nil {
					return "", err
				}
				var b bytes.Buffer
				err = query.WriteRetentionJSON(&b, res)
				return b.String(), err
			})
		}
	}
}

func testAnnotations(t *testing.T, p *pair) {
	ctx := context.Background()
	notes := []annotation.Annotation{
		{ID: "a1", Start: "2026-02-01", End: "2026-02-01", Title: "launch", Kind: "launch", RealWorld: true},
		{ID: "a2", Start: "2026-02-10", End: "2026-02-20", Title: "campaign", Assistant: "chatgpt", Kind: "feature"},
		{ID: "a3", Start: "2026-03-01", End: "2026-03-01", Title: "outage", Assistant: "copilot", Channel: "web", Kind: "shutdown"},
	}
	render := func(as []annotation.Annotation) string {
		var out []string
		for _, a := range as {
			out = append(out, fmt.Sprintf("%s %s..%s %q %s/%s %s %v", a.ID, a.Start, a.End, a.Title, a.Assistant, a.Channel, a.Kind, a.RealWorld))
		}
		sort.Strings(out)
		return strings.Join(out, "\n")
	}
	p.same("annotations: save, edit, delete", func(s *store.Store) (string, error) {
		svc := annotation.New(s, catalog.Registry{})
		for _, a := range notes {
			if _, err := svc.Save(ctx, a); err != nil {
				return "", err
			}
		}
		edited := notes[1]
		edited.Title = "campaign, extended"
		edited.End = "2026-02-25"
		if _, err := svc.Save(ctx, edited); err != nil {
			return "", err
		}
		if err := svc.Delete(ctx, "a3"); err != nil {
			return "", err
		}
		a, err := svc.Get(ctx, "a2")
		return render([]annotation.Annotation{a}), err
	})
	for _, f := range []annotation.Filter{{}, {From: "2026-02-15", To: "2026-03-31"}, {Assistant: "chatgpt"}, {Assistant: "copilot", Channel: "web"}} {
		p.same(fmt.Sprintf("annotations: list %+v", f), func(s *store.Store) (string, error) {
			as, err := annotation.New(s, catalog.Registry{}).List(ctx, f)
			return render(as), err
		})
	}
}

func testExports(t *testing.T, p *pair) {
	ctx := context.Background()
	at := time.Date(2026, 3, 30, 6, 0, 0, 0, time.UTC)
	exports := []export.Export{
		{Name: "dau", Kind: "series", Query: "metric=active_users&interval=day&by=assistant", Range: "previous_week", Schedule: "0 6 * * 1", CreatedAt: at},
		{Name: "events-month", Kind: "series", Query: "metric=events&interval=month&by=channel", Range: "since:2026-01-01", Schedule: "0 6 * * 1", CreatedAt: at},
		{Name: "moves", Kind: "migration", Query: "assistant=chatgpt&channel=web&date=2026-02-16", Range: "since:2026-01-05", Schedule: "0 6 * * 1", CreatedAt: at},
		{Name: "cohorts", Kind: "retention", Query: "interval=week", Range: "since:2026-01-05", Schedule: "0 6 * * 1", CreatedAt: at},
	}
	for _, e := range exports {
		p.same("export run "+e.Name, func(s *store.Store) (string, error) {
			root := filepath.Join(p.t.TempDir(), "exports")
			r := &export.Runner{Store: export.NewStore(s), Source: export.QuerySource{S: s}, Root: root, Claimer: "compat", Log: chtest.Logger()}
			r.Now = func() time.Time { return at }
			e := e
			if err := r.Store.Create(ctx, &e); err != nil {
				return "", err
			}
			run, err := r.Run(ctx, e, at, 1, "manual")
			if err != nil {
				return "", err
			}
			runs, err := r.Store.Runs(ctx, e.ID, 10)
			if err != nil {
				return "", err
			}
			got, err := r.Store.ByName(ctx, e.Name)
			if err != nil {
				return "", err
			}
			file, err := os.ReadFile(filepath.Join(root, e.Name, run.File))
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("export %s %s %s; runs %d, last %s %s..%s rows=%d bytes=%d file=%s\n%s",
				got.Name, got.Kind, got.Query, len(runs), run.Status, run.PeriodFrom, run.PeriodTo, run.Rows, run.Bytes, run.File, file), nil
		})
	}
	p.same("export list", func(s *store.Store) (string, error) {
		list, err := export.NewStore(s).List(ctx)
		var names []string
		for _, e := range list {
			names = append(names, e.Name+" "+string(e.Range))
		}
		sort.Strings(names)
		return strings.Join(names, "\n"), err
	})
}

// rowsText renders a query's rows, one line per row, values as fmt prints
// them (the test's own reads of the product's tables).
func rowsText(ctx context.Context, s *store.Store, q string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rows, err := s.Conn.Query(ctx, q, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var b strings.Builder
	cols := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = newOf(c.ScanType())
		}
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		for i, v := range vals {
			if i > 0 {
				b.WriteByte('\t')
			}
			fmt.Fprint(&b, deref(v))
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

// newOf returns a pointer to a new value of t, for Scan.
func newOf(t reflect.Type) any { return reflect.New(t).Interface() }

// deref prints what a Scan target holds; times in UTC.
func deref(p any) any {
	v := reflect.ValueOf(p).Elem().Interface()
	if tm, ok := v.(time.Time); ok {
		return tm.UTC().Format(time.RFC3339)
	}
	return v
}

// ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY: every request of the HTTP protocol goes
// through the proxy, and the product works through it.
func TestHTTPProtocolThroughAProxy(t *testing.T) {
	f := startFront(t)
	var through atomic.Int64
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		through.Add(1)
		r.Out.URL = r.In.URL // a forward proxy: the request names the server
		r.Out.Host = r.In.URL.Host
	}})
	defer proxy.Close()
	s := f.open(t, chtest.DatabaseName(), func(c *store.Config) { c.HTTPProxy = proxy.URL })
	if _, err := schema.Migrate(context.Background(), s, chtest.Logger()); err != nil {
		t.Fatal(err)
	}
	if through.Load() < 20 {
		t.Fatalf("%d requests went through the proxy; the store bypasses it", through.Load())
	}
}
