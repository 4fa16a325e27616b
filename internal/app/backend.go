package app

import (
	"context"
	"log/slog"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
)

// Backend is an open, migrated database, with the managed server and data
// folder lock when the process owns them.
type Backend struct {
	Store   *store.Store
	Schema  int
	Managed bool
	// Rollups builds the rollups behind ingest (a no-op on a cluster):
	// writers call CatchUp before they report data as ready to chart.
	Rollups *rollup.Builder
	// server is set when the backend owns its server (OpenBackend): Close
	// stops it and releases the lock.
	server *Server
}

// OpenBackend locks the data folder, starts the managed ClickHouse when no
// address is configured, connects to the configured database and migrates
// it.
func OpenBackend(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Backend, error) {
	srv, err := OpenServer(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	b, err := srv.OpenDatabase(ctx, cfg.ClickHouse.Database, log)
	if err != nil {
		srv.Close()
		return nil, err
	}
	b.server = srv
	return b, nil
}

// Close closes the store, and stops the managed server and releases the
// lock when the backend owns them.
func (b *Backend) Close() {
	if b.Store != nil {
		b.Store.Close()
	}
	if b.server != nil {
		b.server.Close()
	}
}
