package cli

import (
	"context"
	"log/slog"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

// serveCommand runs the long-lived process of mode (up, ingest, web,
// scheduler) until a signal ends it.
func serveCommand(mode app.Mode) func(context.Context, []string, *env) error {
	return func(ctx context.Context, args []string, e *env) error {
		var cfg config.Config
		fs := newFlagSet(mode.Name, commands()[mode.Name].summary, e)
		sections := config.HTTP | config.Data | config.ClickHouse | config.Tokens | config.Demo | config.Logging
		if mode.Ingest {
			sections |= config.Ingest
		}
		cfg.Bind(fs, sections)
		if err := parse(fs, args, &cfg); err != nil {
			return err
		}
		log := logger(cfg, e.stderr)
		slog.SetDefault(log)
		return app.Run(ctx, cfg, mode, log, e.stdout)
	}
}
