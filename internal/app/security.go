package app

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

// serverOptions are the HTTP server's defences from the configuration:
// the Host allow-list, body read deadlines (ingest's sized for its largest
// body), header size, and the dashboard/API concurrency cap.
func serverOptions(cfg config.Config) httpserver.Options {
	return httpserver.Options{
		AllowedHosts:      cfg.HTTP.AllowedHosts,
		BodyTimeout:       cfg.HTTP.BodyTimeout,
		IngestBodyTimeout: cfg.IngestBodyDeadline(),
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		MaxConcurrent:     cfg.HTTP.MaxConcurrent,
		QueueTimeout:      cfg.HTTP.QueueTimeout,
	}
}

// trustedProxies parses ADOPTSCOPE_TRUSTED_PROXIES (validated with the
// configuration; an entry that does not parse is skipped).
func trustedProxies(cfg config.Config) auth.Proxies {
	var out auth.Proxies
	for _, s := range cfg.HTTP.TrustedProxies {
		if n, err := config.ParseProxy(s); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// registerLoginMetrics puts the sign-in throttle's counters on /metrics:
// ingest's registry when this process runs ingest, else a /metrics of the
// web process's own.
func (a *App) registerLoginMetrics(t *auth.Throttle) {
	if a.Ingest != nil {
		a.Ingest.Metrics().Registry.MustRegister(t.Collectors()...)
		return
	}
	reg := prometheus.NewRegistry()
	a.webMetrics = reg
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(t.Collectors()...)
	a.Server.Echo.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
}

// trackIngestRoutes runs start (startIngest) and tells the server which
// paths it mounted (every route but /metrics): ingest bodies get their
// longer read deadline and are not counted against the dashboard/API
// concurrency cap, whichever family of sender they serve, and every
// answer on them is JSON.
func (a *App) trackIngestRoutes(start func(context.Context, Mode) error) func(context.Context, Mode) error {
	return func(ctx context.Context, mode Mode) error {
		before := map[string]bool{}
		for _, r := range a.Server.Echo.Routes() {
			before[r.Method+" "+r.Path] = true
		}
		if err := start(ctx, mode); err != nil {
			return err
		}
		var paths []string
		seen := map[string]bool{}
		for _, r := range a.Server.Echo.Routes() {
			if before[r.Method+" "+r.Path] || r.Path == "/metrics" || seen[r.Path] {
				continue
			}
			seen[r.Path] = true
			paths = append(paths, r.Path)
		}
		a.Server.SetIngestPaths(paths)
		// Every ingest route answers in JSON, errors and unknown methods
		// included (the PostHog-compatible ones are outside /v1/).
		a.Server.SetAPIPaths(paths)
		return nil
	}
}
