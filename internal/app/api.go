package app

import (
	"context"
	"net/http"

	"github.com/adoptscope/adoptscope/internal/api"
)

// startAPI mounts the query API (/api/v1/series, /migration, /retention,
// /metrics) when the mode runs the web side. Reads take a read or admin
// token or a logged-in dashboard session; with no token and no dashboard
// account configured they are open (the server binds loopback by default).
func startAPI(ctx context.Context, d *Deps, mode Mode) (part, error) {
	if !mode.Web {
		return nil, nil
	}
	// startWeb runs after this and sets DashboardAuth: read it per request.
	a := api.New(api.Options{
		Store:       d.Backend.Store,
		Log:         d.Log,
		ReadTokens:  d.Cfg.ReadTokens,
		AdminTokens: d.Cfg.AdminTokens,
		Session: func(r *http.Request) (string, bool) {
			if d.DashboardAuth == nil || !d.DashboardAuth.Enabled() {
				return "", false // an anonymous visitor is not a session
			}
			s, ok := d.DashboardAuth.SessionFromRequest(r)
			return s.Role, ok
		},
		DashboardUsers: func() bool { return d.DashboardAuth != nil && d.DashboardAuth.Enabled() },
		Loopback:       loopback(d.Cfg.Addr),
	})
	a.Register(d.Echo.Group("/api/v1"))
	registerExportAPI(d, a, d.Echo.Group("/api/v1"))
	registerAnnotationAPI(d, a, d.Echo.Group("/api/v1"))
	return nil, nil
}
