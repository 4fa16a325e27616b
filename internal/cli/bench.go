package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/bench"
	"github.com/adoptscope/adoptscope/internal/config"
)

const (
	benchIngestSummary = "events/s over HTTP against a plain clickhouse-go batch insert of the same rows (ends with 'ingest/raw ratio: X')"
	benchQuerySummary  = "load N million synthetic events (default 100 M) and report p50/p95 of the five product queries"
	benchExportSummary = "write 1 and 10 million rows through the export pipeline (ClickHouse stream -> CSV file); rows/s and peak memory"
)

// benchmarks are the `adoptscope bench NAME` tools; each parses its own
// flags and runs its benchmark of internal/bench.
var benchmarks = map[string]command{
	"ingest": {benchIngestSummary, runBenchIngest},
	"query":  {benchQuerySummary, runBenchQuery},
	"export": {benchExportSummary, runBenchExport},
	"soak":   {benchSoakSummary, runBenchSoak},
}

const benchSoakSummary = "run `up` for N minutes under ingest at half its measured maximum, dashboard/API reads and an every-minute export; p50/p99 per route, 503s, RSS over time; fails if RSS keeps growing"

func runBenchSoak(ctx context.Context, args []string, e *env) error {
	o := bench.SoakOptions{Stderr: e.stderr}
	fs := newFlagSet("bench soak", benchSoakSummary, e)
	o.Config.Bind(fs, config.ClickHouse|config.Logging)
	fs.Float64Var(&o.Minutes, "minutes", 30, "length of the soak, after the rate measurement")
	fs.IntVar(&o.Rate, "rate", 0, "ingest rate in events/s; 0: measure the maximum first (--measure) and soak at half of it")
	fs.DurationVar(&o.MeasureFor, "measure", 20*time.Second, "how long the maximum ingest rate is measured when --rate is 0")
	fs.IntVar(&o.Clients, "clients", 8, "concurrent ingest clients")
	fs.IntVar(&o.RequestEvents, "request-events", 1000, "events per ingest request")
	fs.IntVar(&o.Readers, "readers", 2, "concurrent dashboard/API readers, each reading one page or /api/v1/series answer a second")
	fs.DurationVar(&o.WarmUp, "warmup", 0, "first part of the soak left out of the RSS growth check (0: a fifth of it, at most 5m)")
	fs.Float64Var(&o.MaxRSSGrowth, "max-rss-growth", 1, "fail when the RSS (less the dedup filter's own memory) grows faster than this after the warm-up, in MiB/min (least-squares slope over the samples)")
	if err := parse(fs, args, &o.Config); err != nil {
		return err
	}
	o.Log = logger(o.Config, e.stderr)
	return bench.Soak(ctx, o, e.stdout)
}

func runBench(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(e.stdout, "Usage: adoptscope bench NAME [flags]\n\nBenchmarks:")
		names := make([]string, 0, len(benchmarks))
		for n := range benchmarks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-10s %s\n", n, benchmarks[n].summary)
		}
		return nil
	}
	b, ok := benchmarks[args[0]]
	if !ok {
		return fmt.Errorf("bench: unknown benchmark %q (run 'adoptscope bench --help')", args[0])
	}
	return b.run(ctx, args[1:], e)
}

