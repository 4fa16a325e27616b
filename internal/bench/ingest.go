package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

// IngestOptions are the settings of the ingest benchmark; the flags of
// `adoptscope bench ingest` fill them, and its errors name those flags.
type IngestOptions struct {
	// Config names the ClickHouse server (none: a managed one starts in a
	// temporary folder) and how to connect to it.
	Config config.Config
	Log    *slog.Logger
	// Stderr receives the standard error of the ingest process the
	// benchmark starts.
	Stderr io.Writer

	Events        int    // events to send over HTTP, and to insert raw
	Clients       int    // concurrent HTTP clients, each waiting for its commit
	RequestEvents int    // events per request
	URL           string // a running ingest to send to instead of starting one
	Token         string // the bearer token of URL
	PID           int    // the process id behind URL, to sample its memory
	BatchRows     int    // batch size of the started ingest
	Seed          uint64 // seed of the generated events
	Days          int    // the events' times spread over this many days before now
	WindowIDs     int64  // ids stored in the dedup window before the timed phase
	// API, when set (posthog or segment), also sends the same events in
	// that SDK API's wire format after the /v1/events run, into the same
	// instance, and reports both rates.
	API string
}

func (o IngestOptions) validate() error {
	if o.URL != "" && (o.Token == "" || o.Config.ClickHouse.Addr == "") {
		return errors.New("bench ingest: --url needs --token and --clickhouse-addr (the server behind it, for the raw baseline)")
	}
	if o.API != "" && o.API != apiPostHog && o.API != apiSegment {
		return fmt.Errorf("bench ingest: --api %q: want posthog or segment", o.API)
	}
	if o.Events < 1 || o.Clients < 1 || o.RequestEvents < 1 || o.Days < 1 {
		return errors.New("bench ingest: --events, --clients, --request-events and --days must be positive")
	}
	return nil
}

// Ingest measures events/s over HTTP against a plain clickhouse-go batch
// insert of the same rows, and writes the report to w, ending with
// 'ingest/raw ratio: X'.
func Ingest(ctx context.Context, o IngestOptions, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "adoptscope-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	srv, err := openIngestServer(ctx, o, tmp, w)
	if err != nil {
		return err
	}
	defer srv.Close()

	fmt.Fprintf(w, "generating %d events...\n", o.Events)
	inputs, bodies := benchEvents(o.Events, o.RequestEvents, o.Days, o.Seed)

	// Raw baseline: the same rows through clickhouse-go, into databases
	// migrated with the same schema (so both sides pay the same
	// materialized views), then into a bare copy of events for reference.
	raw, err := benchRaw(ctx, srv, inputs)
	if err != nil {
		return err
	}
	db := "bench_ingest_" + strconv.FormatInt(time.Now().Unix(), 10)
	fill, err := fillBenchWindow(ctx, o, srv, db, w)
	if err != nil {
		return err
	}
	target, err := startIngest(ctx, o, srv.Addr, srv.Password, tmp, db)
	if err != nil {
		return err
	}
	defer target.stop()
	if err := waitFilter(ctx, target, fill, w); err != nil {
		return err
	}
	var sdkB [][]byte
	if o.API != "" {
		sdkB = sdkBodies(o.API, inputs, o.RequestEvents, target.token)
	}
	inputs = nil
	runtime.GC() // the sending side keeps only the bodies
	lookupsBefore := scrapeLookups(ctx, target)
	var run httpRun
	var sdk *sdkRun
	if o.API == "" {
		run, err = sendMeasured(ctx, target, bodies, o, w)
	} else {
		run, sdk, err = sendAlternating(ctx, target, srv, db, bodies, sdkB, o, w)
	}
	if err != nil {
		return err
	}
	sentEvents, sentTook := o.Events, run.took
	if sdk != nil {
		sentEvents, sentTook = 2*o.Events, run.took+sdk.took
	}
	run.window = lookupLine(ctx, target, fill, lookupsBefore, sentEvents, sentTook)
	bodies = nil
	check := storedCheck{stored: -1}
	if o.URL == "" {
		if check, err = checkStored(ctx, srv, db, run.sent, o.Log); err != nil {
			return err
		}
	}
	want := o.Events
	if sdk != nil {
		want *= 2
	}
	err = writeIngestReport(w, want, o.Events, raw, run, check)
	if sdk != nil {
		writeSDKReport(w, o, run, sdk)
	}
	return err
}

