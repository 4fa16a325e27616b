package app

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
	"github.com/adoptscope/adoptscope/query"
)

// startAPI mounts the query API (/api/v1/series, /migration, /retention,
// /metrics) when the mode runs the web side, and keeps the daily finals of
// the query layer up to date in the background. Reads take a read or admin
// token or a logged-in dashboard session; with no token and no dashboard
// account configured they are open (the server binds loopback by default).
func startAPI(ctx context.Context, d *Deps, mode Mode) (part, error) {
	if !mode.Web {
		return nil, nil
	}
	// startWeb runs after this and sets DashboardAuth: read it per request.
	a := queryapi.New(queryapi.Options{
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

	fctx, cancel := context.WithCancel(context.Background())
	f := &finalizer{cancel: cancel}
	f.wg.Add(1)
	go f.run(fctx, d)
	return f, nil
}

// finalizer runs query.Finalize every finalizeEvery, catching up 31 days
// per call until nothing is left.
type finalizer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

const finalizeEvery = 30 * time.Second

func (f *finalizer) run(ctx context.Context, d *Deps) {
	defer f.wg.Done()
	t := time.NewTicker(finalizeEvery)
	defer t.Stop()
	for {
		for {
			start := time.Now()
			n, err := query.Finalize(ctx, d.Backend.Store, 31)
			if err != nil {
				if ctx.Err() == nil {
					d.Log.Warn("finalizing daily active users failed; charts read the uniq states meanwhile", "error", err)
				}
				break
			}
			if n > 0 {
				d.Log.Debug("finalized daily active users", "days", n, "took", time.Since(start).Round(time.Millisecond))
			}
			if n < 31 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (f *finalizer) Stop(ctx context.Context) error {
	f.cancel()
	f.wg.Wait()
	return nil
}
