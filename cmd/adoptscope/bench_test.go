package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestBenchIngestRunsOnItsManagedServer: the ingest benchmark starts a
// managed ClickHouse (with its generated password) and an ingest process
// of this binary on it, and reports. It once failed at the start: the
// ingest process did not get the managed server's password.
func TestBenchIngestRunsOnItsManagedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a managed ClickHouse and an ingest process")
	}
	cmd := exec.Command(binary, "bench", "ingest", "--events", "20000", "--request-events", "1000", "--clients", "4")
	cmd.Env = append(os.Environ(), "ADOPTSCOPE_CLICKHOUSE_ADDR=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ingest/raw ratio:") || !strings.Contains(string(out), "stored 20000") {
		t.Fatalf("bench ingest: %v\n%s", err, out)
	}
}
