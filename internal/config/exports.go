package config

import (
	"path/filepath"
	"time"
)

// ExportConfig tunes the export scheduler (bound with the Data section:
// exports are files in the data folder).
type ExportConfig struct {
	CatchUp     bool // after downtime, run each export's latest missed run once
	MaxAttempts int  // tries per scheduled run, the first included
	// ClaimSettle is how long a scheduler waits between claiming a run and
	// reading back the winner (see export/README.md).
	ClaimSettle time.Duration
}

func (c *Config) bindExports(f binder) {
	f.boolean(&c.Exports.CatchUp, "export-catch-up", "ADOPTSCOPE_EXPORT_CATCH_UP", true, "after downtime, run each scheduled export's latest missed run once (false: wait for the next one)")
	f.dur(&c.Exports.ClaimSettle, "export-claim-settle", "ADOPTSCOPE_EXPORT_CLAIM_SETTLE", 3*time.Second, "how long a scheduler waits after claiming a run before reading back the winner; raise it above the replication lag on a cluster")
	f.integer(&c.Exports.MaxAttempts, "export-attempts", "ADOPTSCOPE_EXPORT_ATTEMPTS", 3, "tries per scheduled export run, the first included; failures are retried with backoff (1m, 2m, 4m, ...)")
}

// ExportsDir is the folder that holds every export's files.
func (c *Config) ExportsDir() string { return filepath.Join(c.DataDir, "exports") }
