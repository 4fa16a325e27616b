package app

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/config"
)

// startExports builds the export service that the query API, the
// dashboard and the scheduler share, in the modes that run any of them.
// Its Stop waits for manual runs started through the API or the dashboard.
func (a *App) startExports(ctx context.Context, mode Mode) error {
	if !mode.Web && !mode.Scheduler {
		return nil
	}
	a.Exports = export.NewService(a.Backend.Store, a.Cfg.ExportsDir(), a.Log.With("part", "exports"))
	a.Exports.Runner.Heartbeat = a.Cfg.ExportHeartbeat()
	a.Exports.Runner.Webhook.To = WebhookDestinations(ctx, &a.Cfg)
	a.started(exportsPart{a.Exports, a.Cfg.ShutdownTimeout})
	return nil
}

// startScheduler runs the export scheduler when the mode has it.
func (a *App) startScheduler(_ context.Context, mode Mode) error {
	if !mode.Scheduler {
		return nil
	}
	a.Exports.StartScheduler(export.SchedulerOptions{
		CatchUp: a.Cfg.Exports.CatchUp, MaxAttempts: a.Cfg.Exports.MaxAttempts, Settle: a.Cfg.Exports.ClaimSettle,
		StaleAfter: a.Cfg.Exports.StaleAfter, RetryBackoff: a.Cfg.Exports.RetryBackoff,
	})
	a.Log.Info("export scheduler started", "exports_dir", a.Cfg.ExportsDir(), "claimer", a.Exports.Runner.Claimer, "catch_up", a.Cfg.Exports.CatchUp,
		"stale_after", a.Cfg.Exports.StaleAfter, "retry_backoff", a.Cfg.Exports.RetryBackoff)
	return nil
}

// exportsPart stops scheduling and waits for running exports up to the
// shutdown timeout; runs still going then are cancelled and record
// themselves as failed ("interrupted"), and a scheduler retries them later.
type exportsPart struct {
	x       *export.Service
	timeout time.Duration
}

func (p exportsPart) Stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(p.timeout, 30*time.Second))
	defer cancel()
	return p.x.Stop(ctx)
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// WebhookDestinations says where this instance's export webhooks may go:
// public addresses, plus the allow-list of ADOPTSCOPE_WEBHOOK_ALLOW, but
// never this instance's own HTTP address nor ClickHouse's ports (its
// native port and the usual HTTP ports 8123 and 8443 on the same hosts,
// where a ?query= in a URL runs SQL). cfg.ClickHouse.Addr must be set (the
// managed server's once it has started).
func WebhookDestinations(ctx context.Context, cfg *config.Config) *export.Destinations {
	hosts, nets, _ := export.ParseAllow(cfg.Exports.WebhookAllow) // checked by Validate
	d := &export.Destinations{AllowHosts: hosts, AllowNets: nets}
	if cfg.Addr != "" {
		d.Deny = append(d.Deny, export.LocalEndpoints(ctx, cfg.Addr)...)
	}
	for _, a := range strings.Split(cfg.ClickHouse.Addr, ",") {
		host, _, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil {
			continue
		}
		d.Deny = append(d.Deny, export.LocalEndpoints(ctx, strings.TrimSpace(a))...)
		ports := []string{"8123", "8443"}
		if cfg.ManagedHTTPPort != 0 {
			ports = append(ports, strconv.Itoa(cfg.ManagedHTTPPort))
		}
		for _, port := range ports {
			d.Deny = append(d.Deny, export.LocalEndpoints(ctx, net.JoinHostPort(host, port))...)
		}
	}
	return d
}
