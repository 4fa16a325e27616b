package chcluster

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

var (
	shared    *Cluster
	sharedErr error
	sharedMu  sync.Once
)

// Main runs a package's cluster tests with sc as the product's schema and
// one cluster (2 shards × 2 replicas) started on first use and removed
// afterwards. It is chtest.Main as well, so the same tests may compare with
// a single server (chtest.NewStore). Call it from TestMain:
//
//	os.Exit(chcluster.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
func Main(m *testing.M, sc chtest.Schema) int {
	code := chtest.Main(m, sc)
	if shared != nil {
		shared.Stop()
	}
	return code
}

// Shared returns the package's cluster, starting it on first use. Without
// ClickHouse or ZooKeeper the test is skipped, or fails when CI is set.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	sharedMu.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		shared, sharedErr = Start(ctx, Options{Logger: chtest.Logger()})
	})
	if sharedErr != nil {
		chtest.SkipOrFail(t, "cluster", sharedErr, ErrJavaMissing)
	}
	return shared
}

// NewStore creates a new database on every node of the shared cluster,
// migrates it through node 0 with the Migrate given to Main and returns a
// store connected through node 0. The database is dropped on the whole
// cluster when the test ends.
func NewStore(t testing.TB) *store.Store {
	t.Helper()
	s := NewEmptyStore(t)
	chtest.Migrate(t, s)
	return s
}

// NewEmptyStore is NewStore without the migrations.
func NewEmptyStore(t testing.TB) *store.Store {
	t.Helper()
	c := Shared(t)
	s := OpenStore(t, 0, chtest.DatabaseName())
	chtest.DropOnCleanup(t, s, c.Name) // runs before OpenStore's Close
	return s
}

// OpenStore connects to database db of the shared cluster through node i;
// the connection closes when the test ends.
func OpenStore(t testing.TB, i int, db string) *store.Store {
	t.Helper()
	c := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := store.Open(ctx, c.Config(i, db), chtest.Logger())
	if err != nil {
		t.Fatalf("open store on node %s: %v", c.Nodes[i].Name(), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
