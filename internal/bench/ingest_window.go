package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// benchWindow is the dedup window the filled ids are spread over: the
// default of the ingest the benchmark starts (ADOPTSCOPE_INGEST_DEDUP_WINDOW).
const benchWindow = 7 * 24 * time.Hour

// windowFill is what filling the dedup window took.
type windowFill struct {
	ids            int64
	fill, optimize time.Duration
	parts          uint64 // active parts of ingest_dedup_ids after it
}

// fillWindow stores n ids in the dedup window of s's database straight on
// the server (INSERT … SELECT from numbers(), one statement per UTC day so
// that each block lands in one daily partition), spread evenly over the
// window's last 7 days but its first and last hour, then merges each
// day's parts as background merges would over the days. With log, the ids
// also go to the log of committed ids (ingest_dedup_recent, with a mark in
// ingest_dedup_marks, as the views on events write them), from where a
// running ingest learns them.
func fillWindow(ctx context.Context, s *store.Store, n int64, log bool, w io.Writer) (windowFill, error) {
	f := windowFill{ids: n}
	if n <= 0 {
		return f, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 6*time.Hour)
	defer cancel()
	var now uint32
	if err := s.Conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
		return f, err
	}
	salt := rand.Uint32()
	first := int64(now) - int64(benchWindow/time.Second) + 3600 // the oldest id
	last := int64(now) - 3600
	span := last - first
	fmt.Fprintf(w, "filling the dedup window with %d ids...\n", n)
	start := time.Now()
	// Day by day: ids [lo, hi) get times spread over [dayLo, dayHi).
	var done int64
	for dayLo := first; dayLo < last; {
		dayHi := min((dayLo/86400+1)*86400, last)
		hi := n * (dayHi - first) / span
		if hi > done {
			gen := "SELECT sipHash64(id) AS id_hash, id AS event_id, toDateTime(? + intHash32(number) % ?) AS seen_at " +
				"FROM (SELECT number, concat('window-', toString(?), '-', toString(number)) AS id FROM numbers(?, ?))"
			args := []any{dayLo, max(dayHi-dayLo, 1), salt, done, hi - done}
			if err := s.Conn.Exec(ctx, "INSERT INTO ingest_dedup_ids (id_hash, event_id, seen_at) "+gen, args...); err != nil {
				return f, fmt.Errorf("bench ingest: fill ingest_dedup_ids: %w", err)
			}
			if log {
				if err := s.Conn.Exec(ctx, "INSERT INTO ingest_dedup_recent (committed_at, id_hash, seen_at) SELECT now(), id_hash, seen_at FROM ("+gen+")", args...); err != nil {
					return f, fmt.Errorf("bench ingest: fill ingest_dedup_recent: %w", err)
				}
				// The log's rows are read by a running ingest only when a
				// mark says someone else wrote (migration 0120).
				if err := s.Conn.Exec(ctx, "INSERT INTO ingest_dedup_marks (committed_at, rows, hash_sum, seen_sum) SELECT now(), count(), sum(id_hash), sum(toUInt64(toUInt32(seen_at))) FROM ("+gen+")", args...); err != nil {
					return f, fmt.Errorf("bench ingest: fill ingest_dedup_marks: %w", err)
				}
			}
			done = hi
		}
		dayLo = dayHi
	}
	f.fill = time.Since(start)
	start = time.Now()
	parts, err := partitions(ctx, s, "ingest_dedup_ids")
	if err != nil {
		return f, err
	}
	for _, p := range parts {
		// p is a partition id read back from system.parts (digits).
		if err := s.Conn.Exec(ctx, "OPTIMIZE TABLE ingest_dedup_ids PARTITION "+p+" FINAL"); err != nil {
			return f, fmt.Errorf("bench ingest: merge ingest_dedup_ids: %w", err)
		}
	}
	f.optimize = time.Since(start)
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.parts WHERE database = ? AND table = 'ingest_dedup_ids' AND active", s.Database).Scan(&f.parts); err != nil {
		return f, err
	}
	fmt.Fprintf(w, "dedup window filled: %d ids in %s (%.0f ids/s), merged into %d parts in %s\n",
		n, f.fill.Round(time.Millisecond), float64(n)/f.fill.Seconds(), f.parts, f.optimize.Round(time.Millisecond))
	return f, nil
}

