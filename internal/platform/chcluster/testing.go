package chcluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/schema"
)

var (
	shared    *Cluster
	sharedErr error
	sharedMu  sync.Once
)

// Main runs a package's cluster tests with one cluster (2 shards × 2
// replicas) started on first use and removed afterwards. Call it from
// TestMain: os.Exit(chcluster.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

// StopShared stops the shared cluster, for a TestMain that also uses
// chtest.Main: code := chtest.Main(m); chcluster.StopShared().
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Shared returns the package's cluster, starting it on first use. Without
// ClickHouse or ZooKeeper the test is skipped, or fails when CI is set.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared, sharedErr = Start(ctx, Options{Logger: quiet()})
	})
	if sharedErr != nil {
		if (errors.Is(sharedErr, chserver.ErrNotInstalled) || errors.Is(sharedErr, ErrJavaMissing)) && os.Getenv("CI") == "" {
			t.Skipf("cluster cannot start here: %v", sharedErr)
		}
		t.Fatalf("start cluster: %v", sharedErr)
	}
	return shared
}

// NewStore creates a new database on every node of the shared cluster,
// migrates it through node 0 and returns a store connected through node 0.
// The database is dropped on the whole cluster when the test ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	s := NewEmptyStore(t)
	if _, err := schema.Migrate(context.Background(), s, quiet()); err != nil {
		t.Fatalf("migrate on the cluster: %v", err)
	}
	return s
}

// NewEmptyStore is NewStore without the migrations.
func NewEmptyStore(t testing.TB) *store.Store {
	t.Helper()
	c := Shared(t)
	db := "test_" + randomSuffix()
	s := OpenStore(t, 0, db)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = s.Conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" ON CLUSTER "+c.Name)
	})
	return s
}

// OpenStore connects to database db of the shared cluster through node i;
// the connection closes when the test ends.
func OpenStore(t testing.TB, i int, db string) *store.Store {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, c.Config(i, db), quiet())
	if err != nil {
		t.Fatalf("open store on node %s: %v", c.Nodes[i].Name(), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func randomSuffix() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func quiet() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
