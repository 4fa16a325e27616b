package cli

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

func init() {
	benchmarks["query"] = command{
		"load N million synthetic events (default 100 M) and report p50/p95 of the five product queries",
		runBenchQuery,
	}
}

// The benchmark year: 365 days, ChatGPT and Copilot leave WhatsApp on
// 2026-01-15.
var (
	benchFrom     = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	benchTo       = time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC)
	benchShutdown = time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
)

func runBenchQuery(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("bench query", benchmarks["query"].summary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	events := fs.Int64("events", 100_000_000, "number of synthetic events to load")
	runs := fs.Int("runs", 20, "timed runs of each query (after one warm-up run)")
	reuse := fs.Bool("reuse", false, "skip loading when the database already holds the requested number of events")
	optimize := fs.Bool("optimize", true, "after loading, merge the rollup parts (OPTIMIZE … FINAL), as background merges would over time")
	seed := fs.Uint64("seed", 1, "random seed of the generator")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["clickhouse-database"] && cfg.ClickHouse.Database == "adoptscope" {
		cfg.ClickHouse.Database = "adoptscope_bench" // never mix with real data
	}
	if *events <= 0 || *runs <= 0 {
		return fmt.Errorf("bench query: --events and --runs must be positive")
	}
	log := logger(cfg, e.stderr)
	b, err := app.OpenBackend(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	s := b.Store
	fmt.Fprintf(e.stdout, "ClickHouse %s at %s, database %s\n", s.Version, s.Addr, s.Database)

	have, err := countEvents(ctx, s)
	if err != nil {
		return err
	}
	switch {
	case *reuse && have >= uint64(*events):
		fmt.Fprintf(e.stdout, "reusing %d events already loaded\n", have)
	case have > 0:
		return fmt.Errorf("bench query: database %s already holds %d events: pass --reuse to time them, or choose another --clickhouse-database", s.Database, have)
	default:
		finish := buildRollupsBehind(b, e.stdout)
		if err := loadBenchEvents(ctx, s, *events, *seed, e); err != nil {
			return err
		}
		if err := finish(ctx); err != nil {
			return err
		}
		if *optimize {
			start := time.Now()
			for _, t := range []string{"rollup_users_day", "rollup_users_week", "rollup_users_month", "rollup_events_day", "rollup_person_day"} {
				octx, cancel := context.WithTimeout(ctx, 2*time.Hour)
				err := s.Conn.Exec(octx, "OPTIMIZE TABLE "+t+" FINAL")
				cancel()
				if err != nil {
					return fmt.Errorf("optimize %s: %w", t, err)
				}
			}
			fmt.Fprintf(e.stdout, "merged rollup parts in %s\n", time.Since(start).Round(time.Second))
		}
	}
	// The web process finalizes past days in the background; do it now so
	// that the timings show the steady state.
	fstart := time.Now()
	nd, err := query.Finalize(ctx, s, 100000)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "finalized daily active users of %d days in %s\n", nd, time.Since(fstart).Round(time.Millisecond))
	if err := printSizes(ctx, s, e); err != nil {
		return err
	}
	return timeQueries(ctx, s, *runs, e)
}

func countEvents(ctx context.Context, s *store.Store) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	err := s.Conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n)
	return n, err
}

// benchUser is one synthetic person.
type benchUser struct {
	key             uint64
	assistant       int
	channel         int
	country         int
	start, end      int     // active days [start, end)
	pActive         float64 // chance of being active on a day
	meanEvents      float64
	linked          bool
	afterShutdown   [2]int // where a ChatGPT/Copilot WhatsApp user goes; -1: quiet
	secondA, second int
}

var (
	benchAssistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	benchChannels   = []string{"whatsapp", "ios", "android", "web", "desktop"}
	benchCountries  = []string{"IN", "BR", "EG", "ID", "MX", "NG", "US", "FR", "DE", "PK", "TR", "PH"}
	benchModalities = []string{"text", "text", "text", "voice", "image_in", "image_gen"}
)

