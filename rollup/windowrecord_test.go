package rollup_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	. "github.com/adoptscope/adoptscope/rollup"
)

// ddl runs a CREATE of a view over LowCardinality columns (as
// schema.Migrate does on 18.16).
func ddl(t *testing.T, s *store.Store, q string) {
	t.Helper()
	ctx := context.Background()
	if !s.Features().LowCardinalityGA {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	}
	if err := s.Conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

const versionDayView = `CREATE MATERIALIZED VIEW IF NOT EXISTS %s TO rollup_version_day AS
SELECT toDate(event_time) AS day, sum(toUInt64(count)) AS events
FROM rollup_feed %s
GROUP BY day`

// A window whose insert failed in one rollup view is not recorded as
// built, whichever order the server runs the views in; once the view works
// again, the window is built again and that rollup has its rows.
//
// The failing view here is rollup_version_day's, renamed so that it sorts
// after every other view of the feed: 18.16 runs a table's views by name,
// so it runs last, as a server that runs views in parallel may run any of
// them. (The views that had taken the block keep it and take it again in
// the rebuild: see the package comment. The distinct counts are checked
// below; the event sums of those rollups are not.)
func TestWindowNotRecordedWhenAViewFails(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	exec(t, s, "DROP TABLE rollup_version_day_mv")
	ddl(t, s, fmt.Sprintf(versionDayView, "rollup_zz_version_day_mv", "WHERE throwIf(user_key >= 0) = 0"))

	evs := someEvents(3000, 5)
	send(t, s, "v", evs)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := New(s, Config{}, quiet()).CatchUp(cctx); err == nil || !strings.Contains(err.Error(), "throwIf") {
		t.Fatalf("a build with a failing view: %v, want its error", err)
	}
	if n := one[uint64](t, s, "SELECT count() FROM rollup_windows"); n != 0 {
		t.Fatalf("%d windows recorded as built while rollup_version_day lacks their rows (it holds %d events, the window %d)",
			n, one[uint64](t, s, "SELECT sum(events) FROM rollup_version_day"), expect(evs).events)
	}
	if p, err := PendingOf(ctx, s); err != nil || p.Rows != 3000 {
		t.Fatalf("pending after the failed build: %+v, %v; want the 3000 rows", p, err)
	}

	// The failure removed: the view as migration 0203 creates it.
	exec(t, s, "DROP TABLE rollup_zz_version_day_mv")
	ddl(t, s, fmt.Sprintf(versionDayView, "rollup_version_day_mv", ""))
	if r := catchUp(t, New(s, Config{}, quiet())); r.Rows != 3000 || r.Windows != 1 {
		t.Errorf("rebuild: %d rows in %d windows, want 3000 in 1", r.Rows, r.Windows)
	}
	if got := one[uint64](t, s, "SELECT sum(rows) FROM rollup_windows"); got != 3000 {
		t.Errorf("rollup_windows records %d rows, want 3000", got)
	}
	w := expect(evs)
	for day, n := range w.versionDays {
		if got := one[uint64](t, s, "SELECT sum(events) FROM rollup_version_day WHERE day = toDate('"+day+"')"); got != n {
			t.Errorf("rollup_version_day %s: %d events, want %d", day, got, n)
		}
	}
	if got := one[uint64](t, s, "SELECT count() FROM (SELECT day, assistant, user_key FROM rollup_person_day GROUP BY day, assistant, user_key)"); got != uint64(w.personDays) {
		t.Errorf("rollup_person_day: %d person-days, want %d", got, w.personDays)
	}
	if got := one[uint64](t, s, "SELECT uniqMerge(users) FROM rollup_users_month"); got != 50 {
		t.Errorf("rollup_users_month: %d people, want the 50 of the events", got)
	}
	if p, err := PendingOf(ctx, s); err != nil || p.Rows != 0 {
		t.Errorf("pending after the rebuild: %+v, %v", p, err)
	}
}
