package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
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
	// dedupLogKept is how long ingest_dedup_recent (the log of committed
	// ids) and ingest_dedup_marks are kept, by the server's clock, in
	// partitions of dedupLogPartition seconds dropped every
	// dedupLogJanitorEvery. An instance whose last successful read of the
	// log is older than dedupLogStale rebuilds its filter instead of
	// reading on. Kept must exceed Stale by a read's timeout (30 s) and by
	// the time between a block's stamp and its commit (both are inside
	// one insert: well under a second), hence two minutes between them.
	dedupLogKept         = 3 * time.Minute
	dedupLogStale        = time.Minute
	dedupLogPartition    = 10
	dedupLogJanitorEvery = 10 * time.Second
	// ownKept: this instance remembers the marks of its inserts this long
	// (an older mark still unread is taken for another writer's: the log
	// is then read, which is always safe).
	ownKept = 10 * time.Minute
	// markOverlap (seconds): marks are read from this long before the
	// watermark (see othersWrote).
	markOverlap = 10
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
// window from ingest_dedup_ids; before every lookup, the rows of the log
// (ingest_dedup_recent) committed at or after the watermark are added, if
// a mark (ingest_dedup_marks) says another writer committed since (see
// tail), and the watermark moves to the horizon read just before them.
// The horizon is one
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

	mu       sync.Mutex    // the filter and the watermark
	w        *windowFilter // nil: not ready; lookups go to ClickHouse whole
	st       tailState     // where the log is read from
	usedBits float64       // bits per id of the current filter
	gen      uint64        // incremented each time a rebuilt filter is installed

	// own: the marks of this instance's inserts (ingest_dedup_marks), so
	// that a lookup can skip the log when no one else wrote.
	ownMu sync.Mutex
	own   map[fingerprint]*ownInsert

	// rebuildMu is held by a rebuild (and by tests that hold one off).
	rebuildMu  sync.Mutex
	rebuilding atomic.Bool
	retryAt    time.Time // after a failed rebuild, the background waits until then (its goroutine only)
	stop       chan struct{}
	done       chan struct{}
	ctx        context.Context // cancelled by close: a rebuild stops with the pipeline
	cancel     context.CancelFunc

	readySeconds prometheus.Gauge
	candidates   prometheus.Counter
	probed       prometheus.Counter
	fallback     prometheus.Counter
	tailSeconds  prometheus.Histogram
	logReads     prometheus.Counter
	logSkips     prometheus.Counter
}

// tailState is where a filter reads the log from: rows committed at or
// after watermark (server Unix seconds), and when (server time) the log
// was last read whole up to there.
type tailState struct {
	watermark int64
	lastRead  int64
}

// fingerprint is what ingest_dedup_marks_mv records of one block written
// to the log: its rows, the sum of their id hashes and of their seen_at
// (Unix seconds), all modulo 2^64. This instance computes the same over
// each batch it inserts.
type fingerprint struct{ rows, hashSum, seenSum uint64 }

