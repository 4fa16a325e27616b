package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

func TestExportCommands(t *testing.T) {
	s := chtest.NewStore(t)
	srv := chtest.Server(t)
	data := filepath.Join(t.TempDir(), "data")
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		full := append([]string{"export", args[0], "--data-dir", data, "--clickhouse-addr", srv.TCPAddr,
			"--clickhouse-database", s.Database, "--log-level", "warn"}, args[1:]...)
		err := Run(context.Background(), full, &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := run("add", "--name", "../../etc/x", "--schedule", "0 6 * * MON"); err == nil {
		t.Errorf("a path as name was accepted: %s", out)
	}
	out, err := run("add", "--name", "weekly", "--schedule", "0 6 * * MON", "--timezone", "Europe/Paris",
		"--query", "metric=events&interval=week", "--range", "last_7_days", "--delimiter", ";", "--bom")
	if err != nil || !strings.Contains(out, "Mondays at 06:00 Europe/Paris") {
		t.Fatalf("add: %v %s", err, out)
	}
	out, err = run("list")
	if err != nil || !strings.Contains(out, "weekly") || !strings.Contains(out, "never") {
		t.Fatalf("list: %v %s", err, out)
	}
	// The name may come before or after the flags.
	var full []string
	full = append(full, "export", "run", "weekly", "--data-dir", data, "--clickhouse-addr", srv.TCPAddr, "--clickhouse-database", s.Database, "--log-level", "warn")
	var o, e bytes.Buffer
	if err := Run(context.Background(), full, &o, &e); err != nil || !strings.Contains(o.String(), "success") {
		t.Fatalf("run: %v %s %s", err, o.String(), e.String())
	}
	files, _ := filepath.Glob(filepath.Join(data, "exports", "weekly", "weekly_*.csv"))
	if len(files) != 1 {
		t.Fatalf("files %v", files)
	}
	b, _ := os.ReadFile(files[0])
	// Every series row says whether its period is complete, and in which zone its days are.
	if !strings.HasPrefix(string(b), "\uFEFFperiod;value;complete;tz\r\n") {
		t.Errorf("file starts %q", string(b[:min(len(b), 40)]))
	}
	if _, err := os.Stat(files[0] + ".json"); err != nil {
		t.Errorf("no manifest beside %s: %v", files[0], err)
	}
	if out, err := run("delete", "weekly"); err != nil || !strings.Contains(out, "deleted") {
		t.Fatalf("delete: %v %s", err, out)
	}
	if out, err := run("run", "weekly"); err == nil {
		t.Errorf("run of a deleted export: %s", out)
	}
}
