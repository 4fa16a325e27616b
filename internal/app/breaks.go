package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
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
	det := a.breaksDetector()
	if reg := a.metricsRegistry(); reg != nil {
		reg.MustRegister(det.Collectors()...)
	}
	if mode.Scheduler {
		a.started(det.Start(0))
		a.Log.Info("break detection scheduled after each complete day")
	}
	return nil
}

// breaksDetector builds the break detector once: the web side builds it
// first (the query API runs it on demand), a scheduler-only process in
// startBreaks.
func (a *App) breaksDetector() *breaks.Detector {
	if a.Breaks != nil {
		return a.Breaks
	}
	notes := a.Annotations
	if notes == nil {
		notes = annotation.New(a.Backend.Store, a.Cfg.Registry())
	}
	a.Breaks = breaks.NewDetector(a.Backend.Store, notes, a.Log.With("part", "breaks"))
	return a.Breaks
}

// metricsRegistry is the registry behind this process's /metrics: ingest's
// when it runs ingest, the web side's own otherwise, nil without /metrics.
func (a *App) metricsRegistry() *prometheus.Registry {
	if a.Ingest != nil {
		return a.Ingest.Metrics().Registry
	}
	return a.webMetrics
}
