// Package chtest gives tests a real, throwaway ClickHouse: one server per
// test binary (started by Main from TestMain) and a fresh, migrated
// database per test.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

var (
	server   *chserver.Server
	startErr error
	once     sync.Once
	dir      string
)

// Main runs the package's tests with a server started on first use and
// removed afterwards. Call it from TestMain: os.Exit(chtest.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if server != nil {
		server.Stop()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
	return code
}

// Server returns the package's server, starting it on first use. Without a
// ClickHouse binary the test is skipped, or fails when CI is set: CI must
// never pass by skipping the tests that touch data.
func Server(t testing.TB) *chserver.Server {
	t.Helper()
	once.Do(func() {
		dir, startErr = os.MkdirTemp("", "adoptscope-chtest-")
		if startErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		server, startErr = chserver.Start(ctx, chserver.Options{Dir: dir, Logger: quietLogger()})
	})
	if startErr != nil {
		if errors.Is(startErr, chserver.ErrNotInstalled) && os.Getenv("CI") == "" {
			t.Skipf("ClickHouse is not installed: %v", startErr)
		}
		t.Fatalf("start ClickHouse: %v", startErr)
	}
	return server
}

// NewStore opens a new, empty, migrated database on the package's server and
// drops it when the test ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	s := NewEmptyStore(t)
	if _, err := schema.Migrate(context.Background(), s, quietLogger()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return s
}

// NewEmptyStore is NewStore without the migrations.
func NewEmptyStore(t testing.TB) *store.Store {
	t.Helper()
	srv := Server(t)
	db := "test_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, Config(srv, db), quietLogger())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.Conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db)
		s.Close()
	})
	return s
}

// Config is the store configuration for database db on srv.
func Config(srv *chserver.Server, db string) store.Config {
	return store.Config{Addr: srv.TCPAddr, Database: db, User: "default"}
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("random: %v", err))
	}
	return hex.EncodeToString(b)
}

func quietLogger() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// BuildRollups builds the rollups of everything s's events table holds:
// what a test calls after writing events and before reading the rollups
// (on a single server they are built behind ingest, see internal/rollup).
func BuildRollups(t testing.TB, s *store.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := rollup.New(s, rollup.Config{}, quietLogger()).CatchUp(ctx); err != nil {
		t.Fatalf("build rollups: %v", err)
	}
}
