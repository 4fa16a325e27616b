package bench

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// dedupTables are ingest's tables of the dedup window, in the order the
// size line names them (ingest/README.md, "Exactly once at scale").
var dedupTables = []string{"ingest_dedup_ids", "ingest_event_ids", "ingest_dedup_recent", "ingest_dedup_marks"}

// printDedupSizes writes one line: the on-disk size of each dedup table
// (active parts, system.parts) and their total next to events'.
func printDedupSizes(ctx context.Context, s *store.Store, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT table, sum(rows), sum(bytes) FROM system.parts WHERE database = ? AND active GROUP BY table", s.Database)
	if err != nil {
		return err
	}
	defer rows.Close()
	type size struct{ rows, bytes uint64 }
	sizes := map[string]size{}
	for rows.Next() {
		var t string
		var sz size
		if err := rows.Scan(&t, &sz.rows, &sz.bytes); err != nil {
			return err
		}
		sizes[t] = sz
	}
	if err := rows.Err(); err != nil {
		return err
	}
	ev := sizes["events"]
	line := "dedup tables on disk:"
	var total uint64
	for i, t := range dedupTables {
		sz := sizes[t]
		total += sz.bytes
		sep := ","
		if i == 0 {
			sep = ""
		}
		line += fmt.Sprintf("%s %s %.1f MB (%d rows)", sep, t, float64(sz.bytes)/1e6, sz.rows)
	}
	ratio := 0.0
	if ev.bytes > 0 {
		ratio = float64(total) / float64(ev.bytes)
	}
	fmt.Fprintf(w, "%s; total %.1f MB = %.2f × events (%.1f MB, %d rows)\n", line, float64(total)/1e6, ratio, float64(ev.bytes)/1e6, ev.rows)
	return nil
}