// loadBenchEvents streams n events, day by day, in columnar batches of
// 100,000 rows straight into events (the rollup views fill on insert).
// Activity is realistic for the question: people return on most days and
// send several events a day.
func loadBenchEvents(ctx context.Context, s *store.Store, n int64, seed uint64, e *env) error {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	days := int(benchTo.Sub(benchFrom).Hours()/24) + 1
	// Expected events per person: about 0.62 of the year active, on
	// about 72% of days, 4.5 events a day.
	perUser := float64(days) * 0.62 * 0.72 * 4.5 * 1.2
	nUsers := int(float64(n)/perUser) + 1
	users := make([]benchUser, nUsers)
	shutdownDay := int(benchShutdown.Sub(benchFrom).Hours() / 24)
	for i := range users {
		u := &users[i]
		u.key = r.Uint64()
		u.assistant = pickWeighted(r, []float64{0.5, 0.25, 0.15, 0.10})
		u.channel = pickWeighted(r, []float64{0.35, 0.2, 0.25, 0.15, 0.05})
		u.country = r.IntN(len(benchCountries))
		u.start = int(float64(days) * 0.6 * r.Float64())
		u.end = days
		if r.Float64() < 0.2 { // churns some time later
			u.end = u.start + 30 + r.IntN(days)
		}
		u.pActive = 0.5 + 0.45*r.Float64()
		u.meanEvents = 2 + 5*r.Float64()
		u.linked = u.assistant == 0 && r.Float64() < 0.3
		u.secondA, u.second = r.IntN(len(benchAssistants)), r.IntN(len(benchChannels))
		u.afterShutdown = [2]int{-1, -1}
		if u.channel == 0 && (u.assistant == 0 || u.assistant == 2) {
			switch x := r.Float64(); {
			case x < 0.45:
				u.afterShutdown = [2]int{u.assistant, 1 + r.IntN(4)}
			case x < 0.65:
				u.afterShutdown = [2]int{1, 0} // Meta AI on WhatsApp
			case x < 0.72:
				u.afterShutdown = [2]int{3, 1 + r.IntN(4)}
			}
		}
	}

	cols := newBenchColumns()
	var sent, personDays int64
	var personDaysU uint64
	start := time.Now()
	lastReport := start
	flush := func() error {
		if cols.len() == 0 {
			return nil
		}
		if err := cols.send(ctx, s); err != nil {
			return err
		}
		sent += int64(cols.len())
		cols.reset()
		if time.Since(lastReport) > 10*time.Second {
			lastReport = time.Now()
			rate := float64(sent) / time.Since(start).Seconds()
			fmt.Fprintf(e.stdout, "  loaded %d events (%.0f rows/s)\n", sent, rate)
		}
		return nil
	}
	var id uint64
	lastDay := benchFrom
	for day := 0; day < days && sent+int64(cols.len()) < n; day++ {
		base := benchFrom.AddDate(0, 0, day)
		lastDay = base
		for i := range users {
			u := &users[i]
			if day < u.start || day >= u.end || r.Float64() > u.pActive {
				continue
			}
			a, c := u.assistant, u.channel
			if day >= shutdownDay && u.channel == 0 && (u.assistant == 0 || u.assistant == 2) {
				if u.afterShutdown[0] < 0 {
					continue
				}
				a, c = u.afterShutdown[0], u.afterShutdown[1]
			}
			k := 1 + int(r.ExpFloat64()*u.meanEvents)
			if k > 40 {
				k = 40
			}
			personDays++
			for j := 0; j < k; j++ {
				ea, ec := a, c
				if r.Float64() < 0.08 {
					ea, ec = u.secondA, u.second
				}
				id++
				cols.add(benchEvent{
					id: id, t: base.Add(time.Duration(r.IntN(86400)) * time.Second),
					assistant: benchAssistants[ea], channel: benchChannels[ec],
					modality: benchModalities[r.IntN(len(benchModalities))], user: u.key,
					country: benchCountries[u.country], count: uint32(1 + r.IntN(3)), linked: u.linked,
				})
				if sent+int64(cols.len()) >= n {
					break
				}
			}
			if cols.len() >= 100_000 {
				if err := flush(); err != nil {
					return err
				}
			}
			if sent+int64(cols.len()) >= n {
				break
			}
		}
	}
	// The activity model is an estimate: top up to exactly n events with
	// more events of random people on random days of their active span.
	for sent+int64(cols.len()) < n {
		u := &users[r.IntN(len(users))]
		end := min(u.end, days)
		if end <= u.start {
			continue
		}
		day := u.start + r.IntN(end-u.start)
		a, c := u.assistant, u.channel
		if day >= shutdownDay && u.channel == 0 && (u.assistant == 0 || u.assistant == 2) {
			if u.afterShutdown[0] < 0 {
				continue
			}
			a, c = u.afterShutdown[0], u.afterShutdown[1]
		}
		id++
		cols.add(benchEvent{id: id, t: benchFrom.AddDate(0, 0, day).Add(time.Duration(r.IntN(86400)) * time.Second),
			assistant: benchAssistants[a], channel: benchChannels[c], modality: benchModalities[r.IntN(len(benchModalities))],
			user: u.key, country: benchCountries[u.country], count: uint32(1 + r.IntN(3)), linked: u.linked})
		if cols.len() >= 100_000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	// Person-days, counted by the server (the top-up may add some).
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Minute)
	err := s.Conn.QueryRow(cctx, "SELECT count() FROM (SELECT DISTINCT user_key, day FROM rollup_person_day)").Scan(&personDaysU)
	ccancel()
	if err != nil {
		return err
	}
	personDays = int64(personDaysU)
	took := time.Since(start)
	fmt.Fprintf(e.stdout, "loaded %d events of %d people, %s..%s, in %s (%.0f rows/s, rollup views included)\n",
		sent, nUsers, benchFrom.Format(query.DateLayout), lastDay.Format(query.DateLayout), took.Round(time.Second), float64(sent)/took.Seconds())
	if personDays > 0 {
		fmt.Fprintf(e.stdout, "events : distinct person-days = %d : %d = %.2f : 1\n", sent, personDays, float64(sent)/float64(personDays))
	}
	return nil
}

