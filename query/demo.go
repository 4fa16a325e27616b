package query

import (
	"context"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// DemoSource is the source of the synthetic demo events (demo.Source).
const DemoSource = "demo"

// HasDemoData reports whether any synthetic demo event lies in the days
// [from, to]: inclusive, the calendar dates of from and to as given (days
// are UTC days; the time of day is ignored). The
// dashboard shows its "synthetic demo data" badge and exports name their
// files *_synthetic when it is true.
func HasDemoData(ctx context.Context, s *store.Store, from, to time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Bounds bound as strings (18.16 compares a bound time.Time with a Date
	// column numerically); filtering on event_time lets the server skip the
	// monthly partitions outside the range.
	row := s.Conn.QueryRow(ctx, `SELECT count() FROM (SELECT 1 FROM events
		WHERE event_time >= toDateTime(?, 'UTC') AND event_time < toDateTime(?, 'UTC') + 86400 AND source = ? LIMIT 1)
		SETTINGS max_execution_time = 5`,
		from.Format(catalog.DateLayout)+" 00:00:00", to.Format(catalog.DateLayout)+" 00:00:00", DemoSource)
	var n uint64
	if err := row.Scan(&n); err != nil {
		return false, fmt.Errorf("look for demo events: %w", err)
	}
	return n > 0, nil
}
