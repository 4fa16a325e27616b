package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// QueryOptions are the settings of the query benchmark; the flags of
// `adoptscope bench query` fill them, and its errors name those flags.
type QueryOptions struct {
	// Config opens the backend as the app does; its database should be
	// the benchmark's own (the CLI makes it adoptscope_bench).
	Config   config.Config
	Log      *slog.Logger
	Events   int64  // synthetic events to load
	Runs     int    // timed runs of each query, after one warm-up run
	PageRuns int    // timed runs of each dashboard page (0: none)
	Reuse    bool   // time the events already loaded when there are enough
	Optimize bool   // merge the rollup parts after loading
	Seed     uint64 // seed of the generator
	// Zones are the time zones the chart questions are timed in ("UTC"
	// or "" is UTC); every other zone gets rollups of its own
	// (ADOPTSCOPE_TIME_ZONES), built while loading or backfilled when
	// reused events do not have them yet.
	Zones []string
}

func (o QueryOptions) validate() error {
	if o.Events <= 0 || o.Runs <= 0 {
		return fmt.Errorf("bench query: --events and --runs must be positive")
	}
	return nil
}

// Query loads synthetic events (or reuses them) and writes the p50/p95 of
// the five product queries to w.
func Query(ctx context.Context, o QueryOptions, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	cfg := o.Config
	if len(o.Zones) == 0 {
		o.Zones = []string{"UTC"}
	}
	cfg.Ingest.TimeZones = strings.Join(o.Zones, ",") // UTC alone: the other zones are removed
	b, err := app.OpenBackend(ctx, &cfg, o.Log)
	if err != nil {
		return err
	}
	defer b.Close()
	s := b.Store
	fmt.Fprintf(w, "ClickHouse %s at %s, database %s\n", s.Version, s.Addr, s.Database)
	if err := prepareEvents(ctx, b, o, w); err != nil {
		return err
	}
	if err := buildZones(ctx, b, w); err != nil {
		return err
	}
	if err := finalizeDays(ctx, s, w); err != nil {
		return err
	}
	if err := makePanel(ctx, s, w); err != nil {
		return err
	}
	if err := weighPanel(ctx, s, w); err != nil {
		return err
	}
	// No ingest runs on this database: drop the log of committed ids as
	// a running one would (what is under 3 minutes old stays).
	if err := ingest.DropExpiredDedupLog(ctx, s); err != nil {
		return err
	}
	if err := printSizes(ctx, s, w); err != nil {
		return err
	}
	if err := printDedupSizes(ctx, s, w); err != nil {
		return err
	}
	if err := timeQueries(ctx, s, o.Zones, o.Runs, w); err != nil {
		return err
	}
	if o.PageRuns <= 0 {
		return nil
	}
	fmt.Fprintf(w, "dashboard pages, server time (%d runs after a warm-up):\n", o.PageRuns)
	return timePages(s, o.Zones, o.PageRuns, o.Log, w)
}

// buildZones builds what the rollups lack (a zone's backfill, with reused
// events) and says how long that took.
func buildZones(ctx context.Context, b *app.Backend, w io.Writer) error {
	start := time.Now()
	if _, err := b.Rollups.CatchUp(ctx); err != nil {
		return err
	}
	fr, err := query.Freshness(ctx, b.Store, time.Time{})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "time zones with rollups of their own: UTC %s (caught up in %s)\n", strings.Join(fr.Zones, " "), time.Since(start).Round(time.Millisecond))
	return nil
}

// prepareEvents loads the events into an empty database, or with o.Reuse
// keeps the ones it already holds; it refuses to add to a database that
// holds events.
func prepareEvents(ctx context.Context, b *app.Backend, o QueryOptions, w io.Writer) error {
	s := b.Store
	have, err := countEvents(ctx, s)
	if err != nil {
		return err
	}
	switch {
	case o.Reuse && have >= uint64(o.Events):
		fmt.Fprintf(w, "reusing %d events already loaded\n", have)
		return nil
	case have > 0:
		return fmt.Errorf("bench query: database %s already holds %d events: pass --reuse to time them, or choose another --clickhouse-database", s.Database, have)
	}
	finish := b.BuildBehind(w)
	if err := loadEvents(ctx, s, o.Events, o.Seed, w); err != nil {
		return err
	}
	if err := finish(ctx); err != nil {
		return err
	}
	if o.Optimize {
		return optimizeRollups(ctx, s, w)
	}
	return nil
}

func countEvents(ctx context.Context, s *store.Store) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	err := s.Conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n)
	return n, err
}

