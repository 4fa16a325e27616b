package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// TestExportRoutesMounted guards the wiring: in a web process the export
// API and the Exports page are mounted, and the scheduler part starts and
// stops.
func TestExportRoutesMounted(t *testing.T) {
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 5 * time.Second}
	cfg.Exports.CatchUp = true
	d := &App{Cfg: cfg, Log: log, Backend: &Backend{Store: s}, Server: httpserver.New(log), Stdout: io.Discard}
	mode := Mode{Name: "up", Web: true, Scheduler: true}
	for _, start := range []func(context.Context, Mode) error{d.startExports, d.startWeb, d.startScheduler} {
		if err := start(context.Background(), mode); err != nil {
			t.Fatal(err)
		}
	}
	defer d.stop()
	have := map[string]bool{}
	for _, r := range d.Server.Echo.Routes() {
		have[r.Method+" "+r.Path] = true
	}
	for _, want := range []string{
		"GET /api/v1/exports", "POST /api/v1/exports", "GET /api/v1/exports/:id/runs",
		"POST /api/v1/exports/:id/run", "DELETE /api/v1/exports/:id", "GET /exports", "GET /exports/new",
	} {
		if !have[want] {
			t.Errorf("route %s is not mounted", want)
		}
	}
	if !d.Exports.Scheduling() {
		t.Error("scheduler not started in a mode with Scheduler")
	}
}
