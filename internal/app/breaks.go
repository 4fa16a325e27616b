package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
)

// startBreaks builds the break detector in the processes that run the web
// side or the scheduler: the scheduler runs it after each complete day
// (it checks every minute whether the data's last complete day moved on),
// the query API runs it on demand (POST /api/v1/breaks/detect) and serves
// /impact, /overlap and /breaks; its counts go on /metrics.
func (a *App) startBreaks(_ context.Context, mode Mode) error {
	if !mode.Web && !mode.Scheduler {
		return nil
	}
	notes := a.Annotations
	if notes == nil {
		notes = annotation.New(a.Backend.Store, a.Cfg.Registry())
	}
	det := breaks.NewDetector(a.Backend.Store, notes, a.Log.With("part", "breaks"))
	a.Breaks = det
	if reg := a.metricsRegistry(); reg != nil {
		reg.MustRegister(det.Collectors()...)
	}
	if a.API != nil {
		a.API.SetInsight(queryapi.Insight{Annotations: notes, Detect: func(ctx context.Context) (string, error) {
			res, err := det.Run(ctx)
			return res.String(), err
		}})
	}
	if mode.Scheduler {
		a.started(det.Start(0))
		a.Log.Info("break detection scheduled after each complete day")
	}
	return nil
}

// metricsRegistry is the registry behind this process's /metrics: ingest's
// when it runs ingest, the web side's own otherwise, nil without /metrics.
func (a *App) metricsRegistry() *prometheus.Registry {
	if a.Ingest != nil {
		return a.Ingest.Metrics().Registry
	}
	return a.webMetrics
}
