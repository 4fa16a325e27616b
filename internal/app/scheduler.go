package app

import (
	"context"
	"time"

	"github.com/adoptscope/adoptscope/export"
)

// startExports builds the export service that the query API, the
// dashboard and the scheduler share, in the modes that run any of them.
// Its Stop waits for manual runs started through the API or the dashboard.
func (a *App) startExports(_ context.Context, mode Mode) error {
	if !mode.Web && !mode.Scheduler {
		return nil
	}
	a.Exports = export.NewService(a.Backend.Store, a.Cfg.ExportsDir(), a.Log.With("part", "exports"))
	a.Exports.Runner.Heartbeat = a.Cfg.ExportHeartbeat()
	a.started(exportsPart{a.Exports, a.Cfg.ShutdownTimeout})
	return nil
}

// startScheduler runs the export scheduler when the mode has it.
func (a *App) startScheduler(_ context.Context, mode Mode) error {
	if !mode.Scheduler {
		return nil
	}
	a.Exports.StartScheduler(export.SchedulerOptions{
		CatchUp: a.Cfg.Exports.CatchUp, MaxAttempts: a.Cfg.Exports.MaxAttempts, Settle: a.Cfg.Exports.ClaimSettle,
		StaleAfter: a.Cfg.Exports.StaleAfter, RetryBackoff: a.Cfg.Exports.RetryBackoff,
	})
	a.Log.Info("export scheduler started", "exports_dir", a.Cfg.ExportsDir(), "claimer", a.Exports.Runner.Claimer, "catch_up", a.Cfg.Exports.CatchUp,
		"stale_after", a.Cfg.Exports.StaleAfter, "retry_backoff", a.Cfg.Exports.RetryBackoff)
	return nil
}

// exportsPart stops scheduling and waits for running exports up to the
// shutdown timeout; runs still going then are cancelled and record
// themselves as failed ("interrupted"), and a scheduler retries them later.
type exportsPart struct {
	x       *export.Service
	timeout time.Duration
}

func (p exportsPart) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.timeout, 30*time.Second))
	defer cancel()
	return p.x.Stop(ctx)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}
