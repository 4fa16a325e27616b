package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/config"
)

// OpenWriter opens the store (starting the managed server when no address
// is configured) and an ingest pipeline on it, for the commands that write
// events without the HTTP API: load, demo and the benchmarks. The caller
// closes both.
func OpenWriter(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Backend, *ingest.Pipeline, error) {
	b, err := OpenBackend(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	icfg, err := IngestConfig(*cfg)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	p, err := ingest.NewPipeline(b.Store, icfg, log)
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, p, nil
}

// BuildBehind runs the rollup builder while a command writes events, so
// that a long load does not leave all of the building to the end. The
// returned finish, called after the pipeline has flushed, stops it and
// builds the rest, saying so on w.
func (b *Backend) BuildBehind(w io.Writer) (finish func(context.Context) error) {
	r := b.Rollups
	if r == nil || !r.Enabled() {
		return func(context.Context) error { return nil }
	}
	stop := r.Behind()
	return func(ctx context.Context) error {
		start := time.Now()
		fmt.Fprint(w, "Building the rollups the charts read... ")
		res, err := stop(ctx)
		if err != nil {
			fmt.Fprintln(w, "failed")
			return fmt.Errorf("build the rollups (the next start of adoptscope up builds what is left): %w", err)
		}
		switch {
		case res.BuiltBy != "":
			fmt.Fprintf(w, "done by the running instance (builder %s)\n", res.BuiltBy)
		default:
			fmt.Fprintf(w, "done in %s (%d queued events built)\n", time.Since(start).Round(10*time.Millisecond), res.Rows)
		}
		return nil
	}
}
