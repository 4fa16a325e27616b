package query

import (
	"context"
	"fmt"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// StoredEvents counts the events stored in all, whoever wrote them (the
// demo, file loads, any process's ingest): the Ingest page shows it beside
// what its own process accepted.
func StoredEvents(ctx context.Context, s *store.Store) (uint64, error) {
	q := &sqlText{}
	q.add("SELECT toUInt64(count()) FROM events" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return 0, err
	}
	defer cancel()
	defer rows.Close()
	var n uint64
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("query: stored events: %w", err)
		}
	}
	return n, rows.Err()
}
