package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

const checkServerSummary = "check that a ClickHouse server runs AdoptScope: migrations into a scratch database, an ingest, the rollups and a query per metric"

// runCheckServer checks the configured server (ADOPTSCOPE_CLICKHOUSE_*)
// with app.CheckServer and prints one line per step.
func runCheckServer(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("check-server", checkServerSummary, e)
	cfg.Bind(fs, config.ClickHouse|config.Logging)
	keep := fs.Bool("keep", false, "keep the scratch database afterwards (for a look at what was created)")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if cfg.ClickHouse.Addr == "" {
		return errors.New("check-server checks an existing server: set --clickhouse-addr / ADOPTSCOPE_CLICKHOUSE_ADDR (and ADOPTSCOPE_CLICKHOUSE_PROTOCOL, _TLS, _USER, _PASSWORD as the product will use them)")
	}
	rep, err := app.CheckServer(ctx, cfg.ClickHouse, *keep, logger(cfg, e.stderr))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "ClickHouse %s at %s over %s, scratch database %s\nfeatures switched on: %s\n", rep.Server, cfg.ClickHouse.Addr, rep.Protocol, rep.Database, rep.Features)
	for _, s := range rep.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(e.stdout, "%s %-20s %s\n", mark, s.Name, s.Detail)
	}
	if !rep.OK() {
		return errors.New("the server failed a check (lines marked FAIL above)")
	}
	fmt.Fprintln(e.stdout, "all checks passed")
	return nil
}
