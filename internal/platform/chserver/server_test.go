package chserver

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

func requireBinary(t *testing.T) {
	t.Helper()
	if _, err := Find(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("CI needs a ClickHouse server binary: %v", err)
		}
		t.Skip(err)
	}
}

func query(t *testing.T, addr, q string) {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func count(t *testing.T, addr, q string) uint64 {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestDataSurvivesRestart(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	query(t, s.TCPAddr, "CREATE TABLE default.kept (x UInt32) ENGINE = MergeTree() ORDER BY x")
	query(t, s.TCPAddr, "INSERT INTO default.kept SELECT number FROM system.numbers LIMIT 7")
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(s.cmd.Process.Pid, 0); err == nil {
		t.Fatalf("server process %d still alive after Stop", s.cmd.Process.Pid)
	}
	s2, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Stop()
	if n := count(t, s2.TCPAddr, "SELECT count() FROM default.kept"); n != 7 {
		t.Fatalf("rows after restart = %d, want 7", n)
	}
}

func TestOrphanServerIsStoppedBeforeStart(t *testing.T) {
	requireBinary(t)
	dir := t.TempDir()
	ctx := context.Background()
	orphan, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pid := orphan.cmd.Process.Pid
	// A second Start on the same folder, as after a crash of the app that
	// started the first: the old server must go, never two on one store.
	s, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	select {
	case <-orphan.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("orphan server %d still running", pid)
	}
	if n := count(t, s.TCPAddr, "SELECT toUInt64(1)"); n != 1 {
		t.Fatal("new server does not answer")
	}
}

func TestLockRefusesSecondHolder(t *testing.T) {
	dir := t.TempDir()
	l, err := LockDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockDir(dir)
	if err == nil {
		t.Fatal("second LockDir succeeded")
	}
	if !strings.Contains(err.Error(), "in use by process") || !strings.Contains(err.Error(), "ADOPTSCOPE_DATA_DIR") {
		t.Fatalf("unclear lock error: %v", err)
	}
	l.Unlock()
	l2, err := LockDir(dir)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	l2.Unlock()
}

func TestFindWithMissingOverride(t *testing.T) {
	t.Setenv("ADOPTSCOPE_CLICKHOUSE_BINARY", "/nonexistent/clickhouse-server")
	if _, err := Find(); err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_CLICKHOUSE_BINARY") {
		t.Fatalf("Find = %v", err)
	}
	t.Setenv("ADOPTSCOPE_CLICKHOUSE_BINARY", "")
	t.Setenv("PATH", t.TempDir())
	if _, err := Find(); err != nil && !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Find with empty PATH = %v", err)
	}
	if !strings.Contains(ErrNotInstalled.Error(), "apt-get install -y clickhouse-server") {
		t.Fatal("install hint lacks the apt-get command")
	}
}
