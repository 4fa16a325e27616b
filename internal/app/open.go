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

// Server is a ClickHouse server to open several databases on, for the tools
// that work in scratch databases of their own (the ingest benchmark) rather
// than in the configured one: OpenBackend opens exactly one.
type Server struct {
	Addr    string
	Managed bool // started by this process, in the data folder
	// Password is the one to connect with: the managed server's generated
	// one, or the configured one (processes started on this server need it).
	Password string
	// ClientCommand is the clickhouse-client line that opens a shell on
	// the managed server (empty when not managed).
	ClientCommand string
	cfg           config.Config
	server        *chserver.Server
	lock          *chserver.Lock
}

// OpenServer locks the data folder and starts the managed ClickHouse in it
// when no address is configured, as OpenBackend does, and sets
// cfg.ClickHouse.Addr to the server's; it opens no database.
func OpenServer(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Server, error) {
	lock, err := chserver.LockDir(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if lock.Recovered != 0 {
		log.Warn("data folder lock recovered: the process that held it ended without releasing it (killed or crashed)",
			"previous_pid", lock.Recovered, "data_dir", cfg.DataDir)
	}
	s := &Server{lock: lock}
	if cfg.ClickHouse.Addr == "" {
		// The managed server's default user has a password of its own,
		// generated once and kept in the data folder (0600): its ports
		// listen on loopback only, but any local user could connect.
		// Folders from versions without one get one at this start (the
		// server's users.xml is written anew at every start).
		pw, _, err := loadOrCreate(cfg.ClickHousePasswordFile())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("managed ClickHouse password: %w", err)
		}
		srv, err := chserver.Start(ctx, chserver.Options{Dir: cfg.ClickHouseDir(), Logger: log, Password: pw, HTTPPort: cfg.ManagedHTTPPort})
		if err != nil {
			s.Close()
			return nil, err
		}
		// A managed server that dies (crash, OOM killer) is restarted on
		// its ports; /healthz says why while it is down.
		srv.Supervise(chserver.RestartPolicy{})
		s.server = srv
		s.Managed = true
		cfg.ClickHouse.Addr = srv.TCPAddr
		cfg.ClickHouse.User, cfg.ClickHouse.Password = "default", pw
		s.ClientCommand = srv.ClientCommand(cfg.ClickHousePasswordFile())
		log.Info("managed ClickHouse listens on loopback; open a shell with", "command", s.ClientCommand, "http", srv.HTTPAddr)
	}
	s.Addr, s.Password = cfg.ClickHouse.Addr, cfg.ClickHouse.Password
	s.cfg = *cfg
	return s, nil
}

// OpenDatabase connects to database db of the server and migrates it, as
// OpenBackend does for the configured database. Closing the backend leaves
// the server running.
func (s *Server) OpenDatabase(ctx context.Context, db string, log *slog.Logger) (*Backend, error) {
	sc := s.cfg.ClickHouse
	sc.Database = db
	st, err := store.Open(ctx, sc, log)
	if err != nil {
		return nil, err
	}
	b := &Backend{Store: st, Managed: s.Managed}
	v, err := schema.Migrate(ctx, st, log)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("migrate schema: %w", err)
	}
	b.Schema = v
	b.Rollups = rollup.New(st, rollup.Config{Interval: s.cfg.Ingest.RollupInterval, MaxLag: s.cfg.Ingest.RollupMaxLag, Zones: s.cfg.Zones()}, log)
	return b, nil
}

// ManagedState is the managed server's state (Running when the server is
// not managed by this process).
func (s *Server) ManagedState() chserver.State {
	if s == nil || s.server == nil {
		return chserver.State{Running: true}
	}
	return s.server.State()
}

// Close stops the managed server and releases the lock.
func (s *Server) Close() {
	if s.server != nil {
		s.server.Stop()
	}
	s.lock.Unlock()
}