// optimizeRollups merges the rollup parts, as background merges would over
// time.
func optimizeRollups(ctx context.Context, s *store.Store, w io.Writer) error {
	start := time.Now()
	for _, t := range []string{"rollup_users_day", "rollup_users_week", "rollup_users_month", "rollup_events_day", "rollup_person_day",
		"rollup_zone_users_day", "rollup_zone_users_week", "rollup_zone_users_month", "rollup_zone_events_day", "rollup_zone_person_day", "rollup_zone_first_seen",
		"rollup_person_week", "rollup_person_month", "rollup_zone_person_week", "rollup_zone_person_month"} {
		octx, cancel := context.WithTimeout(ctx, 2*time.Hour)
		err := s.Conn.Exec(octx, "OPTIMIZE TABLE "+t+" FINAL")
		cancel()
		if err != nil {
			return fmt.Errorf("optimize %s: %w", t, err)
		}
	}
	fmt.Fprintf(w, "merged rollup parts in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// finalizeDays does now what the web process does in the background, so
// that the timings show the steady state.
func finalizeDays(ctx context.Context, s *store.Store, w io.Writer) error {
	start := time.Now()
	nd, err := rollup.Finalize(ctx, s, 100000)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "finalized daily active users of %d days in %s\n", nd, time.Since(start).Round(time.Millisecond))
	return nil
}

func printSizes(ctx context.Context, s *store.Store, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT table, sum(rows), sum(bytes), count() FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table", s.Database)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\tMB on disk\tparts\t")
	for rows.Next() {
		var t string
		var n, b, p uint64
		if err := rows.Scan(&t, &n, &b, &p); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%d\t\n", t, n, float64(b)/1e6, p)
	}
	tw.Flush()
	return rows.Err()
}

// benchQuery is one timed question.
type benchQuery struct {
	name string
	run  func(context.Context, *store.Store) (int, error)
	read *string // the table a series answer came from
}

// series times a series question asked with the URL parameters v; read,
// when not nil, gets the table the answer came from.
func series(v map[string]string, read ...*string) func(context.Context, *store.Store) (int, error) {
	return func(ctx context.Context, s *store.Store) (int, error) {
		vals := map[string][]string{}
		for k, x := range v {
			vals[k] = []string{x}
		}
		req, err := query.ParseSeries(vals)
		if err != nil {
			return 0, err
		}
		res, err := query.Series(ctx, s, req)
		for _, r := range read {
			*r = res.Source
		}
		return len(res.Rows), err
	}
}

// chartQueries are the dashboard's chart questions in the zone tz (UTC:
// ""): the three series of the issue, events, new users and the KPI tiles.
// The name says which table answered the first series.
func chartQueries(tz string) []benchQuery {
	with := func(v map[string]string) map[string]string {
		if tz != "" {
			v["tz"] = tz
		}
		return v
	}
	q := func(name string, v map[string]string) benchQuery {
		read := new(string)
		return benchQuery{name: name, run: series(with(v), read), read: read}
	}
	return []benchQuery{
		q("365 days of DAU by assistant x channel", map[string]string{"metric": "active_users", "interval": "day", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant,channel"}),
		q("12 weeks of WAU", map[string]string{"metric": "active_users", "interval": "week", "from": "2025-12-01", "to": "2026-02-22"}),
		q("daily share of each assistant on WhatsApp, 365 days", map[string]string{"metric": "share", "interval": "day", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant", "channel": "whatsapp"}),
		q("365 days of events by assistant x channel", map[string]string{"metric": "events", "interval": "day", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant,channel"}),
		q("12 months of new users by assistant", map[string]string{"metric": "new_users", "interval": "month", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant"}),
		{"KPI tiles (DAU, WAU, MAU, stickiness per assistant)", func(ctx context.Context, s *store.Store) (int, error) {
			res, err := query.KPIs(ctx, s, query.Filters{}, tz, benchClock)
			return len(res.Assistants), err
		}, nil},
	}
}

// personQueries are the per-person questions asked in zone tz (UTC: ""):
// retention, the impact estimate and the overlap, as the dashboard and the
// API ask them (through query/, so the table choice is the product's). The
// read column names the table that answered.
func personQueries(tz string) []benchQuery {
	q := func(name string, run func(context.Context, *store.Store, *string) (int, error)) benchQuery {
		read := new(string)
		return benchQuery{name: name, run: func(ctx context.Context, s *store.Store) (int, error) { return run(ctx, s, read) }, read: read}
	}
	return []benchQuery{
		q("12-week retention by first-seen week", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.Retention(ctx, s, query.RetentionRequest{Interval: query.Week, TZ: tz,
				From: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 22, 0, 0, 0, 0, time.UTC)})
			*read = res.Source
			return len(res.Rows), err
		}),
		// The insight questions read complete days only: the clock stands
		// the day after the data's last day.
		q("impact ChatGPT/WhatsApp on 2026-01-15 against its other channels (28/28 days)", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.Impact(ctx, s, query.ImpactRequest{Date: benchShutdown, Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
				BeforeDays: 28, AfterDays: 28, Now: benchClock, TZ: tz})
			*read = "daily series"
			return len(res.Days), err
		}),
		q("lifecycle by assistant, 52 weeks", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.Lifecycle(ctx, s, query.LifecycleRequest{Interval: query.Week, From: benchTo.AddDate(0, 0, -7*52+1), To: benchTo,
				By: []query.Dim{query.DimAssistant}, TZ: tz, Now: benchClock})
			*read = res.Source
			return len(res.Rows), err
		}),
		q("lifecycle by assistant, 12 months", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.Lifecycle(ctx, s, query.LifecycleRequest{Interval: query.Month, From: benchFrom, To: benchTo,
				By: []query.Dim{query.DimAssistant}, TZ: tz, Now: benchClock})
			*read = res.Source
			return len(res.Rows), err
		}),
		q("power users: 7-day windows of the last 28 days by assistant", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.StickinessDistribution(ctx, s, query.StickinessRequest{Window: 7, From: benchTo.AddDate(0, 0, -27), To: benchTo,
				By: []query.Dim{query.DimAssistant}, TZ: tz, Now: benchClock})
			*read = res.Source
			return len(res.Rows), err
		}),
		q("power users: the 28-day window by assistant", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.StickinessDistribution(ctx, s, query.StickinessRequest{Window: 28, From: benchTo.AddDate(0, 0, -27), To: benchTo,
				By: []query.Dim{query.DimAssistant}, TZ: tz, Now: benchClock})
			*read = res.Source
			return len(res.Rows), err
		}),
		q("country ranking, 90 days against the 91 before", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.CountryRanking(ctx, s, query.Slice{From: benchTo.AddDate(0, 0, -89), To: benchTo, TZ: tz, Compare: query.ComparePrevious}, benchClock)
			*read = res.Source
			return len(res.Countries), err
		}),
		q("12-month audience overlap by month", func(ctx context.Context, s *store.Store, read *string) (int, error) {
			res, err := query.Overlap(ctx, s, query.OverlapRequest{From: benchTo.AddDate(0, -11, 0).AddDate(0, 0, 1-benchTo.AddDate(0, -11, 0).Day()),
				To: benchTo, Interval: query.Month, Now: benchClock, TZ: tz})
			*read = res.Source
			return len(res.Periods), err
		}),
	}
}