// ownInsert is one of this instance's inserts: running (not done), or
// done and added to the filter of generation gen (0: to none).
type ownInsert struct {
	at   time.Time
	done bool
	gen  uint64
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
		insertQ:     regexp.MustCompile(`(?is)^\s*insert\s+into\s+((` + db + `|` + "`" + db + "`" + `|"` + db + `")\.)?(events|ingest_dedup_recent|` + "`events`|`ingest_dedup_recent`" + `|"events"|"ingest_dedup_recent")[\s(]`),
		queryPrefix: "adoptscope-ingest-" + strconv.FormatUint(rand.Uint64(), 36) + "-",
		own:         map[fingerprint]*ownInsert{},
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
			Name: "adoptscope_ingest_dedup_tail_seconds", Help: "Time to learn what other instances committed (ingest_dedup_marks, and ingest_dedup_recent when they wrote) before a lookup.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		logReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_dedup_log_reads_total", Help: "Reads of the log of committed ids (ingest_dedup_recent): another writer had committed since the last read.",
		}),
		logSkips: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_dedup_log_skips_total", Help: "Reads of the log skipped: every block committed since the last read was this instance's own.",
		}),
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	p.metrics.Registry.MustRegister(f.readySeconds, f.candidates, f.probed, f.fallback, f.tailSeconds, f.logReads, f.logSkips,
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

// start builds the filter in the background; until it is built, lookups
// go to ClickHouse whole.
func (f *dedupFilter) start() {
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

// keepUp is the background step: read the log, drop the days out of the
// window, and rebuild when the filter is missing or the log moved past it.
func (f *dedupFilter) keepUp() error {
	f.mu.Lock()
	ready := f.w != nil
	f.mu.Unlock()
	f.pruneOwn()
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
// whole while it runs. The window is read a day at a time, with the log
// read between days: the log is kept minutes, a rebuild of a large window
// takes longer.
func (f *dedupFilter) rebuild(ctx context.Context) (int64, error) {
	f.mu.Lock()
	f.w = nil
	f.mu.Unlock()
	f.readySeconds.Set(0)
	h0, now0, err := f.horizon(ctx, true)
	if err != nil {
		return 0, err
	}
	st := tailState{watermark: h0, lastRead: now0}
	since := f.p.cfg.Now().Add(-f.p.cfg.DedupWindow).UTC()
	sinceDay := dayOf(since.Unix())
	counts, err := f.dayCounts(ctx, "ingest_dedup_ids")
	if err != nil {
		return 0, err
	}
	legacy := f.p.legacy.active(since)
	if legacy {
		old, err := f.dayCounts(ctx, "ingest_event_ids")
		if err != nil {
			return 0, err
		}
		for d, n := range old {
			counts[d] += n
		}
	}
	var total uint64
	var days []int64
	for d, n := range counts {
		if d >= sinceDay {
			total += n
			days = append(days, d)
		}
	}
	slices.Sort(days)
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
	for _, d := range days {
		if n := counts[d]; n > 0 {
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
	for _, d := range days {
		lo, hi := max(d*86400, since.Unix()), (d+1)*86400
		if err := read("SELECT id_hash, toUInt32(seen_at) FROM ingest_dedup_ids WHERE seen_at >= toDateTime(?) AND seen_at < toDateTime(?)", lo, hi); err != nil {
			return 0, fmt.Errorf("read ingest_dedup_ids: %w", err)
		}
		if err := f.tail(ctx, w, &st, false); err != nil {
			return 0, err
		}
	}
	if legacy {
		if err := read("SELECT id_hash, toUInt32(seen_at) FROM ingest_event_ids WHERE seen_at >= toDateTime(?) AND seen_at <= toDateTime(?)", since.Unix(), f.p.legacy.until.Unix()); err != nil {
			return 0, fmt.Errorf("read ingest_event_ids: %w", err)
		}
	}
	if err := f.tail(ctx, w, &st, false); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gen++
	f.w, f.st, f.usedBits = w, st, bits
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
// into the log) still running, and before the current second. now is the
// server's current time.
//
// A rebuild counts this instance's inserts too (own): learn adds nothing
// to a filter being built.
func (f *dedupFilter) horizon(ctx context.Context, own bool) (h, now int64, err error) {
	// The query lists itself (its text names "insert"), so now is read
	// even when nothing else runs.
	rows, err := f.p.store.Conn.Query(ctx, "SELECT toUInt32(now()), elapsed, query, query_id FROM system.processes WHERE positionCaseInsensitive(query, 'insert') > 0")
	if err != nil {
		return 0, 0, fmt.Errorf("read the running inserts: %w", err)
	}
	defer rows.Close()
	var n uint32
	var oldest float64
	for rows.Next() {
		var e float64
		var q, id string
		if err := rows.Scan(&n, &e, &q, &id); err != nil {
			return 0, 0, err
		}
		// This instance's own inserts do not hold the horizon back: it
		// adds what they wrote itself (learn), whatever their outcome.
		if f.insertQ.MatchString(q) && (own || !strings.HasPrefix(id, f.queryPrefix)) {
			oldest = max(oldest, e)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if n == 0 {
		if err := f.p.store.Conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&n); err != nil {
			return 0, 0, err
		}
	}
	return int64(float64(n)-oldest) - 1, int64(n), nil
}

// errStale: the log may have been dropped past the filter's watermark.
var errStale = errors.New("the log of committed ids was last read too long ago")

// tail adds to w the log's rows committed since st.watermark by other
// writers, and moves the watermark to the horizon read first.
//
// It first reads ingest_dedup_marks since the watermark: one row per
// block written to the log. When each of them is an insert of this
// instance already in the filter, or still running (learn adds it when it
// ends, before its ids leave inFlight), nobody else committed anything
// and the log is not read. installed: w is the filter in use (f.mu held);
// otherwise a rebuild's, which no insert of this instance has been added
// to, so any mark means reading the log.
func (f *dedupFilter) tail(ctx context.Context, w *windowFilter, st *tailState, installed bool) error {
	start := time.Now()
	h, now, err := f.horizon(ctx, !installed)
	if err != nil {
		return err
	}
	if now-st.lastRead > int64(dedupLogStale/time.Second) {
		return fmt.Errorf("%w (%ds ago; kept %s)", errStale, now-st.lastRead, dedupLogKept)
	}
	foreign, err := f.othersWrote(ctx, st.watermark, installed)
	if err != nil {
		return err
	}
	if foreign {
		f.logReads.Inc()
		rows, err := f.p.store.Conn.Query(ctx, "SELECT id_hash, toUInt32(seen_at) FROM ingest_dedup_recent WHERE committed_at >= toDateTime(?)", st.watermark)
		if err != nil {
			return fmt.Errorf("read ingest_dedup_recent: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id uint64
			var s uint32
			if err := rows.Scan(&id, &s); err != nil {
				return err
			}
			if !w.add(id, dayOf(int64(s))) {
				return errFull
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
	} else {
		f.logSkips.Inc()
	}
	st.watermark, st.lastRead = h, now
	f.tailSeconds.Observe(time.Since(start).Seconds())
	return nil
}

var errFull = errors.New("the window outgrew ADOPTSCOPE_INGEST_DEDUP_FILTER_MEMORY: rebuilding the filter with fewer bits per id")

// othersWrote reports whether a block committed to the log since
// watermark may be another writer's (see tail).
func (f *dedupFilter) othersWrote(ctx context.Context, watermark int64, installed bool) (bool, error) {
	// A block's mark and its log rows are stamped by two views, one after
	// the other: the marks are read from markOverlap before the watermark.
	rows, err := f.p.store.Conn.Query(ctx, "SELECT rows, hash_sum, seen_sum FROM ingest_dedup_marks WHERE committed_at >= toDateTime(?)", watermark-markOverlap)
	if err != nil {
		return false, fmt.Errorf("read ingest_dedup_marks: %w", err)
	}
	defer rows.Close()
	foreign := false
	f.ownMu.Lock()
	defer f.ownMu.Unlock()
	for rows.Next() {
		var fp fingerprint
		if err := rows.Scan(&fp.rows, &fp.hashSum, &fp.seenSum); err != nil {
			return false, err
		}
		o := f.own[fp]
		if !installed || o == nil || (o.done && o.gen != f.gen) {
			foreign = true
		}
	}
	return foreign, rows.Err()
}

// tailLocked reads the log into the filter in use and drops the days out
// of the window. f.mu is held.
func (f *dedupFilter) tailLocked(ctx context.Context) error {
	if f.w == nil {
		return nil
	}
	if err := f.tail(ctx, f.w, &f.st, true); err != nil {
		if errors.Is(err, errStale) || errors.Is(err, errFull) {
			f.w = nil
			go f.rebuildNow()
		}
		return err
	}
	f.w.dropBefore(dayOf(f.p.cfg.Now().Add(-f.p.cfg.DedupWindow).Unix()))
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

// insertCtx names an insert of this instance (see horizon) and records
// its fingerprint before it is sent: its mark may be read while it runs.
func (f *dedupFilter) insertCtx(ctx context.Context, fp fingerprint) context.Context {
	f.ownMu.Lock()
	f.own[fp] = &ownInsert{at: time.Now()}
	f.ownMu.Unlock()
	return clickhouse.Context(ctx, clickhouse.WithQueryID(f.queryPrefix+strconv.FormatUint(f.inserts.Add(1), 10)))
}

// pruneOwn forgets the inserts ended more than ownKept ago.
func (f *dedupFilter) pruneOwn() {
	f.ownMu.Lock()
	defer f.ownMu.Unlock()
	for fp, o := range f.own {
		if o.done && time.Since(o.at) > ownKept {
			delete(f.own, fp)
		}
	}
}

// learn adds the events this instance tried to insert (c), whether the
// insert succeeded or not (a failed one may have stored some): the tail
// does not wait for this instance's inserts, and skips their marks. Ids
// that were not stored become false positives, looked up.
func (f *dedupFilter) learn(c *columns) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var gen uint64
	if f.w != nil {
		gen = f.gen
		for i, e := range c.rows {
			if !f.w.add(c.hashes[i], dayOf(e.ReceivedAt.Unix())) {
				f.w = nil
				gen = 0
				go f.rebuildNow()
				break
			}
		}
	}
	// gen 0 (no filter): a rebuild reads them from ClickHouse, and the
	// tail reads their marks' log rows.
	f.ownMu.Lock()
	if o := f.own[c.fp]; o != nil {
		o.done, o.gen, o.at = true, gen, time.Now()
	}
	f.ownMu.Unlock()
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
