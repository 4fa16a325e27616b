package demo

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
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

func newPipeline(t *testing.T, s *store.Store) *ingest.Pipeline {
	t.Helper()
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: []byte("demo-test-secret-0123456789")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func TestLoadThroughIngest(t *testing.T) {
	s := chtest.NewStore(t)
	p := newPipeline(t, s)
	ctx := context.Background()
	cfg := small(1)
	cfg.People = 2000
	res, err := Load(ctx, s, p, cfg, LoadOptions{ChunkRows: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	chtest.BuildRollups(t, s)
	g, _ := New(cfg)
	var want int64
	users := map[string]bool{}
	for e := range g.Events() {
		want++
		users[e.UserID] = true
	}
	if res.Accepted != want || res.Duplicates != 0 || res.Generated != want {
		t.Fatalf("load: %+v, want %d generated and accepted", res, want)
	}
	var stored uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM events WHERE source = 'demo'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if int64(stored) != want {
		t.Fatalf("%d demo events stored, want %d", stored, want)
	}

	t.Run("whatsapp stops on the shutdown", func(t *testing.T) {
		for _, tc := range []struct {
			from, to string
			wantZero bool
		}{
			{"2026-01-08", "2026-01-14", false},
			{"2026-01-15", "2026-03-15", true},
		} {
			var users uint64
			err := s.Conn.QueryRow(ctx, `SELECT uniqExact(user_key) FROM events WHERE assistant = 'chatgpt' AND channel = 'whatsapp'
				AND event_date >= toDate(?) AND event_date <= toDate(?)`, tc.from, tc.to).Scan(&users)
			if err != nil {
				t.Fatal(err)
			}
			if (users == 0) != tc.wantZero {
				t.Errorf("ChatGPT WhatsApp active users %s..%s = %d, want zero: %v", tc.from, tc.to, users, tc.wantZero)
			}
		}
	})

	t.Run("migration outcomes match the configured shares", func(t *testing.T) {
		own := storedMigration(t, s, 28, 28)
		checkShares(t, own)
		// The same through the query layer's definition.
		r, err := query.Migration(ctx, s, query.MigrationRequest{Assistant: "chatgpt", Channel: "whatsapp", Date: Shutdown, BeforeDays: 28, AfterDays: 28})
		if err != nil {
			t.Fatal(err)
		}
		m := migration{cohort: int(r.Cohort), linked: int(r.Linked), outcomes: map[string]int{}}
		for _, o := range r.Outcomes {
			key := o.Outcome
			// The demo configures where people went; the query splits that
			// destination into new there (moved) and already there before.
			if o.Outcome == query.OutcomeMoved || o.Outcome == query.OutcomeAlreadyThere {
				key = o.Assistant + "/" + o.Channel
			}
			m.outcomes[key] += int(o.Users)
		}
		if m.cohort != own.cohort || m.linked != own.linked || m.outcomes["stayed"] != 0 {
			t.Errorf("query.Migration: cohort %d, linked %d, stayed %d; want %d, %d, 0", m.cohort, m.linked, m.outcomes["stayed"], own.cohort, own.linked)
		}
		checkShares(t, m)
	})

	t.Run("no raw user id in any table", func(t *testing.T) {
		scanForUserIDs(t, s, users)
	})

	t.Run("HasDemoData", func(t *testing.T) {
		for _, tc := range []struct {
			from, to string
			want     bool
		}{
			{"2026-01-01", "2026-01-31", true},
			{"2025-10-01", "2025-10-01", true},
			{"2024-01-01", "2025-09-30", false},
			{"2026-03-16", "2026-12-31", false},
		} {
			got, err := query.HasDemoData(ctx, s, date(tc.from), date(tc.to))
			if err != nil || got != tc.want {
				t.Errorf("HasDemoData(%s, %s) = %v, %v; want %v", tc.from, tc.to, got, err, tc.want)
			}
		}
	})

	t.Run("annotations loaded", func(t *testing.T) {
		list, err := annotation.New(s, catalog.Registry{}).List(ctx, annotation.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		real := map[string]bool{}
		for _, a := range list {
			real[a.Start+" "+a.Kind] = a.RealWorld
		}
		for _, k := range []string{"2024-12-18 launch", "2025-10-18 policy", "2026-01-15 shutdown"} {
			if !real[k] {
				t.Errorf("no real-world annotation %s in %v", k, real)
			}
		}
		if len(list) != len(Annotations()) {
			t.Errorf("%d annotations, want %d", len(list), len(Annotations()))
		}
	})

	t.Run("loading again stores nothing twice", func(t *testing.T) {
		again, err := Load(ctx, s, p, cfg, LoadOptions{ChunkRows: 20_000})
		if err != nil {
			t.Fatal(err)
		}
		if again.Accepted != 0 || again.Duplicates != want {
			t.Errorf("second load: %+v, want 0 accepted and %d duplicates", again, want)
		}
		resumed, err := Load(ctx, s, p, cfg, LoadOptions{Resume: true})
		if err != nil {
			t.Fatal(err)
		}
		if resumed.Accepted != 0 || resumed.Skipped == 0 {
			t.Errorf("resumed load: %+v, want nothing accepted and most skipped", resumed)
		}
		var n, notes uint64
		if err := s.Conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if int64(n) != want {
			t.Errorf("%d events after loading thrice, want %d", n, want)
		}
		list, err := annotation.New(s, catalog.Registry{}).List(ctx, annotation.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		notes = uint64(len(list))
		if notes != uint64(len(Annotations())) {
			t.Errorf("%d annotations after loading thrice, want %d", notes, len(Annotations()))
		}
	})
}

// storedMigration computes the migration of the ChatGPT-WhatsApp cohort
// from the stored events by the definition of the query issue (cohort by
// SQL, outcome picked in Go).
func storedMigration(t *testing.T, s *store.Store, beforeDays, afterDays int) migration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := Shutdown.Format(time.DateOnly)
	lo := Shutdown.AddDate(0, 0, -beforeDays).Format(time.DateOnly)
	hi := Shutdown.AddDate(0, 0, afterDays).Format(time.DateOnly)
	cohortSQL := `SELECT DISTINCT user_key FROM events WHERE assistant = 'chatgpt' AND channel = 'whatsapp' AND event_date >= toDate(?) AND event_date < toDate(?)`
	m := migration{outcomes: map[string]int{}}
	var cohort uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM ("+cohortSQL+")", lo, d).Scan(&cohort); err != nil {
		t.Fatal(err)
	}
	m.cohort = int(cohort)
	var linked uint64
	if err := s.Conn.QueryRow(ctx, `SELECT uniqExact(user_key) FROM events WHERE event_date < toDate(?)
		AND (linked = 1 OR event_type = 'account_linked') AND user_key IN (`+cohortSQL+`)`, d, lo, d).Scan(&linked); err != nil {
		t.Fatal(err)
	}
	m.linked = int(linked)
	rows, err := s.Conn.Query(ctx, `SELECT user_key, assistant, channel, sum(count) FROM events
		WHERE event_date >= toDate(?) AND event_date < toDate(?) AND user_key IN (`+cohortSQL+`)
		GROUP BY user_key, assistant, channel`, d, hi, lo, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type cand struct {
		key string
		n   uint64
	}
	best := map[uint64][]cand{}
	for rows.Next() {
		var uk, n uint64
		var a, c string
		if err := rows.Scan(&uk, &a, &c, &n); err != nil {
			t.Fatal(err)
		}
		best[uk] = append(best[uk], cand{a + "/" + c, n})
	}
	moved := 0
	for _, cs := range best {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].n != cs[j].n {
				return cs[i].n > cs[j].n
			}
			return cs[i].key < cs[j].key
		})
		m.outcomes[cs[0].key]++
		moved++
	}
	m.outcomes["inactive"] = m.cohort - moved
	return m
}

// scanForUserIDs fails when any String column of any table of the database
// holds a raw user id (all of them start with "demo-user-"), whole or as
// part of a value.
func scanForUserIDs(t *testing.T, s *store.Store, users map[string]bool) {
	t.Helper()
	for u := range users {
		if !strings.HasPrefix(u, "demo-user-") {
			t.Fatalf("user id %q does not start with demo-user-: the scan below would miss it", u)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT c.table, c.name, c.type FROM system.columns AS c
		INNER JOIN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View%') AS tb ON c.table = tb.name
		WHERE c.database = ?`, s.Database, s.Database)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	scanned := 0
	for _, c := range cols {
		if !strings.Contains(c.typ, "String") {
			continue
		}
		expr := "`" + c.name + "`"
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM `%s` WHERE position(toString(%s), 'demo-user-') > 0", c.table, expr)
		if err := s.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatalf("scan %s.%s (%s): %v", c.table, c.name, c.typ, err)
		}
		if n > 0 {
			t.Errorf("%d values of %s.%s hold a raw user id", n, c.table, c.name)
		}
		scanned++
	}
	if scanned < 3 {
		t.Fatalf("scanned only %d String columns: the scan found no tables", scanned)
	}
}

// The generator makes whole days; Load keeps only what lies up to Until, as
// real telemetry would not report the rest of today in advance.
func TestLoadStopsAtUntil(t *testing.T) {
	s := chtest.NewStore(t)
	p := newPipeline(t, s)
	ctx := context.Background()
	cfg := small(3)
	cfg.People = 300
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	until := g.Config().To.Add(13*time.Hour + 30*time.Minute)
	var want, future int64
	for e := range g.Events() {
		if e.Time.After(until) {
			future++
		} else {
			want++
		}
	}
	if future == 0 {
		t.Fatal("test set has no events after the cut; pick another time")
	}
	res, err := Load(ctx, s, p, cfg, LoadOptions{Until: until})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != want || res.Future != future {
		t.Fatalf("load: accepted %d, future %d; want %d and %d", res.Accepted, res.Future, want, future)
	}
	var latest time.Time
	if err := s.Conn.QueryRow(ctx, "SELECT max(event_time) FROM events").Scan(&latest); err != nil {
		t.Fatal(err)
	}
	if latest.After(until) {
		t.Fatalf("latest stored event %s is after the cut %s", latest, until)
	}
}