func partitions(ctx context.Context, s *store.Store, table string) ([]string, error) {
	rows, err := s.Conn.Query(ctx, "SELECT DISTINCT partition FROM system.parts WHERE database = ? AND table = ? AND active ORDER BY partition", s.Database, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return nil, fmt.Errorf("unexpected partition %q of %s", p, table)
			}
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// filterState is the dedup filter of the ingest under test, from /metrics.
type filterState struct {
	ready         bool
	rebuild       time.Duration
	ids, bytes    float64
	bitsPerID     float64
	probed, maybe float64
	tailSec       float64 // time learning what others committed (marks, and the log when they wrote), in all
	logReads      float64 // reads of the log (another writer had committed)
	logSkips      float64 // reads of the log skipped (only this instance had)
	found         bool    // the metrics exist (an ingest with the filter)
}

func scrapeFilter(ctx context.Context, base string) (filterState, error) {
	var st filterState
	fams, err := scrapeMetrics(ctx, http.DefaultClient, base)
	if err != nil {
		return st, err
	}
	value := func(name string) float64 { return metricValue(fams, name) }
	_, st.found = fams["adoptscope_ingest_dedup_filter_rebuild_seconds"]
	sec := value("adoptscope_ingest_dedup_filter_rebuild_seconds")
	st.ready = sec > 0
	st.rebuild = time.Duration(sec * float64(time.Second))
	st.ids = value("adoptscope_ingest_dedup_filter_ids")
	st.bytes = value("adoptscope_ingest_dedup_filter_bytes")
	st.bitsPerID = value("adoptscope_ingest_dedup_filter_bits_per_id")
	st.probed = value("adoptscope_ingest_dedup_filter_probed_total")
	st.maybe = value("adoptscope_ingest_dedup_filter_maybe_total")
	st.logReads = value("adoptscope_ingest_dedup_log_reads_total")
	st.logSkips = value("adoptscope_ingest_dedup_log_skips_total")
	if f := fams["adoptscope_ingest_dedup_tail_seconds"]; f != nil && len(f.GetMetric()) > 0 {
		st.tailSec = f.GetMetric()[0].GetHistogram().GetSampleSum()
	}
	return st, nil
}

// fillBenchWindow fills the dedup window of the database the ingest under
// test will use (o.WindowIDs ids): the benchmark's own database, migrated
// here first, or with --url the configured one, where the ids also go to
// the log of committed ids for the running ingest to learn.
func fillBenchWindow(ctx context.Context, o IngestOptions, srv *app.Server, db string, w io.Writer) (windowFill, error) {
	if o.WindowIDs <= 0 {
		return windowFill{}, nil
	}
	if o.URL != "" {
		db = o.Config.ClickHouse.Database
	}
	b, err := srv.OpenDatabase(ctx, db, o.Log)
	if err != nil {
		return windowFill{}, err
	}
	defer b.Close()
	if b.Store.Cluster != "" {
		return windowFill{}, errors.New("bench ingest: --window-ids fills the tables of a single server (on a cluster ingest looks every id up in ingest_event_ids)")
	}
	return fillWindow(ctx, b.Store, o.WindowIDs, o.URL != "", w)
}

// waitFilter waits until the ingest under test has built its dedup filter
// (or has none) and holds the ids filled, and says how long the rebuild
// took, what it holds, and the ingest's memory then.
func waitFilter(ctx context.Context, t ingestTarget, fill windowFill, w io.Writer) error {
	_, err := waitFilterState(ctx, t, w, float64(fill.ids)*0.99, 3*time.Hour)
	return err
}

func waitFilterState(ctx context.Context, t ingestTarget, w io.Writer, minIDs float64, limit time.Duration) (filterState, error) {
	start := time.Now()
	for {
		st, err := scrapeFilter(ctx, t.url)
		if err != nil {
			return st, err
		}
		if !st.found {
			fmt.Fprintln(w, "dedup filter: none (a cluster, or turned off): every id is looked up in ClickHouse")
			return st, nil
		}
		if st.ready && st.ids >= minIDs {
			rss := ""
			if t.pid > 0 {
				rss = fmt.Sprintf("; ingest RSS %.0f MiB", float64(procStatusKB(t.pid, "VmRSS:"))/1024)
			}
			fmt.Fprintf(w, "dedup filter ready: %.0f ids, %.1f MiB at %.2f bits per id, rebuilt in %s (waited %s)%s\n",
				st.ids, st.bytes/(1<<20), st.bitsPerID, st.rebuild.Round(time.Millisecond), time.Since(start).Round(100*time.Millisecond), rss)
			return st, nil
		}
		if time.Since(start) > limit {
			return st, fmt.Errorf("bench ingest: the dedup filter was not ready within %s", limit)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lookups are the ingest's dedup counters at one moment.
type lookups struct {
	batches, lookupSec float64
	filter             filterState
	ok                 bool
}

func scrapeLookups(ctx context.Context, t ingestTarget) lookups {
	b, err := scrapeBatches(ctx, t.url)
	if err != nil {
		return lookups{}
	}
	f, err := scrapeFilter(ctx, t.url)
	if err != nil {
		return lookups{}
	}
	return lookups{batches: b.batches, lookupSec: b.lookupSec, filter: f, ok: true}
}

// lookupLine is the report's line on the dedup window: the ids it held,
// the rate, the lookup time per batch and, with the filter, the share of
// ids it passed on to ClickHouse.
func lookupLine(ctx context.Context, t ingestTarget, fill windowFill, before lookups, events int, took time.Duration) string {
	after := scrapeLookups(ctx, t)
	if !before.ok || !after.ok {
		return ""
	}
	n := after.batches - before.batches
	if n <= 0 {
		return ""
	}
	line := fmt.Sprintf("dedup window: %d ids filled before the run; %.0f events/s with %.1f ms of dedup lookup per batch",
		fill.ids, float64(events)/took.Seconds(), 1000*(after.lookupSec-before.lookupSec)/n)
	if after.filter.found {
		probed := after.filter.probed - before.filter.probed
		maybe := after.filter.maybe - before.filter.maybe
		if probed > 0 {
			reads := after.filter.logReads - before.filter.logReads
			skips := after.filter.logSkips - before.filter.logSkips
			line += fmt.Sprintf(" (%.1f ms of it learning what other writers committed: the log read %.0f times, skipped %.0f times as only this instance had written); filter: %.0f ids probed, %.0f (%.3f %%) looked up in ClickHouse, %.0f ids held in %.1f MiB",
				1000*(after.filter.tailSec-before.filter.tailSec)/n, reads, skips, probed, maybe, 100*maybe/probed, after.filter.ids, after.filter.bytes/(1<<20))
		}
	} else {
		line += "; no filter: every id looked up"
	}
	return line
}
