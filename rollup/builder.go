// Package rollup builds the rollup tables behind ingest.
//
// On a single server an insert into events also writes rollup_queue (schema
// migration 0203), stamped with the server's clock in ingested_at. The
// builder moves the queue into the rollups in windows: it inserts the rows
// of (last window end, new end] into rollup_feed, a Null table carrying the
// rollup views, as one block. Once that insert has succeeded, and only
// then, the builder records the window in rollup_windows (a statement of
// its own: no view may rely on running after the others, see migration
// 0204). A window whose insert failed in any view is not recorded and is
// built again at the next build.
//
// What that cannot undo: ClickHouse has no transaction across the views of
// one insert, so when one view fails, views that had already taken the
// block keep it, and the window's rebuild adds it to them a second time
// (the distinct-count and first-seen rollups are unaffected; the event
// sums of rollup_events_day, rollup_person_day and rollup_version_day
// count it twice). The same holds when a builder dies between its insert
// and the record. Both are rare (a view failing on a block the others
// accept; a crash in a window of milliseconds) and logged.
//
// Two things keep every row built exactly once:
//
//   - The horizon. A window ends before the start of the oldest insert into
//     events still running (system.processes) and before the current second:
//     a row stamped at or before the end can no longer arrive. Seconds are
//     the clock's resolution on 18.16, so a build waits at most a second for
//     the rows just written.
//   - The lease. One builder per database: the table rollup_lease is renamed
//     to rollup_lease_<holder> by whoever builds (RENAME is atomic and fails
//     when the name is taken). The holder writes a heartbeat before every
//     window and checks that its table still exists; a lease whose heartbeat
//     is older than the lease TTL is taken over by renaming it.
//
// The rollups of the other configured time zones are fed by the same
// windows and backfilled when a zone is added (zones.go).
//
// On a cluster the views stay on the events tables and the builder does
// nothing.
package rollup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Config tunes the builder; zero values take the defaults.
type Config struct {
	// Interval between builds of the background loop (Run). Charts trail
	// ingest by up to about this much. Default 5 s.
	Interval time.Duration
	// MaxLag: while inserts into events are running, the loop leaves the
	// queue to grow until its oldest row is this old, so that a burst of
	// ingest gets the CPU and is built afterwards, in larger windows that
	// cost less per event. Zero takes the default, 1 min; at most
	// Interval means never defer.
	MaxLag time.Duration
	// WindowRows caps the rows of one window, sent as one block: the
	// server holds the block in memory while the views group it. Larger
	// windows collapse more rows per person-day and cost less per event.
	// Default 1,000,000.
	WindowRows uint64
	// LeaseTTL is how long a lease lives without a heartbeat before
	// another builder takes it over. Default 2 min.
	LeaseTTL time.Duration
	// QueryTimeout bounds each ClickHouse call. Default 5 min (a window of
	// a million rows takes a few seconds).
	QueryTimeout time.Duration
	// Zones are the time zones other than UTC with rollups of their own
	// (ADOPTSCOPE_TIME_ZONES, checked by NormalizeZones; zones.go). A zone
	// new to the database is registered and backfilled, a registered zone
	// missing here is removed. Nil leaves the registered zones as they are
	// (they are fed all the same).
	Zones []string
	// BackfillBudget bounds the time one build spends backfilling zones
	// (the lease is held meanwhile). Default 20 s.
	BackfillBudget time.Duration
}

// WithDefaults fills in the zero fields.
func (c Config) WithDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.MaxLag <= 0 {
		c.MaxLag = time.Minute
	}
	if c.WindowRows == 0 {
		c.WindowRows = 1_000_000
	}
	if c.LeaseTTL <= 0 {
		c.LeaseTTL = 2 * time.Minute
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 5 * time.Minute
	}
	if c.BackfillBudget <= 0 {
		c.BackfillBudget = 20 * time.Second
	}
	return c
}

// Builder builds the rollups of one database. Its methods may be called
// from several goroutines: builds in one process take turns.
type Builder struct {
	st      *store.Store
	cfg     Config
	log     *slog.Logger
	holder  string
	insertQ *regexp.Regexp

	mu   sync.Mutex // one build at a time; guards held
	held bool       // during a build: this builder holds the lease
	beat time.Time  // this builder's last heartbeat

	rows    prometheus.Counter
	windows prometheus.Counter
	errs    prometheus.Counter
	lag     prometheus.Gauge
	seconds prometheus.Histogram

	// zonesPending: a zone was left backfilling (or zones were never
	// looked at): an idle tick still builds.
	zonesPending atomic.Bool
	zoneMonths   prometheus.Counter
	zonesLeft    prometheus.Gauge
}

