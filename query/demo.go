package query

import (
	"context"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/internal/store"
)

// DemoSource is the source of the synthetic demo events (demo.Source).
const DemoSource = "demo"

// HasDemoData reports whether any synthetic demo event lies in the days
// [from, to] (inclusive, UTC dates; the time of day is ignored). The
// dashboard shows its "synthetic demo data" badge and exports name their
// files *_synthetic when it is true.
func HasDemoData(ctx context.Context, s *store.Store, from, to time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// Dates bound as strings: 18.16 compares a bound DateTime with a Date
	// column numerically.
	row := s.Conn.QueryRow(ctx, `SELECT count() FROM (SELECT 1 FROM events
		WHERE event_date >= toDate(?) AND event_date <= toDate(?) AND source = ? LIMIT 1)
		SETTINGS max_execution_time = 5`,
		from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly), DemoSource)
	var n uint64
	if err := row.Scan(&n); err != nil {
		return false, fmt.Errorf("look for demo events: %w", err)
	}
	return n > 0, nil
}