func pickWeighted(r *rand.Rand, w []float64) int {
	x := r.Float64()
	for i, p := range w {
		if x < p {
			return i
		}
		x -= p
	}
	return len(w) - 1
}

type benchEvent struct {
	id                                    uint64
	t                                     time.Time
	assistant, channel, modality, country string
	user                                  uint64
	count                                 uint32
	linked                                bool
}

// benchColumns holds one batch column by column (the fastest insert path
// of the native protocol).
type benchColumns struct {
	ids                                                     []string
	times                                                   []time.Time
	assistants, channels, types, modalities, countries, src []string
	users                                                   []uint64
	counts                                                  []uint32
	linked                                                  []uint8
}

func newBenchColumns() *benchColumns { return &benchColumns{} }

func (c *benchColumns) len() int { return len(c.ids) }

func (c *benchColumns) add(ev benchEvent) {
	c.ids = append(c.ids, "b"+strconv.FormatUint(ev.id, 36))
	c.times = append(c.times, ev.t)
	c.assistants = append(c.assistants, ev.assistant)
	c.channels = append(c.channels, ev.channel)
	c.types = append(c.types, "message")
	c.modalities = append(c.modalities, ev.modality)
	c.countries = append(c.countries, ev.country)
	c.src = append(c.src, "bench")
	c.users = append(c.users, ev.user)
	c.counts = append(c.counts, ev.count)
	var l uint8
	if ev.linked {
		l = 1
	}
	c.linked = append(c.linked, l)
}

func (c *benchColumns) reset() {
	*c = benchColumns{
		ids: c.ids[:0], times: c.times[:0], assistants: c.assistants[:0], channels: c.channels[:0], types: c.types[:0],
		modalities: c.modalities[:0], countries: c.countries[:0], src: c.src[:0], users: c.users[:0], counts: c.counts[:0], linked: c.linked[:0],
	}
}

func (c *benchColumns) send(ctx context.Context, s *store.Store) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source)")
	if err != nil {
		return fmt.Errorf("bench insert: %w", err)
	}
	defer b.Close()
	for i, col := range []any{c.ids, c.times, c.times, c.assistants, c.channels, c.types, c.modalities, c.users, c.countries, c.counts, c.linked, c.src} {
		if err := b.Column(i).Append(col); err != nil {
			return fmt.Errorf("bench insert column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("bench insert: %w", err)
	}
	return nil
}

func printSizes(ctx context.Context, s *store.Store, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT table, sum(rows), sum(bytes), count() FROM system.parts WHERE database = ? AND active GROUP BY table ORDER BY table", s.Database)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
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

// benchQueries are the five questions of the issue, as the dashboard and
// the API ask them (through query/, so the rollup choice is the product's).
func benchQueries() []struct {
	name string
	run  func(context.Context, *store.Store) (int, error)
} {
	series := func(v map[string]string) func(context.Context, *store.Store) (int, error) {
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
			return len(res.Rows), err
		}
	}
	return []struct {
		name string
		run  func(context.Context, *store.Store) (int, error)
	}{
		{"365 days of DAU by assistant x channel", series(map[string]string{"metric": "active_users", "interval": "day", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant,channel"})},
		{"12 weeks of WAU", series(map[string]string{"metric": "active_users", "interval": "week", "from": "2025-12-01", "to": "2026-02-22"})},
		{"daily share of each assistant on WhatsApp, 365 days", series(map[string]string{"metric": "share", "interval": "day", "from": "2025-03-01", "to": "2026-02-28", "by": "assistant", "channel": "whatsapp"})},
		{"migration ChatGPT/WhatsApp around 2026-01-15 (28/28 days)", func(ctx context.Context, s *store.Store) (int, error) {
			res, err := query.Migration(ctx, s, query.MigrationRequest{Assistant: "chatgpt", Channel: "whatsapp", Date: benchShutdown, BeforeDays: 28, AfterDays: 28})
			return len(res.Outcomes), err
		}},
		{"12-week retention by first-seen week", func(ctx context.Context, s *store.Store) (int, error) {
			res, err := query.Retention(ctx, s, query.RetentionRequest{Interval: query.Week,
				From: time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 2, 22, 0, 0, 0, 0, time.UTC)})
			return len(res.Rows), err
		}},
	}
}

func timeQueries(ctx context.Context, s *store.Store, runs int, e *env) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "query\trows\tp50\tp95\tmax\n")
	for _, q := range benchQueries() {
		n, err := q.run(ctx, s) // warm-up
		if err != nil {
			return fmt.Errorf("%s: %w", q.name, err)
		}
		var ds []time.Duration
		for i := 0; i < runs; i++ {
			start := time.Now()
			if _, err := q.run(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", q.name, err)
			}
			ds = append(ds, time.Since(start))
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", q.name, n, pct(ds, 50), pct(ds, 95), ds[len(ds)-1].Round(time.Millisecond))
	}
	return tw.Flush()
}

// pct is the nearest-rank percentile of sorted durations.
func pct(ds []time.Duration, p int) time.Duration {
	i := (p*len(ds)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return ds[i].Round(time.Millisecond)
}
