package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

// Backend is an open store, with the managed server and data folder lock
// when the process owns them.
type Backend struct {
	Store   *store.Store
	Schema  int
	Managed bool
	// Rollups builds the rollups behind ingest (a no-op on a cluster):
	// writers call CatchUp before they report data as ready to chart.
	Rollups *rollup.Builder
	server  *chserver.Server
	lock    *chserver.Lock
}

// OpenBackend locks the data folder, starts the managed ClickHouse when no
// address is configured, connects and migrates.
func OpenBackend(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Backend, error) {
	b := &Backend{}
	lock, err := chserver.LockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	b.lock = lock
	if cfg.ClickHouse.Addr == "" {
		srv, err := chserver.Start(ctx, chserver.Options{Dir: cfg.ClickHouseDir(), Logger: log})
		if err != nil {
			b.Close()
			return nil, err
		}
		b.server = srv
		b.Managed = true
		cfg.ClickHouse.Addr = srv.TCPAddr
	}
	s, err := store.Open(ctx, cfg.ClickHouse, log)
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Store = s
	v, err := schema.Migrate(ctx, s, log)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("migrate schema: %w", err)
	}
	b.Schema = v
	b.Rollups = rollup.New(s, rollup.Config{Interval: cfg.Ingest.RollupInterval, MaxLag: cfg.Ingest.RollupMaxLag}, log)
	return b, nil
}

// Close closes the store, stops the managed server and releases the lock.
func (b *Backend) Close() {
	if b.Store != nil {
		b.Store.Close()
	}
	if b.server != nil {
		b.server.Stop()
	}
	b.lock.Unlock()
}
