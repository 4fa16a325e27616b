package cli

import (
	"context"
	"log/slog"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

// openPipeline opens the store (starting the managed server when no address
// is configured) and an ingest pipeline on it, for the commands that write
// events without the HTTP API: load and demo. The caller closes both.
func openPipeline(ctx context.Context, cfg *config.Config, log *slog.Logger) (*app.Backend, *ingest.Pipeline, error) {
	b, err := app.OpenBackend(ctx, cfg, log)
	if err != nil {
		return nil, nil, err
	}
	icfg, err := app.IngestConfig(*cfg)
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
