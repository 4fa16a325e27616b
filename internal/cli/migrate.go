package cli

import (
	"context"
	"fmt"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

// runMigrate applies the schema migrations (as every start does) and says
// where the schema stands.
func runMigrate(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("migrate", commands()["migrate"].summary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	log := logger(cfg, e.stderr)
	b, err := app.OpenBackend(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	fmt.Fprintf(e.stdout, "schema version %d on ClickHouse %s (%s, database %s)\n", b.Schema, b.Store.Version, b.Store.Addr, b.Store.Database)
	return nil
}
