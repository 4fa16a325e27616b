package config

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/adoptscope/adoptscope/export"
)

// ExportConfig tunes the export scheduler (bound with the Data section:
// exports are files in the data folder).
type ExportConfig struct {
	CatchUp     bool // after downtime, run each export's latest missed run once
	MaxAttempts int  // tries per scheduled run, the first included
	// ClaimSettle is how long a scheduler waits between claiming a run and
	// reading back the winner (see export/README.md).
	ClaimSettle time.Duration
	// StaleAfter: a running run whose heartbeat is older than this is
	// taken as dead (its process was killed) and recorded failed, to be
	// retried. Runs beat at a quarter of it (at most every 10 s).
	StaleAfter time.Duration
	// RetryBackoff is the wait before the second attempt of a failed
	// scheduled run, doubled for each further one.
	RetryBackoff time.Duration
	// WebhookAllow admits webhook receivers on non-public addresses:
	// comma-separated host names, IP addresses and CIDR prefixes
	// (export.ParseAllow). Empty: public addresses only.
	WebhookAllow string

	bound bool
}

func (c *Config) bindExports(f binder) {
	c.Exports.bound = true
	f.boolean(&c.Exports.CatchUp, "export-catch-up", "ADOPTSCOPE_EXPORT_CATCH_UP", true, "after downtime, run each scheduled export's latest missed run once (false: wait for the next one)")
	f.dur(&c.Exports.ClaimSettle, "export-claim-settle", "ADOPTSCOPE_EXPORT_CLAIM_SETTLE", 3*time.Second, "how long a scheduler waits after claiming a run before reading back the winner; raise it above the replication lag on a cluster")
	f.integer(&c.Exports.MaxAttempts, "export-attempts", "ADOPTSCOPE_EXPORT_ATTEMPTS", 3, "tries per scheduled export run, the first included; failures are retried with backoff (--export-retry-backoff, doubled each time)")
	f.dur(&c.Exports.StaleAfter, "export-stale-after", "ADOPTSCOPE_EXPORT_STALE_AFTER", time.Minute, "a running export whose process has not said it is alive for this long (killed, machine lost) is recorded failed and retried; runs say so every quarter of it, at most every 10s; use one value on every scheduler process")
	f.dur(&c.Exports.RetryBackoff, "export-retry-backoff", "ADOPTSCOPE_EXPORT_RETRY_BACKOFF", time.Minute, "wait before retrying a failed scheduled export run, doubled for each further attempt")
	f.str(&c.Exports.WebhookAllow, "webhook-allow", "ADOPTSCOPE_WEBHOOK_ALLOW", "", "export webhooks go to public addresses only; this comma-separated list of host names, IP addresses and CIDR prefixes (hooks.corp.example,10.20.0.0/16) admits receivers inside your network; this instance's own address and ClickHouse's stay refused")
}

// validateExports checks the scheduler's settings.
func (c *Config) validateExports() []error {
	x := c.Exports
	var errs []error
	if x.MaxAttempts < 1 || x.MaxAttempts > 20 {
		errs = append(errs, fmt.Errorf("--export-attempts / ADOPTSCOPE_EXPORT_ATTEMPTS %d: want 1-20 (1: no retry)", x.MaxAttempts))
	}
	if x.ClaimSettle < 0 || x.ClaimSettle > time.Minute {
		errs = append(errs, fmt.Errorf("--export-claim-settle / ADOPTSCOPE_EXPORT_CLAIM_SETTLE %s: want 0-1m", x.ClaimSettle))
	}
	if x.StaleAfter < 2*time.Second || x.StaleAfter > time.Hour {
		errs = append(errs, fmt.Errorf("--export-stale-after / ADOPTSCOPE_EXPORT_STALE_AFTER %s: want 2s-1h (runs say they are alive every quarter of it; shorter would take a busy run for a dead one)", x.StaleAfter))
	}
	if x.RetryBackoff < time.Second || x.RetryBackoff > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--export-retry-backoff / ADOPTSCOPE_EXPORT_RETRY_BACKOFF %s: want 1s-24h", x.RetryBackoff))
	}
	if _, _, err := export.ParseAllow(x.WebhookAllow); err != nil {
		errs = append(errs, fmt.Errorf("--webhook-allow / ADOPTSCOPE_WEBHOOK_ALLOW: %v; want comma-separated host names, IP addresses or CIDR prefixes, for example hooks.corp.example,10.20.0.0/16", err))
	}
	return errs
}

// ExportHeartbeat is how often a running export says it is alive: a
// quarter of StaleAfter, at most every 10 s, so that a live run is never
// taken for a dead one (0 when StaleAfter is unset: the export default).
func (c *Config) ExportHeartbeat() time.Duration {
	if c.Exports.StaleAfter <= 0 {
		return 0
	}
	return min(c.Exports.StaleAfter/4, 10*time.Second)
}

// ExportsDir is the folder that holds every export's files.
func (c *Config) ExportsDir() string { return filepath.Join(c.DataDir, "exports") }
