// Package app assembles the long-running processes (up, ingest, web) from
// the packages that do the work, and takes them down in order.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/dashboard"
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

// Deps is what the parts of a process share.
type Deps struct {
	Cfg     config.Config
	Log     *slog.Logger
	Backend *Backend
	Echo    *echo.Echo
	Stdout  io.Writer
	// DashboardAuth is set by startWeb: the query API may accept a
	// dashboard session (read it at request time, not at mount time).
	DashboardAuth *dashboard.Auth
	// IngestSnapshot feeds the dashboard's Ingest page: startIngest sets it
	// to the pipeline's Snapshot; nil when this process does not run ingest.
	IngestSnapshot func() ingest.Snapshot
	// listening is closed once the server listens; url is set before.
	listening chan struct{}
	url       string
}

// part is one component of a running process: it mounts its routes, starts
// its background work, and stops after the HTTP server has stopped
// accepting requests (for ingest: flush what was accepted).
type part interface {
	Stop(ctx context.Context) error
}

// Run serves until ctx ends, then shuts down: stop accepting requests,
// answer those in flight, flush what was accepted, stop ClickHouse.
func Run(ctx context.Context, cfg config.Config, mode Mode, log *slog.Logger, stdout io.Writer) error {
	b, err := OpenBackend(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()

	d := &Deps{Cfg: cfg, Log: log, Backend: b, Echo: httpserver.New(log), Stdout: stdout, listening: make(chan struct{})}
	d.Echo.GET("/healthz", healthHandler(b))

	var parts []part
	for _, start := range []func(context.Context, *Deps, Mode) (part, error){
		startRollups, startIngest, startAPI, startWeb, startScheduler, startDemo,
	} {
		p, err := start(ctx, d, mode)
		if err != nil {
			stopAll(log, parts)
			return err
		}
		if p != nil {
			parts = append(parts, p)
		}
	}

	ready := func(a net.Addr) {
		url := "http://" + displayAddr(a)
		log.Info("AdoptScope is running", "mode", mode.Name, "url", url)
		fmt.Fprintf(stdout, "\nAdoptScope is running: %s/\n", url)
		d.url = url
		close(d.listening)
	}
	serveErr := httpserver.Serve(ctx, d.Echo, cfg.Addr, cfg.ShutdownTimeout, ready)
	log.Info("stopped accepting requests; shutting down")
	stopAll(log, parts)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server on %s: %w", cfg.Addr, serveErr)
	}
	return nil
}

// stopAll stops parts in reverse start order.
func stopAll(log *slog.Logger, parts []part) {
	for i := len(parts) - 1; i >= 0; i-- {
		if err := parts[i].Stop(context.Background()); err != nil {
			log.Error("stop failed", "part", fmt.Sprintf("%T", parts[i]), "error", err)
		}
	}
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