func runBenchIngest(ctx context.Context, args []string, e *env) error {
	o := bench.IngestOptions{Stderr: e.stderr}
	fs := newFlagSet("bench ingest", benchIngestSummary, e)
	o.Config.Bind(fs, config.ClickHouse|config.Logging)
	fs.IntVar(&o.Events, "events", 1_000_000, "events to send (and to insert raw)")
	fs.IntVar(&o.Clients, "clients", 32, "concurrent HTTP clients; each waits for its commit, so clients × events per request are the events in flight: too few and the rate measures the clients' round trips, not the server (16 × 5,000 left the server partly idle)")
	fs.IntVar(&o.RequestEvents, "request-events", 5000, "events per request (clients × events per request is what a batch can hold: the clients wait for their commit)")
	fs.StringVar(&o.URL, "url", "", "target a running ingest at this base URL (http://host:port) instead of starting one; needs --token and --clickhouse-addr of its server for the raw baseline")
	fs.StringVar(&o.Token, "token", "", "ingest bearer token for --url")
	fs.IntVar(&o.PID, "pid", 0, "with --url: process id of the ingest process, to sample its memory")
	fs.IntVar(&o.BatchRows, "batch-rows", 100_000, "ingest batch size of the started instance (ADOPTSCOPE_INGEST_BATCH_ROWS)")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the generated events")
	fs.StringVar(&o.API, "api", "", "also send the same events as PostHog (posthog: POST /batch/) or Segment (segment: POST /v1/batch) SDK batches after the /v1/events run, into the same instance, and report both rates")
	fs.Int64Var(&o.WindowIDs, "window-ids", 0, "before the timed phase, store this many ids in the dedup window straight into ClickHouse (INSERT … SELECT from numbers(), spread over the 7-day window, each day merged), wait for the ingest's dedup filter to hold them, and report the lookup time per batch next to the rate")
	fs.IntVar(&o.Days, "days", 30, "spread the events' times over this many days before now (1: a live feed; 30: a feed that also carries late events)")
	if err := parse(fs, args, &o.Config); err != nil {
		return err
	}
	o.Log = logger(o.Config, e.stderr)
	return bench.Ingest(ctx, o, e.stdout)
}

func runBenchQuery(ctx context.Context, args []string, e *env) error {
	var o bench.QueryOptions
	fs := newFlagSet("bench query", benchQuerySummary, e)
	o.Config.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	fs.Int64Var(&o.Events, "events", 100_000_000, "number of synthetic events to load")
	fs.IntVar(&o.Runs, "runs", 20, "timed runs of each query (after one warm-up run)")
	fs.IntVar(&o.PageRuns, "page-runs", 5, "timed runs of each dashboard page in each zone (after one warm-up run), served in this process; 0: no pages")
	fs.BoolVar(&o.Reuse, "reuse", false, "skip loading when the database already holds the requested number of events")
	fs.BoolVar(&o.Optimize, "optimize", true, "after loading, merge the rollup parts (OPTIMIZE … FINAL), as background merges would over time")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the generator")
	zones := fs.String("tz", "UTC,Europe/Paris,Asia/Kolkata", "comma-separated time zones to time the chart questions in; each zone other than UTC gets rollups of its own (ADOPTSCOPE_TIME_ZONES)")
	if err := parse(fs, args, &o.Config); err != nil {
		return err
	}
	for _, z := range strings.Split(*zones, ",") {
		z = strings.TrimSpace(z)
		if _, err := time.LoadLocation(z); err != nil || z == "" || strings.EqualFold(z, "local") {
			return fmt.Errorf("--tz %q: want comma-separated IANA time zones such as UTC,Europe/Paris,Asia/Kolkata", *zones)
		}
		o.Zones = append(o.Zones, z)
	}
	benchDatabase(fs, &o.Config)
	o.Log = logger(o.Config, e.stderr)
	return bench.Query(ctx, o, e.stdout)
}

func runBenchExport(ctx context.Context, args []string, e *env) error {
	var o bench.ExportOptions
	fs := newFlagSet("bench export", benchExportSummary, e)
	o.Config.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	sizes := fs.String("rows", "1000000,10000000", "comma-separated row counts to export")
	fs.StringVar(&o.Source, "source", bench.SourceClickHouse, "clickhouse: rows streamed from the server (native protocol), shaped like a series answer; memory: rows made in Go (the file writer alone)")
	fs.StringVar(&o.Dir, "dir", "", "folder for the files (default: a temporary folder, removed afterwards)")
	if err := parse(fs, args, &o.Config); err != nil {
		return err
	}
	benchDatabase(fs, &o.Config)
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("--rows %q: want comma-separated positive numbers", *sizes)
		}
		o.Rows = append(o.Rows, n)
	}
	o.Log = logger(o.Config, e.stderr)
	return bench.Export(ctx, o, e.stdout)
}

// benchDatabase points a benchmark at database adoptscope_bench unless a
// database was chosen: benchmark events never mix with real data.
func benchDatabase(fs *flag.FlagSet, cfg *config.Config) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["clickhouse-database"] && cfg.ClickHouse.Database == "adoptscope" {
		cfg.ClickHouse.Database = "adoptscope_bench"
	}
}
