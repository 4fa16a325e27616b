package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// clickhouseClient runs clickhouse-client against the managed server's
// native port, with password when it is not empty.
func clickhouseClient(t *testing.T, addr, password string) (string, error) {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	args := []string{"--host", "127.0.0.1", "--port", port, "--query", "SELECT 'answered'"}
	if password != "" {
		args = append(args, "--password", password)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "/usr/bin/clickhouse-client", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestManagedClickHouseNeedsPassword: the managed server's default user
// has a generated password, kept 0600 in the data folder, also in a data
// folder started earlier without one; clickhouse-client without it is
// refused, with it allowed; the HTTP interface is off.
func TestManagedClickHouseNeedsPassword(t *testing.T) {
	if _, err := os.Stat("/usr/bin/clickhouse-client"); err != nil {
		chtest.SkipOrFail(t, "clickhouse-client", err)
	}
	if _, err := chserver.Find(); err != nil {
		chtest.SkipOrFail(t, "ClickHouse", err)
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	data := t.TempDir()

	// A data folder from a version without a password: its server
	// answers anyone.
	cfg := config.Config{DataDir: data}
	old, err := chserver.Start(ctx, chserver.Options{Dir: cfg.ClickHouseDir(), Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if out, err := clickhouseClient(t, old.TCPAddr, ""); err != nil || out != "answered" {
		t.Fatalf("the earlier server without a password: %v %s", err, out)
	}
	old.Stop()

	srv, err := OpenServer(ctx, &cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	st, err := os.Stat(filepath.Join(data, "clickhouse-password"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	b, _ := os.ReadFile(filepath.Join(data, "clickhouse-password"))
	pw := strings.TrimSpace(string(b))
	if len(pw) < 32 || cfg.ClickHouse.Password != pw || cfg.ClickHouse.User != "default" {
		t.Fatalf("password %q, the app connects with %q/%q", pw, cfg.ClickHouse.User, cfg.ClickHouse.Password)
	}
	if out, err := clickhouseClient(t, cfg.ClickHouse.Addr, ""); err == nil || strings.Contains(out, "answered") {
		t.Errorf("clickhouse-client without the password answered: %s", out)
	} else if !strings.Contains(strings.ToLower(out), "password") {
		t.Errorf("refused, but not for the password: %s", out)
	}
	if out, err := clickhouseClient(t, cfg.ClickHouse.Addr, pw); err != nil || out != "answered" {
		t.Errorf("clickhouse-client with the password: %v %s", err, out)
	}
	if !strings.Contains(srv.ClientCommand, "clickhouse-client --port ") || !strings.Contains(srv.ClientCommand, "clickhouse-password") {
		t.Errorf("shell command %q", srv.ClientCommand)
	}
	if fi, err := os.Stat(filepath.Join(cfg.ClickHouseDir(), "users.xml")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users.xml: %v %v", fi, err)
	}
	if usersXML, _ := os.ReadFile(filepath.Join(cfg.ClickHouseDir(), "users.xml")); strings.Contains(string(usersXML), pw) || !strings.Contains(string(usersXML), "<password_sha256_hex>") {
		t.Errorf("users.xml holds the password itself, or no hash of it:\n%s", usersXML)
	}
	if cfgXML, _ := os.ReadFile(filepath.Join(cfg.ClickHouseDir(), "config.xml")); strings.Contains(string(cfgXML), "<http_port>") ||
		!strings.Contains(string(cfgXML), "<listen_host>127.0.0.1</listen_host>") {
		t.Errorf("config.xml serves HTTP or listens beyond loopback:\n%s", cfgXML)
	}

	// The app and the CLI commands open the store through the same
	// configuration.
	bk, err := srv.OpenDatabase(ctx, chtest.DatabaseName(), log)
	if err != nil {
		t.Fatalf("the app cannot open its database: %v", err)
	}
	_ = bk.Store.Conn.Exec(ctx, "DROP DATABASE IF EXISTS "+bk.Store.Database)
	bk.Close()
}
