package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
)

// exportsRuntime is what a process holds for exports: the runner that
// manual runs (API, dashboard) and the scheduler share, the scheduler when
// the mode runs it, and the manual runs in flight.
type exportsRuntime struct {
	d        *Deps
	runner   *export.Runner
	sched    *export.Scheduler
	handlers *queryapi.ExportHandlers
	manual   sync.WaitGroup
	cancel   context.CancelFunc // interrupts manual runs
}

var exportRuntimes sync.Map // *Deps -> *exportsRuntime

// exportsFor returns the process's export runtime, creating it on first use.
func exportsFor(d *Deps) *exportsRuntime {
	if rt, ok := exportRuntimes.Load(d); ok {
		return rt.(*exportsRuntime)
	}
	st := export.NewStore(d.Backend.Store)
	rt := &exportsRuntime{d: d, runner: &export.Runner{
		Store: st, Source: export.QuerySource{S: d.Backend.Store}, Root: d.Cfg.ExportsDir(),
		Claimer: export.ClaimerID(), Log: d.Log.With("part", "exports"),
	}}
	var manualCtx context.Context
	manualCtx, rt.cancel = context.WithCancel(context.Background())
	rt.handlers = &queryapi.ExportHandlers{Exports: st, Context: manualCtx, Runner: rt.runner, Root: d.Cfg.ExportsDir(),
		NextRun: func(id string) time.Time {
			if rt.sched == nil {
				return time.Time{}
			}
			return rt.sched.NextRun(id)
		},
		Go: func(f func()) {
			rt.manual.Add(1)
			go func() { defer rt.manual.Done(); f() }()
		}}
	actual, _ := exportRuntimes.LoadOrStore(d, rt)
	return actual.(*exportsRuntime)
}

// registerExportAPI mounts /api/v1/exports on g with a's access policy
// (called from startAPI).
func registerExportAPI(d *Deps, a *queryapi.API, g *echo.Group) {
	a.RegisterExports(g, exportsFor(d).handlers)
}

// ExportHandlers returns the process's export handlers (the dashboard's
// Exports page uses the same ones as the API).
func ExportHandlers(d *Deps) *queryapi.ExportHandlers { return exportsFor(d).handlers }

// startScheduler runs the export scheduler when the mode has it. In a mode
// without it (web), the part still waits at shutdown for manual runs
// started through the API or the dashboard.
func startScheduler(ctx context.Context, d *Deps, mode Mode) (part, error) {
	_, had := exportRuntimes.Load(d)
	if !mode.Scheduler {
		if had {
			return exportsFor(d), nil
		}
		return nil, nil
	}
	rt := exportsFor(d)
	rt.sched = export.NewScheduler(rt.runner, export.SchedulerOptions{
		CatchUp: d.Cfg.Exports.CatchUp, MaxAttempts: d.Cfg.Exports.MaxAttempts, Settle: d.Cfg.Exports.ClaimSettle,
	})
	rt.sched.Start()
	d.Log.Info("export scheduler started", "exports_dir", d.Cfg.ExportsDir(), "claimer", rt.runner.Claimer, "catch_up", d.Cfg.Exports.CatchUp)
	return rt, nil
}

// Stop stops scheduling and waits for running exports up to the shutdown
// timeout; runs still going then are cancelled and record themselves as
// failed ("interrupted"), and a scheduler retries them later.
func (rt *exportsRuntime) Stop(ctx context.Context) error {
	timeout := rt.d.Cfg.ShutdownTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var errs []error
	if rt.sched != nil {
		errs = append(errs, rt.sched.Stop(ctx))
	}
	done := make(chan struct{})
	go func() { rt.manual.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		rt.cancel()
		<-done
		errs = append(errs, errors.New("manual export runs still going at shutdown were stopped and recorded as failed"))
	}
	rt.cancel()
	exportRuntimes.Delete(rt.d)
	return errors.Join(errs...)
}
