package app

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/dashboard"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/rollup"
)

// startWeb mounts the dashboard and the query API (/api/v1/series,
// /migration, /retention, /metrics, /exports, /annotations) when the mode
// runs the web side, and keeps the daily finals the charts read up to date
// in the background. API reads take a read or admin token or a logged-in
// dashboard session; with no token and no dashboard account configured they
// are open (the server binds loopback by default).
func (a *App) startWeb(_ context.Context, mode Mode) error {
	if !mode.Web {
		return nil
	}
	users, err := auth.LoadUsers(a.Cfg.Users, a.Cfg.UsersFile)
	if err != nil {
		return err
	}
	key, err := dashboard.LoadOrCreateKey(filepath.Join(a.Cfg.DataDir, "session.key"))
	if err != nil {
		return err
	}
	anon := auth.RoleAdmin
	if len(users) == 0 && !loopback(a.Cfg.Addr) {
		// Without accounts, a dashboard reachable from the network is
		// read-only: nobody unknown may change annotations.
		anon = auth.RoleViewer
		a.Log.Warn("dashboard has no login but listens beyond loopback; set ADOPTSCOPE_USERS to require one", "addr", a.Cfg.Addr)
	}
	a.Auth = dashboard.NewAuth(users, key, anon)
	a.Auth.Proxies = trustedProxies(a.Cfg)
	a.registerLoginMetrics(a.Auth.Throttle)

	// Annotation scopes are checked against the configured registries
	// (empty: the catalog's defaults), by the API, the dashboard's form
	// and the CLI alike.
	if a.Annotations == nil {
		a.Annotations = annotation.New(a.Backend.Store, a.Cfg.Registry())
	}
	det := a.breaksDetector()
	// Panel members are keyed like events, with ingest's secret: only an
	// instance that runs ingest takes panel uploads.
	var panels *panel.Service
	if a.Ingest != nil {
		panels = panel.NewService(a.Backend.Store, a.Ingest.UserKey)
	}
	api, err := queryapi.New(queryapi.Deps{
		Panel:       panels,
		Store:       a.Backend.Store,
		Log:         a.Log,
		ReadTokens:  a.Cfg.ReadTokens,
		AdminTokens: a.Cfg.AdminTokens,
		Session: func(r *http.Request) (string, bool) {
			if !a.Auth.Enabled() {
				return "", false // an anonymous visitor is not a session
			}
			s, ok := a.Auth.SessionFromRequest(r)
			return s.Role, ok
		},
		DashboardUsers: a.Auth.Enabled,
		Loopback:       loopback(a.Cfg.Addr),
		Registry:       a.Cfg.Registry(),
		Owners:         a.Cfg.OwnersOrDefault(),
		// The optional features this process serves.
		Exports:     a.Exports,
		Annotations: a.Annotations,
		Alerts:      a.Alerts,
		Detect: func(ctx context.Context) (string, error) {
			res, err := det.Run(ctx)
			return res.String(), err
		},
	})
	if err != nil {
		return err
	}
	a.API = api
	// A write to the API that a page of another site could have made a
	// browser send (with the session cookie, or to the open laptop
	// default) is refused before any handler runs.
	a.Server.Echo.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if strings.HasPrefix(c.Request().URL.Path, "/api/") {
				if err := a.Auth.CheckWrite(c.Request()); err != nil {
					return err
				}
			}
			return next(c)
		}
	})
	a.API.Register(a.Server.Echo.Group("/api/v1"))

	// The filter choices follow the ingest registries (empty: the defaults).
	var snapshot func() ingest.Snapshot
	if a.Ingest != nil {
		snapshot = a.Ingest.Snapshot
		if sdk := a.SDK; sdk != nil {
			snapshot = func() ingest.Snapshot {
				s := a.Ingest.Snapshot()
				s.SDK = sdk.Snapshot()
				return s
			}
		}
	}
	owners := a.Cfg.OwnersOrDefault()
	a.Dashboard, err = dashboard.New(dashboard.Deps{Store: a.Backend.Store, Auth: a.Auth, Annotations: a.Annotations, Log: a.Log,
		IngestStats: snapshot, Ingest: a.Ingest, Exports: a.Exports, Alerts: a.Alerts, Assistants: a.Cfg.Ingest.Assistants, Channels: a.Cfg.Ingest.Channels,
		RollupInterval: a.Cfg.Ingest.RollupInterval, RollupMaxLag: a.Cfg.Ingest.RollupMaxLag, Timezone: a.Cfg.Timezone,
		Owners: &owners, Panel: panels})
	if err != nil {
		return err
	}
	a.Dashboard.Register(a.Server.Echo)
	if a.Ingest != nil {
		// A file uploaded on the Ingest page is an ingest body: the longer
		// read deadline, and bounded by the decoding slots, not the cap.
		a.Server.SetIngestPaths(append(slices.Clip(a.Server.Options().IngestPaths), dashboard.UploadPath))
	}
	a.Server.PageError = a.Dashboard.ErrorPage
	if a.Auth.Enabled() {
		a.Log.Info("dashboard login required", "users", len(users))
	} else {
		a.Log.Info("dashboard without login", "anonymous_role", anon)
	}
	a.started(rollup.StartFinalizer(a.Backend.Store, rollup.DefaultFinalizeEvery, a.Log))
	return nil
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
