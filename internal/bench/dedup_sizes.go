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
	ratio := func(b uint64) float64 {
		if ev.bytes == 0 {
			return 0
		}
		return float64(b) / float64(ev.bytes)
	}
	line := "dedup tables on disk:"
	var window, log uint64
	for i, t := range dedupTables {
		sz := sizes[t]
		if i < 2 {
			window += sz.bytes
		} else {
			log += sz.bytes
		}
		sep := ","
		if i == 0 {
			sep = ""
		}
		line += fmt.Sprintf("%s %s %.1f MB (%d rows)", sep, t, float64(sz.bytes)/1e6, sz.rows)
	}
	fmt.Fprintf(w, "%s; the window's ids %.1f MB = %.2f × events (%.1f MB, %d rows), the log of the last minutes %.1f MB = %.2f ×, in all %.2f ×\n",
		line, float64(window)/1e6, ratio(window), float64(ev.bytes)/1e6, ev.rows, float64(log)/1e6, ratio(log), ratio(window+log))
	return nil
}