// openIngestServer opens the configured server, or starts a managed one in
// dir (which the ingest benchmark removes afterwards).
func openIngestServer(ctx context.Context, o IngestOptions, dir string, w io.Writer) (*app.Server, error) {
	cfg := o.Config
	cfg.DataDir = dir
	srv, err := app.OpenServer(ctx, &cfg, o.Log)
	if err != nil {
		return nil, err
	}
	if srv.Managed {
		fmt.Fprintf(w, "managed ClickHouse in %s (%s)\n", dir, srv.Addr)
	}
	return srv, nil
}

// storedCheck is what the database of the started ingest held after the
// HTTP phase.
type storedCheck struct {
	stored              int // -1: not counted
	rollupLag           time.Duration
	midWindows, midRows uint64
	sizes               string // the dedup tables' size line
}

// checkStored checks that every event is stored, once, and that the
// rollups built behind ingest hold them all, timing how long after the
// last answer (sent) they did.
func checkStored(ctx context.Context, srv *app.Server, db string, sent time.Time, log *slog.Logger) (storedCheck, error) {
	c := storedCheck{stored: -1}
	b, err := srv.OpenDatabase(ctx, db, log)
	if err != nil {
		return c, nil // the report says nothing of what it could not count
	}
	defer b.Close()
	s := b.Store
	qctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if r := b.Rollups; r.Enabled() {
		// Windows the ingest process built while the clients were still
		// sending compete with them for the CPU.
		if err := s.Conn.QueryRow(qctx, "SELECT count(), sum(rows) FROM rollup_windows WHERE built_at <= ?", sent.UTC()).Scan(&c.midWindows, &c.midRows); err != nil {
			c.midWindows = 0
		}
		if _, err := r.CatchUp(qctx); err != nil {
			return c, fmt.Errorf("bench ingest: wait for the rollups: %w", err)
		}
		c.rollupLag = time.Since(sent)
	}
	var n uint64
	if err := s.Conn.QueryRow(qctx, "SELECT count() FROM events").Scan(&n); err == nil {
		c.stored = int(n)
	}
	var sizes strings.Builder
	if err := printDedupSizes(qctx, s, &sizes); err == nil {
		c.sizes = strings.TrimSpace(sizes.String())
	}
	var inRollups uint64
	if err := s.Conn.QueryRow(qctx, "SELECT (SELECT sum(events) FROM rollup_events_day) = (SELECT sum(toUInt64(count)) FROM events)").Scan(&inRollups); err == nil && inRollups != 1 {
		return c, errors.New("bench ingest: the rollups do not hold every stored event")
	}
	return c, nil
}

func writeIngestReport(w io.Writer, want, events int, raw rawRates, run httpRun, c storedCheck) error {
	rate := float64(events) / run.took.Seconds()
	fmt.Fprintf(w, "raw clickhouse-go insert, 100000-row batches, same schema: row append %.0f rows/s, columnar append %.0f rows/s\n", raw.row, raw.col)
	fmt.Fprintf(w, "raw clickhouse-go insert into a bare copy of events (no materialized views): columnar %.0f rows/s\n", raw.bare)
	fmt.Fprintf(w, "ingest over HTTP: %d events in %s = %.0f events/s (accepted %d, duplicates %d, rejected %d, 503 retries %d",
		events, run.took.Round(time.Millisecond), rate, run.res.Accepted, run.res.Duplicates, run.res.Rejected, run.res.retries)
	if c.stored >= 0 {
		fmt.Fprintf(w, ", stored %d", c.stored)
	}
	fmt.Fprintln(w, ")")
	if run.window != "" {
		fmt.Fprintln(w, run.window)
	}
	if c.sizes != "" {
		fmt.Fprintln(w, c.sizes)
	}
	if c.rollupLag > 0 {
		fmt.Fprintf(w, "rollups built behind ingest: %d rows in %d windows while sending; caught up %s after the last answer; events/s with the rollups built: %.0f\n",
			c.midRows, c.midWindows, c.rollupLag.Round(10*time.Millisecond), float64(events)/(run.took+c.rollupLag).Seconds())
	}
	if run.batches != "" {
		fmt.Fprintln(w, run.batches)
	}
	if run.pid > 0 {
		fmt.Fprintf(w, "ingest process RSS: max %.0f MiB while sending (peak VmHWM %.0f MiB)\n", float64(run.rssMaxKB)/1024, float64(procStatusKB(run.pid, "VmHWM:"))/1024)
	} else {
		fmt.Fprintln(w, "ingest process RSS: not sampled (pass --pid)")
	}
	if c.stored >= 0 && c.stored != want {
		return fmt.Errorf("bench ingest: %d events sent, %d stored", want, c.stored)
	}
	fmt.Fprintf(w, "ingest/raw ratio: %.2f\n", rate/max(raw.row, raw.col))
	return nil
}
