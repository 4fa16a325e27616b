package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the dedup filter (ingest/README.md, "Exactly once at scale").
const (
	// DefaultDedupFilterBits: 20 bits per id; every day's filter is probed,
	// so about 8 × 0.015 % of new ids in a 7-day window are ones the filter
	// cannot call new (each then costs a pruned lookup).
	DefaultDedupFilterBits = 20
	// DefaultDedupFilterMemory caps the filter; over it, bits per id are
	// lowered at the rebuild so that the window fits.
	DefaultDedupFilterMemory = 640 << 20
	// minFilterBits: below this the filter passes too many ids on to
	// ClickHouse to be worth its memory; the pipeline looks every id up
	// instead (and says so in its log).
	minFilterBits = 4
	// filterHeadroom: a rebuild sizes the filter for this many times the
	// ids the window holds.
	filterHeadroom = 1.15
	// dedupLogKept is how long ingest_dedup_log is kept; an instance whose
	// last read of it is older than dedupLogStale rebuilds its filter
	// instead of reading on.
	dedupLogKept  = 2 * time.Hour
	dedupLogStale = time.Hour
	// tailEvery: an idle instance still reads the log this often, so a
	// lookup after a quiet spell has little to read.
	tailEvery = time.Second
	// rebuildRetry: after a failed rebuild, the next is tried this much later.
	rebuildRetry = 30 * time.Second
)

// dedupFilter is a pipeline's filter of the dedup window's id hashes, kept
// up to date with what every instance commits.
//
// What it guarantees: every id stored in ingest_dedup_ids within the
// window, and committed before a lookup began, is "maybe" for that lookup
// (no false negative). So an id it calls new is new; an id it calls maybe
// is looked up in ClickHouse, which decides (a false positive is stored).
//
// How: a rebuild notes the log's horizon H, then reads every hash of the
// window from ingest_dedup_ids; before every lookup, the rows of
// ingest_dedup_log committed at or after the watermark are added and the
// watermark moves to the horizon read just before them. The horizon is one
// second before the start of the oldest insert into events still running
// (system.processes) and before the current second, on the server's clock
// (the log's committed_at is the server's now() inside the insert): a row
// stamped before the horizon belongs to an insert that had finished when
// the horizon was read, so the read that follows sees it; any other row is
// stamped at or after the horizon and is read next time.
type dedupFilter struct {
	p       *Pipeline
	bits    float64 // configured bits per id (the most a rebuild uses)
	memory  int64   // cap of the filter's memory
	insertQ *regexp.Regexp
	// queryPrefix starts the query id of this instance's inserts.
	queryPrefix string
	inserts     atomic.Uint64

	mu        sync.Mutex    // the filter and the watermark
	w         *windowFilter // nil: not ready; lookups go to ClickHouse whole
	watermark int64         // server Unix seconds: the log is read from here
	usedBits  float64       // bits per id of the current filter

	// rebuildMu is held by a rebuild (and by tests that hold one off).
	rebuildMu  sync.Mutex
	rebuilding atomic.Bool
	retryAt    time.Time // after a failed rebuild, the background waits until then (its goroutine only)
	legacy     legacyIDs
	stop       chan struct{}
	done       chan struct{}
	ctx        context.Context // cancelled by close: a rebuild stops with the pipeline
	cancel     context.CancelFunc

	readySeconds prometheus.Gauge
	candidates   prometheus.Counter
	probed       prometheus.Counter
	fallback     prometheus.Counter
	tailSeconds  prometheus.Histogram
}

// legacyIDs: ids stored by a version before the filter (in ingest_event_ids
// only) are looked up there too, while they are in the window.
type legacyIDs struct {
	until time.Time // ids received before this may be in ingest_event_ids only; zero: none
}

func (l legacyIDs) active(since time.Time) bool { return !l.until.IsZero() && l.until.After(since) }

