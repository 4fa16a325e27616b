// Package app is the composition root: it builds every service of a
// process once, as a field of App, mounts the routes of the adapters that
// the mode runs, starts the background parts in order and stops them in
// the reverse order.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/breaks"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/dashboard"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

// Mode says which parts a process runs.
type Mode struct {
	Name      string
	Ingest    bool // POST /v1/events
	Web       bool // dashboard and /api/v1/
	Scheduler bool // scheduled exports
	Demo      bool // load the demo data set per cfg.Demo
}

// App is one process: its configuration, its backend, and each service it
// runs, built once (nil when the mode does not run it).
type App struct {
	Cfg     config.Config
	Log     *slog.Logger
	Stdout  io.Writer
	Backend *Backend
	Server  *httpserver.Server

	// Ingest is the pipeline behind POST /v1/events (mode Ingest).
	Ingest *ingest.Pipeline
	// SDK takes PostHog and Segment SDK traffic through Ingest (mode Ingest).
	SDK *ingest.SDK
	// Exports is the export service the query API, the dashboard and the
	// scheduler share (modes Web and Scheduler).
	Exports *export.Service
	// Auth holds the dashboard accounts and sessions; the query API accepts
	// a dashboard session too (mode Web).
	Auth *dashboard.Auth
	// Annotations is the annotation service the query API and the
	// dashboard share (mode Web).
	Annotations *annotation.Service
	API         *queryapi.API
	Dashboard   *dashboard.Handler
	// Breaks detects level changes after each complete day (mode
	// Scheduler) and on demand (mode Web).
	Breaks *breaks.Detector
	// Alerts keeps the alert rules: the API and the dashboard edit them,
	// the scheduler evaluates them (modes Web and Scheduler).
	Alerts *alert.Service
	// webMetrics is the /metrics registry of a process without ingest.
	webMetrics *prometheus.Registry

	// parts stop in the reverse of their start order.
	parts []part
	// listening is closed once the server listens; url is set before.
	listening chan struct{}
	url       string
}

// part is one component of a running process that has background work: it
// stops after the HTTP server has stopped accepting requests (for ingest:
// flush what was accepted).
type part interface {
	Stop(ctx context.Context) error
}

// New builds the services of mode on an open backend and mounts their
// routes; nothing listens yet. On error, what was started is stopped.
func New(ctx context.Context, cfg config.Config, mode Mode, b *Backend, log *slog.Logger, stdout io.Writer) (*App, error) {
	a := &App{Cfg: cfg, Log: log, Stdout: stdout, Backend: b, Server: httpserver.New(log), listening: make(chan struct{})}
	a.Server.SetOptions(serverOptions(cfg))
	a.Server.Echo.GET("/healthz", healthHandler(b))
	// The order matters: the rollup builder stops last (its final build
	// comes after ingest and the demo load have flushed), the query API
	// needs the dashboard's sessions, the scheduler and the demo load start
	// once everything they report to exists.
	for _, start := range []func(context.Context, Mode) error{
		a.startRollups, a.trackIngestRoutes(a.startIngest), a.startExports, a.startAlerts, a.startWeb, a.startBreaks, a.startScheduler, a.startDemo,
	} {
		if err := start(ctx, mode); err != nil {
			a.stop()
			return nil, err
		}
	}
	return a, nil
}

// Run serves until ctx ends, then shuts down: stop accepting requests,
// answer those in flight, flush what was accepted, stop ClickHouse.
func Run(ctx context.Context, cfg config.Config, mode Mode, log *slog.Logger, stdout io.Writer) error {
	b, err := OpenBackend(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	a, err := New(ctx, cfg, mode, b, log, stdout)
	if err != nil {
		return err
	}
	ready := func(addr net.Addr) {
		url := "http://" + displayAddr(addr)
		log.Info("AdoptScope is running", "mode", mode.Name, "url", url)
		fmt.Fprintf(stdout, "\nAdoptScope is running: %s/\n", url)
		if b.server != nil && b.server.ClientCommand != "" {
			fmt.Fprintf(stdout, "Managed ClickHouse (loopback only): %s\n", b.server.ClientCommand)
		}
		a.url = url
		close(a.listening)
	}
	serveErr := a.Server.Serve(ctx, cfg.Addr, cfg.ShutdownTimeout, ready)
	log.Info("stopped accepting requests; shutting down")
	a.stop()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server on %s: %w", cfg.Addr, serveErr)
	}
	return nil
}

// started records a part with background work, to be stopped in reverse.
func (a *App) started(p part) { a.parts = append(a.parts, p) }

// stop stops the parts in reverse start order.
func (a *App) stop() {
	for i := len(a.parts) - 1; i >= 0; i-- {
		if err := a.parts[i].Stop(context.Background()); err != nil {
			a.Log.Error("stop failed", "part", fmt.Sprintf("%T", a.parts[i]), "error", err)
		}
	}
	a.parts = nil
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if host == "::" || host == "0.0.0.0" || host == "" {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