// benchQueries are the questions asked in UTC only: migration and the
// changepoint pass.
func benchQueries() []benchQuery {
	return []benchQuery{
		{"migration ChatGPT/WhatsApp around 2026-01-15 (28/28 days)", func(ctx context.Context, s *store.Store) (int, error) {
			res, err := query.Migration(ctx, s, query.MigrationRequest{Assistant: "chatgpt", Channel: "whatsapp", Date: benchShutdown, BeforeDays: 28, AfterDays: 28})
			return len(res.Outcomes), err
		}, nil},
		{"changepoint pass over 365 days of every assistant x channel", func(ctx context.Context, s *store.Store) (int, error) {
			d := breaks.NewDetector(s, nil, nil)
			d.Now = func() time.Time { return benchClock }
			res, _, _, err := d.Scan(ctx)
			return res.Found, err
		}, nil},
	}
}

// benchClock is the day after the bench data's last day, at noon.
var benchClock = benchTo.AddDate(0, 0, 1).Add(12 * time.Hour)

func timeQueries(ctx context.Context, s *store.Store, zones []string, runs int, w io.Writer) error {
	fr, err := query.Freshness(ctx, s, time.Time{})
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "zone\tquery\trows\tp50\tp95\tmax\tread\n")
	line := func(zone string, q benchQuery, src string) error {
		n, ds, err := timeQuery(ctx, s, q, runs)
		if err != nil {
			return fmt.Errorf("%s %s: %w", zone, q.name, err)
		}
		if q.read != nil {
			src = *q.read
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", zone, q.name, n, pct(ds, 50), pct(ds, 95), ds[len(ds)-1].Round(time.Millisecond), src)
		return nil
	}
	for _, z := range zones {
		tz := z
		if tz == "UTC" {
			tz = ""
		}
		src := "rollups"
		if tz != "" && !fr.ZoneBuilt(tz) {
			src = "events"
		}
		for _, q := range append(chartQueries(tz), personQueries(tz)...) {
			if err := line(z, q, src); err != nil {
				return err
			}
		}
	}
	for _, q := range benchQueries() {
		if err := line("UTC", q, "rollups"); err != nil {
			return err
		}
	}
	for _, q := range estimateQueries() {
		if err := line("UTC", q, "rollup_person_day, panel_weights"); err != nil {
			return err
		}
	}
	return tw.Flush()
}

// timeQuery runs q once to warm up, then runs times; it returns the rows of
// the answer and the sorted durations.
func timeQuery(ctx context.Context, s *store.Store, q benchQuery, runs int) (int, []time.Duration, error) {
	n, err := q.run(ctx, s)
	if err != nil {
		return 0, nil, err
	}
	ds := make([]time.Duration, 0, runs)
	for i := 0; i < runs; i++ {
		start := time.Now()
		if _, err := q.run(ctx, s); err != nil {
			return 0, nil, err
		}
		ds = append(ds, time.Since(start))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return n, ds, nil
}

// pct is the nearest-rank percentile of sorted durations.
func pct(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return ds[i].Round(time.Millisecond)
}