// New returns a builder for st's database.
func New(st *store.Store, cfg Config, log *slog.Logger) *Builder {
	if log == nil {
		log = slog.Default()
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	db := regexp.QuoteMeta(st.Database)
	b := &Builder{
		st: st, cfg: cfg.WithDefaults(), log: log,
		holder: hex.EncodeToString(id),
		// An insert into events, qualified with this database or not
		// (unqualified inserts of other databases hold the horizon back
		// too, which is only slower, never wrong).
		insertQ: regexp.MustCompile(`(?is)^\s*insert\s+into\s+((` + db + `|` + "`" + db + "`" + `|"` + db + `")\.)?(events|` + "`events`" + `|"events")[\s(]`),
		rows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_rollup_rows_built_total", Help: "Queued event rows built into the rollups by this process.",
		}),
		windows: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_rollup_windows_total", Help: "Windows of the rollup queue built by this process.",
		}),
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_rollup_errors_total", Help: "Builds that failed (retried at the next interval).",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "adoptscope_rollup_lag_seconds", Help: "Age of the oldest queued row not yet built, at the last build (0: caught up).",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "adoptscope_rollup_window_seconds", Help: "Time to build one window.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		zoneMonths: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_rollup_zone_backfill_months_total", Help: "Months of events backfilled into the rollups of a time zone added later.",
		}),
		zonesLeft: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "adoptscope_rollup_zones_backfilling", Help: "Configured time zones whose rollups are still being backfilled (their questions read raw events).",
		}),
	}
	b.zonesPending.Store(len(b.cfg.Zones) > 0)
	return b
}

// Register adds the builder's metrics to reg.
func (b *Builder) Register(reg prometheus.Registerer) {
	reg.MustRegister(b.rows, b.windows, b.errs, b.lag, b.seconds, b.zoneMonths, b.zonesLeft)
}

// Enabled reports whether rollups are built behind ingest: on a single
// server. On a cluster the views build them inside the insert.
func (b *Builder) Enabled() bool { return b.st.Cluster == "" }

// Result says what a build did.
type Result struct {
	Rows    uint64 // rows built by this call
	Windows int
	// BuiltBy is the holder of the lease when another process built the
	// rows this call waited for; empty when this call built them.
	BuiltBy string
}

// errLeaseHeld means another live builder holds the lease.
var errLeaseHeld = errors.New("rollup lease held by another builder")