func newDedupFilter(p *Pipeline) *dedupFilter {
	db := regexp.QuoteMeta(p.store.Database)
	f := &dedupFilter{
		p: p, bits: float64(p.cfg.DedupFilterBits), memory: p.cfg.DedupFilterMemory,
		insertQ:     regexp.MustCompile(`(?is)^\s*insert\s+into\s+((` + db + `|` + "`" + db + "`" + `|"` + db + `")\.)?(events|ingest_dedup_log|` + "`events`|`ingest_dedup_log`" + `|"events"|"ingest_dedup_log")[\s(]`),
		queryPrefix: "adoptscope-ingest-" + strconv.FormatUint(rand.Uint64(), 36) + "-",
		stop:        make(chan struct{}),
		done:        make(chan struct{}),
		readySeconds: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_dedup_filter_rebuild_seconds", Help: "How long the last rebuild of the dedup filter took (0: not ready yet; every id is looked up in ClickHouse until it is).",
		}),
		candidates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_dedup_filter_maybe_total", Help: "Event ids the dedup filter could not call new, looked up in ClickHouse (duplicates and false positives).",
		}),
		probed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_dedup_filter_probed_total", Help: "Event ids checked against the dedup filter.",
		}),
		fallback: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_dedup_filter_fallback_total", Help: "Batches looked up in ClickHouse whole because the dedup filter was not ready.",
		}),
		tailSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "adoptscope_ingest_dedup_tail_seconds", Help: "Time to read ingest_dedup_log (ids committed since the last read) before a lookup.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	p.metrics.Registry.MustRegister(f.readySeconds, f.candidates, f.probed, f.fallback, f.tailSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_dedup_filter_ids", Help: "Id hashes held by the dedup filter.",
		}, func() float64 { k, _, _ := f.size(); return float64(k) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_dedup_filter_bytes", Help: "Memory of the dedup filter (at most ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY).",
		}, func() float64 { _, b, _ := f.size(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_dedup_filter_bits_per_id", Help: "Bits per id of the dedup filter (lowered when the window would not fit the memory cap).",
		}, func() float64 { _, _, b := f.size(); return b }),
	)
	return f
}

func (f *dedupFilter) size() (keys, bytes int64, bits float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return 0, 0, 0
	}
	return f.w.keys, f.w.used, f.usedBits
}

// start reads the legacy marker, then builds the filter in the
// background; until it is built, lookups go to ClickHouse whole.
func (f *dedupFilter) start() {
	f.readLegacy()
	go func() {
		defer close(f.done)
		if !f.rebuildNow() {
			f.retryAt = time.Now().Add(rebuildRetry)
		}
		tick := time.NewTicker(tailEvery)
		defer tick.Stop()
		for {
			select {
			case <-f.stop:
				return
			case <-tick.C:
			}
			if err := f.keepUp(); err != nil {
				f.p.log.Warn("ingest: dedup filter: read the log of committed ids", "error", err)
			}
		}
	}()
}

func (f *dedupFilter) close() {
	close(f.stop)
	f.cancel()
	<-f.done
}

func (f *dedupFilter) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(f.ctx, 30*time.Second)
}

// readLegacy reads when the filter's tables began: ids received before
// then may be in ingest_event_ids alone.
func (f *dedupFilter) readLegacy() {
	ctx, cancel := f.callCtx()
	defer cancel()
	var until time.Time
	var rows uint64
	err := f.p.store.Conn.QueryRow(ctx, "SELECT max(until), max(legacy_rows) FROM ingest_dedup_since").Scan(&until, &rows)
	if err != nil {
		// Unknown: assume ids of the whole window may be there.
		f.p.log.Warn("ingest: dedup filter: cannot read ingest_dedup_since; also looking ids up in ingest_event_ids", "error", err)
		f.legacy.until = f.p.cfg.Now().Add(time.Hour)
		return
	}
	if rows > 0 {
		f.legacy.until = until.UTC()
	}
}

// keepUp is the background step: read the log, drop the days out of the
// window, and rebuild when the filter is missing or the log moved past it.
func (f *dedupFilter) keepUp() error {
	f.mu.Lock()
	ready := f.w != nil
	f.mu.Unlock()
	if !ready {
		if !f.rebuilding.Load() && time.Now().After(f.retryAt) {
			if !f.rebuildNow() {
				f.retryAt = time.Now().Add(rebuildRetry)
			}
		}
		return nil
	}
	ctx, cancel := f.callCtx()
	defer cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tailLocked(ctx)
}

// rebuildNow rebuilds the filter unless a rebuild (or a test) holds it,
// and reports whether the filter is ready.
func (f *dedupFilter) rebuildNow() bool {
	if !f.rebuildMu.TryLock() {
		return false
	}
	defer f.rebuildMu.Unlock()
	f.rebuilding.Store(true)
	defer f.rebuilding.Store(false)
	start := time.Now()
	ctx, cancel := context.WithTimeout(f.ctx, 2*time.Hour)
	defer cancel()
	n, err := f.rebuild(ctx)
	if err != nil {
		f.p.log.Warn("ingest: dedup filter not built; every id is looked up in ClickHouse until it is", "error", err, "retry_in", rebuildRetry)
		return false
	}
	took := time.Since(start)
	f.readySeconds.Set(max(took.Seconds(), 1e-6))
	_, bytes, bits := f.size()
	f.p.log.Info("ingest: dedup filter ready", "ids", n, "bytes", bytes, "bits_per_id", bits, "took", took.Round(time.Millisecond))
	return true
}

