package rollup_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	. "github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

var viewName = regexp.MustCompile(`CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO`)

// The feed's views created in reverse name order still give the rollups
// the events say. (Whatever order a server runs the views of one table in
// — by name on 18.16, by creation or in parallel on newer ones — no rollup
// may depend on another view having run first. The 26.9 suite, make
// test-compat, builds every rollup with parallel_view_processing = 1.)
func TestViewsInReverseNameOrderGiveTheSameRollups(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var views []string // the statements creating the feed's views, by name
	for _, m := range ms {
		if m.Version != 203 {
			continue
		}
		stmts, err := m.Statements(schema.Target{Database: s.Database, Features: s.Features()})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			// Those a later migration dropped (0204: rollup_window_mv) left out.
			if v := viewName.FindStringSubmatch(q); v != nil && strings.Contains(q, "FROM rollup_feed") &&
				one[uint64](t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '"+v[1]+"'") == 1 {
				views = append(views, q)
			}
		}
	}
	if len(views) < 7 {
		t.Fatalf("found %d views on rollup_feed in migration 0203, want at least 7", len(views))
	}
	for _, q := range views {
		exec(t, s, "DROP TABLE "+viewName.FindStringSubmatch(q)[1])
	}
	ddl := context.Background()
	if !s.Features().LowCardinalityGA { // as schema.Migrate does
		ddl = clickhouse.Context(ddl, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	}
	for i := len(views) - 1; i >= 0; i-- {
		if err := s.Conn.Exec(ddl, views[i]); err != nil {
			t.Fatalf("%s: %v", views[i], err)
		}
	}
	evs := someEvents(4000, 3)
	send(t, s, "r", evs)
	catchUp(t, New(s, Config{}, quiet()))
	check(t, s, expect(evs))
	if n, err := Finalize(ctx, s, 400); err != nil || n != 10 {
		t.Fatalf("Finalize = %d, %v; want the 10 days of the events", n, err)
	}
	checkFinals(t, s, evs)
}

// The daily finals never stand for fewer people than their version says,
// in whichever order the views of one insert run. Here the version view
// has taken a block that the person-day view has not (what a server that
// runs rollup_version_day_mv first, or both at once, shows in the middle of
// an insert) when Finalize runs: the finals it computes must not be used
// once the person-days arrive.
func TestFinalsAheadOfThePersonDaysAreNotUsed(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	day := time.Date(2026, 1, 12, 9, 0, 0, 0, time.UTC)
	first := []event{{day, "chatgpt", 1, 2}, {day, "chatgpt", 2, 1}}
	send(t, s, "a", first)
	catchUp(t, New(s, Config{}, quiet()))
	if _, err := Finalize(ctx, s, 400); err != nil {
		t.Fatal(err)
	}
	// Half of a second block: its events in the version table, its
	// person-days not yet.
	later := []event{{day, "chatgpt", 3, 4}, {day, "chatgpt", 4, 1}}
	exec(t, s, "INSERT INTO rollup_version_day (day, events) SELECT toDate('2026-01-12'), 5")
	if _, err := Finalize(ctx, s, 400); err != nil {
		t.Fatal(err)
	}
	// The other half: the person-days (as the other view writes them).
	exec(t, s, "INSERT INTO rollup_person_day (day, assistant, channel, country, user_key, events, linked_events, account_links) "+
		"SELECT toDate('2026-01-12'), 'chatgpt', 'web', 'FR', toUInt64(3 + number), toUInt64(4 - 3 * number), 0, 0 FROM system.numbers LIMIT 2")
	// Finals that the version table says are current must be right.
	all := append(first, later...)
	if got := currentFinal(t, s, "2026-01-12"); got != "" && got != "4" {
		t.Fatalf("finals of 2026-01-12 in use say %s people; the day has 4 (%d events): finals computed before the person-days arrived are used", got, len(all))
	}
	if _, err := Finalize(ctx, s, 400); err != nil {
		t.Fatal(err)
	}
	if got := currentFinal(t, s, "2026-01-12"); got != "4" {
		t.Fatalf("after the next Finalize the finals of 2026-01-12 say %q people, want 4", got)
	}
}

// currentFinal is the grain-0 finals value of day that queries would use
// (its version equals the day's sum in rollup_version_day), "" when none.
func currentFinal(t *testing.T, s *store.Store, day string) string {
	t.Helper()
	rows, err := s.Conn.Query(context.Background(), "SELECT toString(users) FROM rollup_users_final WHERE grain = 0 AND day = toDate(?) AND version = (SELECT sum(events) FROM rollup_version_day WHERE day = toDate(?))", day, day)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return strings.Join(out, ",")
}

// checkFinals compares the grain-0 finals with the distinct people per day
// of evs.
func checkFinals(t *testing.T, s *store.Store, evs []event) {
	t.Helper()
	people := map[string]map[uint64]bool{}
	for _, e := range evs {
		d := e.day.Format("2006-01-02")
		if people[d] == nil {
			people[d] = map[uint64]bool{}
		}
		people[d][e.user] = true
	}
	for d, ps := range people {
		if got := currentFinal(t, s, d); got != fmt.Sprint(len(ps)) {
			t.Errorf("finals of %s: %q people, want %d", d, got, len(ps))
		}
	}
}

func exec(t *testing.T, s *store.Store, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
