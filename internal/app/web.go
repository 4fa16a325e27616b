package app

import (
	"context"
	"net"
	"path/filepath"

	"github.com/adoptscope/adoptscope/internal/adapters/dashboard"
)

// startWeb mounts the dashboard when the mode runs the web side.
func startWeb(ctx context.Context, d *Deps, mode Mode) (part, error) {
	if !mode.Web {
		return nil, nil
	}
	users, err := dashboard.LoadUsers(d.Cfg.Users, d.Cfg.UsersFile)
	if err != nil {
		return nil, err
	}
	key, err := dashboard.LoadOrCreateKey(filepath.Join(d.Cfg.DataDir, "session.key"))
	if err != nil {
		return nil, err
	}
	anon := dashboard.RoleAdmin
	if len(users) == 0 && !loopback(d.Cfg.Addr) {
		// Without accounts, a dashboard reachable from the network is
		// read-only: nobody unknown may change annotations.
		anon = dashboard.RoleViewer
		d.Log.Warn("dashboard has no login but listens beyond loopback; set ADOPTSCOPE_USERS to require one", "addr", d.Cfg.Addr)
	}
	auth := dashboard.NewAuth(users, key, anon)
	d.DashboardAuth = auth
	// The filter choices follow the ingest registries (empty: the defaults).
	h := dashboard.New(dashboard.Options{Store: d.Backend.Store, Auth: auth, Log: d.Log, IngestStats: d.IngestSnapshot,
		Assistants: d.Cfg.Ingest.Assistants, Channels: d.Cfg.Ingest.Channels,
		RollupInterval: d.Cfg.Ingest.RollupInterval, RollupMaxLag: d.Cfg.Ingest.RollupMaxLag})
	h.UseExports(ExportHandlers(d))
	h.Register(d.Echo)
	if auth.Enabled() {
		d.Log.Info("dashboard login required", "users", len(users))
	} else {
		d.Log.Info("dashboard without login", "anonymous_role", anon)
	}
	return nil, nil
}

// loopback reports whether addr only listens on the local machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
