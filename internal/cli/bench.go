package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

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
	fs.BoolVar(&o.Reuse, "reuse", false, "skip loading when the database already holds the requested number of events")
	fs.BoolVar(&o.Optimize, "optimize", true, "after loading, merge the rollup parts (OPTIMIZE … FINAL), as background merges would over time")
	fs.Uint64Var(&o.Seed, "seed", 1, "random seed of the generator")
	if err := parse(fs, args, &o.Config); err != nil {
		return err
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
