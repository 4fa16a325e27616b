// Package chtest gives tests a real, throwaway ClickHouse: one server per
// test binary (started by Main from TestMain) and a fresh, migrated
// database per test.
//
// The platform imports nothing of the product, so the product's migration
// and rollup build reach the test environment as functions that each test
// binary passes to Main:
//
//	func TestMain(m *testing.M) {
//		os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
//	}
//
// The helpers shared with chcluster (Logger, DatabaseName, SkipOrFail,
// DropOnCleanup, Migrate) are exported for it.
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
)

// Schema is the product's database as a test binary hands it to Main.
// A binary that only uses NewEmptyStore may pass Schema{}.
type Schema struct {
	// Migrate creates the product's tables in s's database (schema.Migrate).
	Migrate func(ctx context.Context, s *store.Store, log *slog.Logger) (int, error)
	// BuildRollups builds the rollups of everything s's events table holds
	// (rollup.BuildAll).
	BuildRollups func(ctx context.Context, s *store.Store, log *slog.Logger) error
}

var (
	product  Schema // set by Main, read by the tests it runs
	server   *chserver.Server
	startErr error
	once     sync.Once
	dir      string
)

// Main runs the package's tests with sc as the product's schema and a
// server started on first use and removed afterwards. Call it from
// TestMain: os.Exit(chtest.Main(m, chtest.Schema{...})).
func Main(m *testing.M, sc Schema) int {
	product = sc
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
		// With the HTTP interface: the store's protocol tests use it.
		server, startErr = chserver.Start(ctx, chserver.Options{Dir: dir, Logger: Logger(), HTTP: true})
	})
	if startErr != nil {
		SkipOrFail(t, "ClickHouse", startErr)
	}
	return server
}

// NewStore opens a new, empty database on the package's server, migrates it
// with the Migrate given to Main, and drops it when the test ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	s := NewEmptyStore(t)
	Migrate(t, s)
	return s
}

// NewEmptyStore is NewStore without the migrations.
func NewEmptyStore(t testing.TB) *store.Store {
	t.Helper()
	srv := Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, Config(srv, DatabaseName()), Logger())
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	DropOnCleanup(t, s, "") // registered last, so it runs before Close
	return s
}

// Config is the store configuration for database db on srv.
func Config(srv *chserver.Server, db string) store.Config {
	return store.Config{Addr: srv.TCPAddr, Database: db, User: "default"}
}

// Migrate runs the Migrate given to Main on s's database. It fails the test
// when the binary's TestMain passed none.
func Migrate(t testing.TB, s *store.Store) {
	t.Helper()
	if product.Migrate == nil {
		t.Fatal("chtest: this test binary's TestMain passed no Migrate; write " +
			"func TestMain(m *testing.M) { os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll})) } " +
			"(chcluster.Main for cluster tests)")
	}
	if _, err := product.Migrate(context.Background(), s, Logger()); err != nil {
		t.Fatalf("migrate %s: %v", s.Database, err)
	}
}

// BuildRollups builds the rollups of everything s's events table holds,
// with the BuildRollups given to Main: what a test calls after writing
// events and before reading the rollups (on a single server they are built
// behind ingest, see rollup).
func BuildRollups(t testing.TB, s *store.Store) {
	t.Helper()
	if product.BuildRollups == nil {
		t.Fatal("chtest: this test binary's TestMain passed no BuildRollups; write " +
			"os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := product.BuildRollups(ctx, s, Logger()); err != nil {
		t.Fatalf("build rollups: %v", err)
	}
}

// SkipOrFail ends a test whose environment (what: "ClickHouse", "cluster")
// did not start. When err is chserver.ErrNotInstalled or one of notHere,
// the machine lacks a program: the test is skipped, unless CI is set, since
// CI must never pass by skipping the tests that touch data. Any other error
// fails the test.
func SkipOrFail(t testing.TB, what string, err error, notHere ...error) {
	t.Helper()
	missing := errors.Is(err, chserver.ErrNotInstalled)
	for _, e := range notHere {
		missing = missing || errors.Is(err, e)
	}
	if missing && os.Getenv("CI") == "" {
		t.Skipf("%s cannot start here (with CI set this fails): %v", what, err)
	}
	t.Fatalf("start %s: %v", what, err)
}

// DatabaseName returns a new, unique database name.
func DatabaseName() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("random: %v", err))
	}
	return "test_" + hex.EncodeToString(b)
}

// DropOnCleanup drops s's database when the test ends, on every node of
// onCluster when it is not empty. Register it after the cleanup that
// closes s, so that it runs first.
func DropOnCleanup(t testing.TB, s *store.Store, onCluster string) {
	t.Helper()
	stmt := "DROP DATABASE IF EXISTS " + s.Database
	if onCluster != "" {
		stmt += " ON CLUSTER " + onCluster
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = s.Conn.Exec(ctx, stmt)
	})
}

// Logger is the tests' logger: silent unless ADOPTSCOPE_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