// CatchUp builds every row that was committed to events before the call,
// and returns when the rollups hold them: it builds them itself, or, when
// another process holds the lease, waits until that builder has. It is what
// a writer calls before reading the rollups (load, demo, tests).
func (b *Builder) CatchUp(ctx context.Context) (Result, error) {
	if !b.Enabled() {
		return Result{}, nil
	}
	target, err := b.serverNow(ctx)
	if err != nil {
		return Result{}, err
	}
	var res Result
	for {
		r, err := b.build(ctx, target, false)
		res.Rows += r.Rows
		res.Windows += r.Windows
		if errors.Is(err, errLeaseHeld) {
			res.BuiltBy = r.BuiltBy
			done, err := b.builtThrough(ctx, target)
			if err != nil {
				return res, err
			}
			if done {
				return res, nil
			}
		} else if err != nil {
			return res, err
		} else if r.done {
			return res, nil
		}
		// The horizon has not passed target yet (an insert still running,
		// or the second not over): wait a little.
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("rollups: catching up to %s: %w", target.Format(time.RFC3339), ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Run builds every Interval until ctx ends. Failures are logged and
// retried. A writer that stops calls CatchUp after its last flush, so that
// nothing it wrote is left for the next start to build.
func (b *Builder) Run(ctx context.Context) {
	if !b.Enabled() {
		return
	}
	b.log.Info("rollup builder started", "interval", b.cfg.Interval, "window_rows", b.cfg.WindowRows)
	t := time.NewTicker(b.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// An idle tick costs one query, not the lease's two RENAMEs.
			if pd, err := PendingOf(ctx, b.st); err == nil && pd.Rows == 0 && !b.zonesPending.Load() {
				b.lag.Set(0)
				continue
			}
			r, err := b.build(ctx, time.Time{}, true)
			switch {
			case errors.Is(err, errLeaseHeld) || (err != nil && ctx.Err() != nil):
			case err != nil:
				b.errs.Inc()
				b.log.Warn("rollups: build failed; retrying at the next interval", "error", err)
			case r.Rows > 0:
				b.log.Debug("rollups built", "rows", r.Rows, "windows", r.Windows)
			}
		}
	}
}

// Behind runs the loop until the returned stop is called; stop then builds
// what is left (CatchUp). What a process that writes events wraps its
// writing in: stop after the writer's last flush.
func (b *Builder) Behind() (stop func(context.Context) (Result, error)) {
	if !b.Enabled() {
		return func(context.Context) (Result, error) { return Result{}, nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Run(ctx)
	}()
	return func(ctx context.Context) (Result, error) {
		cancel()
		<-done // Run returns at once; a build in progress ends with its query
		return b.CatchUp(ctx)
	}
}

// release gives the lease back if this builder holds it. A lease is held
// for one build only, so that a builder in another process (load, a second
// instance) can take its turn between two builds of this one.
func (b *Builder) release(ctx context.Context) {
	if !b.held {
		return
	}
	b.held = false
	ctx, cancel := b.callCtx(context.WithoutCancel(ctx))
	defer cancel()
	if err := b.st.Conn.Exec(ctx, "RENAME TABLE "+b.leaseTable()+" TO rollup_lease"); err != nil {
		b.log.Warn("rollups: give back the lease", "error", err)
	}
}

type buildResult struct {
	Result
	done bool // every row up to the target is built
}

// build takes the lease and builds windows up to the horizon. With a zero
// target it builds what the horizon allows; otherwise done says whether the
// horizon reached target. With deferUnderLoad it builds nothing while
// inserts into events are running and the oldest queued row is younger
// than MaxLag.
func (b *Builder) build(ctx context.Context, target time.Time, deferUnderLoad bool) (buildResult, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var res buildResult
	holder, err := b.lease(ctx)
	if err != nil {
		res.BuiltBy = holder
		return res, err
	}
	defer b.release(ctx)
	end, err := b.lastWindowEnd(ctx)
	if err != nil {
		return res, err
	}
	zones, err := b.syncZones(ctx, end)
	if err != nil {
		return res, err
	}
	horizon, busy, err := b.horizon(ctx)
	if err != nil {
		return res, err
	}
	if deferUnderLoad && busy && b.cfg.MaxLag > b.cfg.Interval {
		age, err := b.oldestQueued(ctx, end)
		if err != nil {
			return res, err
		}
		if age < b.cfg.MaxLag {
			b.lag.Set(age.Seconds())
			return res, nil
		}
	}
	for first := true; end.Before(horizon); first = false {
		next, rows, oldest, err := b.nextWindow(ctx, end, horizon)
		if err != nil {
			return res, err
		}
		if first {
			b.lag.Set(oldest)
		}
		if rows == 0 {
			break
		}
		if err := b.buildWindow(ctx, end, next, rows, zones); err != nil {
			return res, err
		}
		res.Rows += rows
		res.Windows++
		end = next
	}
	zonesDone, err := b.backfillZones(ctx, zones, b.cfg.BackfillBudget)
	if err != nil {
		return res, err
	}
	// The zones' daily finals (the UTC ones are the web process's): a
	// month of days per zone and build, all of them when catching up.
	finalsDone, err := b.finalizeZones(ctx, zones, 31)
	if err != nil {
		return res, err
	}
	b.zonesPending.Store(!zonesDone || !finalsDone)
	zonesDone = zonesDone && (finalsDone || target.IsZero())
	left := 0
	for _, z := range zones {
		if z.state == zoneBackfilling {
			left++
		}
	}
	b.zonesLeft.Set(float64(left))
	if err := b.dropBuiltHours(ctx, queueKeep(zones, end)); err != nil {
		// The queue only grows a little longer; the next build retries.
		b.log.Warn("rollups: drop built hours of the queue", "error", err)
	}
	res.done = (target.IsZero() || !horizon.Before(target)) && zonesDone
	return res, nil
}

// lease takes the lease when it is free or stale. When another live
// builder holds it, it returns errLeaseHeld and that builder's id.
func (b *Builder) lease(ctx context.Context) (string, error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	if err := b.st.Conn.Exec(ctx, "RENAME TABLE rollup_lease TO "+b.leaseTable()); err == nil {
		b.held = true
		return "", b.heartbeat(ctx, false)
	}
	// Held by someone: take it over if its heartbeat is stale.
	rows, err := b.st.Conn.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND startsWith(name, 'rollup_lease_')", b.st.Database)
	if err != nil {
		return "", fmt.Errorf("rollups: find the lease: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return "", err
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(names) == 0 {
		// Given back between the RENAME and the look-up: next time.
		return "", errLeaseHeld
	}
	if len(names) != 1 || !leaseName.MatchString(names[0]) {
		return "", fmt.Errorf("rollups: the lease table rollup_lease is missing and %d tables rollup_lease_* exist (%v); with no builder running, rename one to rollup_lease and drop the others", len(names), names)
	}
	other := names[0]
	var age int64
	// An empty table (heartbeats are kept in memory and lost when the
	// server restarts) counts as stale.
	holder := other[len("rollup_lease_"):]
	stale := func() bool {
		if err := b.st.Conn.QueryRow(ctx, "SELECT toInt64(now()) - toInt64(max(at)) FROM "+other).Scan(&age); err != nil {
			// Most often given back or taken over since the look-up; a
			// server that is down fails the next attempt's look-up.
			return false
		}
		return time.Duration(age)*time.Second >= b.cfg.LeaseTTL
	}
	if !stale() {
		return holder, errLeaseHeld
	}
	// A builder that has just taken the lease has not written its first
	// heartbeat yet: between its RENAME and that INSERT the table holds
	// nothing newer than the last holder's (or nothing at all, the first
	// time), and looks stale. Look again after a moment: a live holder has
	// written by then. (Taking over at the first look made a loaded test
	// machine's builders take the lease from each other and fail with
	// "Table rollup_lease_… doesn't exist".)
	select {
	case <-ctx.Done():
		return holder, ctx.Err()
	case <-time.After(takeoverGrace):
	}
	if !stale() {
		return holder, errLeaseHeld
	}
	if err := b.st.Conn.Exec(ctx, "RENAME TABLE "+other+" TO "+b.leaseTable()); err != nil {
		return holder, errLeaseHeld // another builder took it over first
	}
	b.held = true
	b.log.Warn("rollups: took over a stale lease", "from", holder, "heartbeat_age_s", age)
	return "", b.heartbeat(ctx, true)
}

var leaseName = regexp.MustCompile(`^rollup_lease_[0-9a-f]{12}$`)

// takeoverGrace is how long a lease that looks stale is watched before it
// is taken over (see lease).
const takeoverGrace = 3 * time.Second

func (b *Builder) leaseTable() string { return "rollup_lease_" + b.holder }

// heartbeat checks that this builder still holds the lease and, at most
// every quarter of the TTL (or when forced), records that it is alive. A
// holder whose lease was taken over (it stalled for longer than the TTL)
// fails here, before it builds anything more.
func (b *Builder) heartbeat(ctx context.Context, force bool) error {
	n, err := b.leaseCount(ctx)
	if err != nil {
		return fmt.Errorf("rollups: check the lease: %w", err)
	}
	if n == 0 {
		b.held = false
		// errLeaseHeld: CatchUp then waits for the builder that took it.
		return fmt.Errorf("rollups: the lease was taken over by another builder (no heartbeat for longer than %s); stopped before building more: %w", b.cfg.LeaseTTL, errLeaseHeld)
	}
	if !force && time.Since(b.beat) < b.cfg.LeaseTTL/4 {
		return nil
	}
	if err := b.st.Conn.Exec(ctx, "INSERT INTO "+b.leaseTable()+" (holder, at) SELECT ?, now()", b.holder); err != nil {
		if n, cerr := b.leaseCount(ctx); cerr == nil && n == 0 {
			b.held = false
			return fmt.Errorf("rollups: the lease was taken over by another builder before this one's heartbeat: %w", errLeaseHeld)
		}
		return fmt.Errorf("rollups: lease heartbeat: %w", err)
	}
	b.beat = time.Now()
	return nil
}

// leaseCount is 1 while this builder's lease table exists, else 0.
func (b *Builder) leaseCount(ctx context.Context) (uint64, error) {
	var n uint64
	err := b.st.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", b.st.Database, b.leaseTable()).Scan(&n)
	return n, err
}

func (b *Builder) lastWindowEnd(ctx context.Context) (time.Time, error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var end time.Time
	if err := b.st.Conn.QueryRow(ctx, "SELECT max(window_end) FROM rollup_windows").Scan(&end); err != nil {
		return time.Time{}, fmt.Errorf("rollups: read the last built window: %w", err)
	}
	return end.UTC(), nil
}

// horizon is the latest window end no row can still arrive at or before:
// one second before the start of the oldest running insert into events,
// and before the current second. busy says whether any such insert runs.
func (b *Builder) horizon(ctx context.Context) (_ time.Time, busy bool, _ error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	rows, err := b.st.Conn.Query(ctx, "SELECT toUInt32(now()), elapsed, query FROM system.processes WHERE positionCaseInsensitive(query, 'insert') > 0")
	if err != nil {
		return time.Time{}, false, fmt.Errorf("rollups: read the running inserts: %w", err)
	}
	defer rows.Close()
	var now uint32
	var oldest float64
	for rows.Next() {
		var e float64
		var q string
		if err := rows.Scan(&now, &e, &q); err != nil {
			return time.Time{}, false, err
		}
		if b.insertQ.MatchString(q) {
			busy = true
			oldest = max(oldest, e)
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, false, err
	}
	if now == 0 { // the query above always lists itself; be safe anyway
		t, err := b.serverNow(ctx)
		if err != nil {
			return time.Time{}, false, err
		}
		now = uint32(t.Unix())
	}
	// The oldest insert started at or after now - oldest (now is the
	// whole second the true time is in), so it stamps nothing before
	// floor(now - oldest).
	start := int64(float64(now) - oldest) // a floor: the value is positive
	return time.Unix(start-1, 0).UTC(), busy, nil
}

// oldestQueued is the age of the oldest queued row after end (0: none).
func (b *Builder) oldestQueued(ctx context.Context, end time.Time) (time.Duration, error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var age int64
	var n uint64
	if err := b.st.Conn.QueryRow(ctx, "SELECT toInt64(now()) - toInt64(min(ingested_at)), count() FROM rollup_queue WHERE ingested_at > ?", end).Scan(&age, &n); err != nil {
		return 0, fmt.Errorf("rollups: age of the queue: %w", err)
	}
	if n == 0 {
		return 0, nil
	}
	return time.Duration(age) * time.Second, nil
}

func (b *Builder) serverNow(ctx context.Context) (time.Time, error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var now uint32
	if err := b.st.Conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
		return time.Time{}, fmt.Errorf("rollups: read the server clock: %w", err)
	}
	return time.Unix(int64(now), 0).UTC(), nil
}

// nextWindow picks the end of the window after from: as many whole seconds
// of the queue up to horizon as fit in WindowRows (at least one).
// oldest is the age in seconds of its first row (0 when there is none).
func (b *Builder) nextWindow(ctx context.Context, from, horizon time.Time) (end time.Time, total uint64, oldest float64, err error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	rows, err := b.st.Conn.Query(ctx,
		"SELECT ingested_at, count() FROM rollup_queue WHERE ingested_at > ? AND ingested_at <= ? GROUP BY ingested_at ORDER BY ingested_at",
		from, horizon)
	if err != nil {
		return time.Time{}, 0, 0, fmt.Errorf("rollups: size the next window: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at time.Time
		var n uint64
		if err := rows.Scan(&at, &n); err != nil {
			return time.Time{}, 0, 0, err
		}
		if total > 0 && total+n > b.cfg.WindowRows {
			break
		}
		if total == 0 {
			oldest = max(time.Since(at).Seconds(), 0)
		}
		total += n
		end = at.UTC()
	}
	return end, total, oldest, rows.Err()
}

// buildWindow inserts the queue's rows of (from, to] into the feed as one
// block and, once the insert has succeeded, records the window. The block
// settings keep the window whole: split into blocks, a failure between two
// of them would leave part of it built.
func (b *Builder) buildWindow(ctx context.Context, from, to time.Time, rows uint64, zones []zoneState) error {
	start := time.Now()
	// Not cancelled with the caller: a window is built whole or not at
	// all, and an insert cut off by a cancel could end either way.
	ctx, cancel := b.callCtx(context.WithoutCancel(ctx))
	defer cancel()
	if err := b.heartbeat(ctx, false); err != nil {
		return err
	}
	recCtx := ctx
	ctx = clickhouse.Context(ctx,
		clickhouse.WithQueryID("adoptscope-rollup-"+b.holder+"-"+fmt.Sprint(to.Unix())),
		clickhouse.WithSettings(clickhouse.Settings{
			"min_insert_block_size_rows":  int(rows + 1),
			"min_insert_block_size_bytes": 1 << 40,
			"max_insert_block_size":       int(rows + 1),
			"max_block_size":              int(rows + 1),
		}))
	err := b.st.Conn.Exec(ctx, `INSERT INTO rollup_feed (event_time, assistant, channel, country, modality, event_type, user_key, count, linked, window_end)
SELECT event_time, assistant, channel, country, modality, event_type, user_key, count, linked, ? AS window_end
FROM rollup_queue WHERE ingested_at > ? AND ingested_at <= ?`, to, from, to)
	if err != nil {
		return fmt.Errorf("rollups: build the window (%s, %s]: %w (not recorded: it is built again at the next build)", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	if err := b.feedZones(ctx, zones, from, to); err != nil {
		return fmt.Errorf("rollups: build the window (%s, %s] of a time zone: %w (not recorded: it is built again at the next build, and its UTC event sums count it twice)", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
	}
	if err := b.recordWindow(recCtx, to, rows); err != nil {
		b.log.Error("rollups: a built window could not be recorded; the next build builds it again, and the event sums of its rows will count them twice",
			"window_end", to, "rows", rows, "error", err)
		return err
	}
	b.rows.Add(float64(rows))
	b.windows.Inc()
	b.seconds.Observe(time.Since(start).Seconds())
	return nil
}

// recordWindow records that the window ending at to, of rows rows, is
// built. It tries a few times: a window built and not recorded is built
// again.
func (b *Builder) recordWindow(ctx context.Context, to time.Time, rows uint64) error {
	var err error
	wait := 200 * time.Millisecond
	for try := 1; try <= 5; try++ {
		if err = b.st.Conn.Exec(ctx, "INSERT INTO rollup_windows (window_end, rows, built_at) SELECT ?, ?, now()", to, rows); err == nil {
			return nil
		}
		if try < 5 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("rollups: record the built window ending %s: %w", to.Format(time.RFC3339), err)
			case <-time.After(wait):
			}
			wait *= 2
		}
	}
	return fmt.Errorf("rollups: record the built window ending %s: %w", to.Format(time.RFC3339), err)
}

// dropBuiltHours drops the queue's hourly partitions that end at or before
// end: every row of them is built.
func (b *Builder) dropBuiltHours(ctx context.Context, end time.Time) error {
	if end.IsZero() {
		return nil
	}
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	rows, err := b.st.Conn.Query(ctx,
		"SELECT DISTINCT intDiv(toUInt32(ingested_at), 3600) AS h FROM rollup_queue WHERE ingested_at <= ? AND (h + 1) * 3600 - 1 <= toUInt32(?)", end, end)
	if err != nil {
		return err
	}
	var hours []uint32
	for rows.Next() {
		var h uint32
		if err := rows.Scan(&h); err != nil {
			rows.Close()
			return err
		}
		hours = append(hours, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, h := range hours {
		// h is a number read from the server, not user input.
		if err := b.st.Conn.Exec(ctx, fmt.Sprintf("ALTER TABLE rollup_queue DROP PARTITION %d", h)); err != nil {
			return err
		}
	}
	return nil
}

// builtThrough reports whether the built windows reach target.
func (b *Builder) builtThrough(ctx context.Context, target time.Time) (bool, error) {
	end, err := b.lastWindowEnd(ctx)
	if err != nil {
		return false, err
	}
	if !end.Before(target) {
		return true, nil
	}
	// Nothing queued between the last window and target counts as built.
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var n uint64
	if err := b.st.Conn.QueryRow(ctx, "SELECT count() FROM rollup_queue WHERE ingested_at > ? AND ingested_at <= ?", end, target).Scan(&n); err != nil {
		return false, fmt.Errorf("rollups: count the queued rows: %w", err)
	}
	return n == 0, nil
}

func (b *Builder) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.cfg.QueryTimeout)
}

// Pending is what the rollups, and so the charts, do not hold yet.
type Pending struct {
	Rows   uint64
	Oldest time.Time // stamp of the oldest such row; zero when Rows is 0
}

// PendingOf reads what is queued and not built in st's database. On a
// cluster nothing is ever pending: the views build inside the insert.
func PendingOf(ctx context.Context, st *store.Store) (Pending, error) {
	var p Pending
	if st.Cluster != "" {
		return p, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := st.Conn.QueryRow(ctx, "SELECT count(), min(ingested_at) FROM rollup_queue WHERE ingested_at > (SELECT max(window_end) FROM rollup_windows)").Scan(&p.Rows, &p.Oldest)
	if err != nil {
		return Pending{}, fmt.Errorf("rollups: read what is not built yet: %w", err)
	}
	if p.Rows == 0 {
		p.Oldest = time.Time{}
	}
	return p, nil
}