// dayOf is the UTC day number of Unix seconds s.
func dayOf(s int64) int64 {
	if s < 0 {
		return (s - 86399) / 86400
	}
	return s / 86400
}

// rebuild reads every hash of the window into a new filter. The old one is
// dropped first (memory stays under the cap), so lookups go to ClickHouse
// whole while it runs.
func (f *dedupFilter) rebuild(ctx context.Context) (int64, error) {
	f.mu.Lock()
	f.w = nil
	f.mu.Unlock()
	f.readySeconds.Set(0)
	h0, err := f.horizon(ctx, true)
	if err != nil {
		return 0, err
	}
	since := f.p.cfg.Now().Add(-f.p.cfg.DedupWindow).UTC()
	sinceDay := dayOf(since.Unix())
	counts, err := f.dayCounts(ctx, "ingest_dedup_ids")
	if err != nil {
		return 0, err
	}
	if f.legacy.active(since) {
		old, err := f.dayCounts(ctx, "ingest_event_ids")
		if err != nil {
			return 0, err
		}
		for d, n := range old {
			counts[d] += n
		}
	}
	var total uint64
	for d, n := range counts {
		if d >= sinceDay {
			total += n
		}
	}
	// The window keeps its size from day to day (a day enters as one
	// leaves), but the days it touches are held whole: eight for a
	// seven-day window, and a new day's filter is sized like the largest
	// held. Room for 15 % more than it holds now.
	bits := f.bits
	if total > 0 {
		bits = min(bits, float64(f.memory)*8/(float64(total)*filterHeadroom))
	}
	bits = float64(int(bits*4)) / 4
	if bits < minFilterBits {
		return 0, fmt.Errorf("the window holds %d ids: a filter of %d bits per id would need %d MiB, more than ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY (%d MiB); raise it or shorten ADOPTSCOPE_INGEST_DEDUP_WINDOW",
			total, minFilterBits, int64(total)*minFilterBits/8>>20, f.memory>>20)
	}
	w := newWindowFilter(bits, f.memory)
	for d, n := range counts {
		if d >= sinceDay && n > 0 {
			if !w.reserve(d, int(n)) {
				return 0, errors.New("the window outgrew ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY while sizing the filter")
			}
		}
	}
	read := func(q string, args ...any) error {
		rows, err := f.p.store.Conn.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var h uint64
			var s uint32
			if err := rows.Scan(&h, &s); err != nil {
				return err
			}
			if !w.add(h, dayOf(int64(s))) {
				return errors.New("the window outgrew ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY while reading it")
			}
		}
		return rows.Err()
	}
	if err := read("SELECT id_hash, toUInt32(seen_at) FROM ingest_dedup_ids WHERE seen_at >= toDateTime(?)", since.Unix()); err != nil {
		return 0, fmt.Errorf("read ingest_dedup_ids: %w", err)
	}
	if f.legacy.active(since) {
		if err := read("SELECT id_hash, toUInt32(seen_at) FROM ingest_event_ids WHERE seen_at >= toDateTime(?) AND seen_at <= toDateTime(?)", since.Unix(), f.legacy.until.Unix()); err != nil {
			return 0, fmt.Errorf("read ingest_event_ids: %w", err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.w, f.watermark, f.usedBits = w, h0, bits
	if err := f.tailLocked(ctx); err != nil {
		f.w = nil
		return 0, err
	}
	return f.w.keys, nil
}

// dayCounts is the rows of table per UTC day, from its daily partitions'
// part sizes (no scan).
func (f *dedupFilter) dayCounts(ctx context.Context, table string) (map[int64]uint64, error) {
	rows, err := f.p.store.Conn.Query(ctx, "SELECT partition, sum(rows) FROM system.parts WHERE database = ? AND table = ? AND active GROUP BY partition", f.p.store.Database, table)
	if err != nil {
		return nil, fmt.Errorf("sizes of %s: %w", table, err)
	}
	defer rows.Close()
	out := map[int64]uint64{}
	for rows.Next() {
		var part string
		var n uint64
		if err := rows.Scan(&part, &n); err != nil {
			return nil, err
		}
		t, err := time.Parse("20060102", part)
		if err != nil {
			continue
		}
		out[dayOf(t.Unix())] += n
	}
	return out, rows.Err()
}

// horizon is the server time (Unix seconds) before which no row of the log
// can still be committed, but by this instance's own inserts: one second
// before the start of the oldest other insert into events (or straight
// into the log) still running, and before the current second.
//
// A rebuild counts this instance's inserts too (own): learn adds nothing
// to a filter being built.
func (f *dedupFilter) horizon(ctx context.Context, own bool) (int64, error) {
	// The query lists itself (its text names "insert"), so now is read
	// even when nothing else runs.
	rows, err := f.p.store.Conn.Query(ctx, "SELECT toUInt32(now()), elapsed, query, query_id FROM system.processes WHERE positionCaseInsensitive(query, 'insert') > 0")
	if err != nil {
		return 0, fmt.Errorf("read the running inserts: %w", err)
	}
	defer rows.Close()
	var now uint32
	var oldest float64
	for rows.Next() {
		var e float64
		var q, id string
		if err := rows.Scan(&now, &e, &q, &id); err != nil {
			return 0, err
		}
		// This instance's own inserts do not hold the horizon back: it
		// adds what they wrote itself (learn), whatever their outcome.
		if f.insertQ.MatchString(q) && (own || !strings.HasPrefix(id, f.queryPrefix)) {
			oldest = max(oldest, e)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if now == 0 {
		if err := f.p.store.Conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
			return 0, err
		}
	}
	return int64(float64(now)-oldest) - 1, nil
}

// tailLocked adds the log's rows committed since the watermark and drops
// the days out of the window. f.mu is held.
func (f *dedupFilter) tailLocked(ctx context.Context) error {
	if f.w == nil {
		return nil
	}
	start := time.Now()
	h, err := f.horizon(ctx, false)
	if err != nil {
		return err
	}
	if h-f.watermark > int64(dedupLogStale/time.Second) {
		// The log may have been dropped past the watermark.
		f.w = nil
		go f.rebuildNow()
		return fmt.Errorf("the filter last read ingest_dedup_log %ds ago (kept %s): rebuilding it", h-f.watermark, dedupLogKept)
	}
	rows, err := f.p.store.Conn.Query(ctx, "SELECT id_hash, toUInt32(seen_at) FROM ingest_dedup_log WHERE committed_at >= toDateTime(?)", f.watermark)
	if err != nil {
		return fmt.Errorf("read ingest_dedup_log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var s uint32
		if err := rows.Scan(&id, &s); err != nil {
			return err
		}
		if !f.w.add(id, dayOf(int64(s))) {
			f.w = nil
			go f.rebuildNow()
			return errors.New("the window outgrew ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY: rebuilding the filter with fewer bits per id")
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f.watermark = h
	f.w.dropBefore(dayOf(f.p.cfg.Now().Add(-f.p.cfg.DedupWindow).Unix()))
	f.tailSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// maybe returns the ids the filter cannot call new, after reading what was
// committed since its last read; ok is false when the filter is not ready
// (every id must then be looked up).
func (f *dedupFilter) maybe(ctx context.Context, ids []string) (maybe []string, ok bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		f.fallback.Inc()
		return ids, false, nil
	}
	if err := f.tailLocked(ctx); err != nil {
		if f.w == nil {
			// Dropped for a rebuild: look the batch up whole.
			f.p.log.Warn("ingest: dedup filter", "error", err)
			f.fallback.Inc()
			return ids, false, nil
		}
		return nil, false, err
	}
	for _, id := range ids {
		if f.w.has(sipHash64(id)) {
			maybe = append(maybe, id)
		}
	}
	f.probed.Add(float64(len(ids)))
	f.candidates.Add(float64(len(maybe)))
	return maybe, true, nil
}

// insertCtx names an insert of this instance (see horizon).
func (f *dedupFilter) insertCtx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithQueryID(f.queryPrefix+strconv.FormatUint(f.inserts.Add(1), 10)))
}

// learn adds the events of a batch this instance tried to insert, whether
// the insert succeeded or not (a failed one may have stored some): the
// tail does not wait for this instance's inserts, so it may never read
// them. Ids that were not stored become false positives, looked up.
func (f *dedupFilter) learn(batch []*pending) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return // a rebuild reads them from ClickHouse
	}
	for _, pd := range batch {
		for i := range pd.events {
			e := &pd.events[i]
			if !f.w.add(sipHash64(e.EventID), dayOf(e.ReceivedAt.Unix())) {
				f.w = nil
				go f.rebuildNow()
				return
			}
		}
	}
}

// addForTest puts id in the filter without storing it: a false positive.
func (f *dedupFilter) addForTest(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.w == nil {
		return false
	}
	return f.w.add(sipHash64(id), dayOf(f.p.cfg.Now().Unix()))
}

// holdForTest drops the filter and keeps it from being rebuilt until
// release is called: the state of an instance that has just started.
func (f *dedupFilter) holdForTest() (release func()) {
	f.rebuildMu.Lock()
	f.mu.Lock()
	f.w = nil
	f.mu.Unlock()
	f.readySeconds.Set(0)
	return func() {
		f.rebuildMu.Unlock()
		f.rebuildNow()
	}
}

func (f *dedupFilter) ready() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w != nil
}
