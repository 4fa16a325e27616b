//go:build cluster

// Cluster tests: a real ZooKeeper and 2 shards × 2 replicas of ClickHouse.
// Run with `make test-cluster` (go test -tags cluster ./internal/platform/chcluster/).
package chcluster_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chcluster"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chcluster.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

type tableInfo struct{ engine, engineFull, sortingKey string }

func tables(t *testing.T, s *store.Store) map[string]tableInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT name, engine, engine_full, sorting_key FROM system.tables WHERE database = ?", s.Database)
	if err != nil {
		t.Fatalf("list tables on %s: %v", s.Addr, err)
	}
	defer rows.Close()
	out := map[string]tableInfo{}
	for rows.Next() {
		var name string
		var ti tableInfo
		if err := rows.Scan(&name, &ti.engine, &ti.engineFull, &ti.sortingKey); err != nil {
			t.Fatal(err)
		}
		out[name] = ti
	}
	return out
}

// TestMigrateTwiceOnCluster applies every migration twice (through two
// different nodes) and checks, on every node, that the cluster schema is
// the single-server schema split the documented way: each MergeTree-family
// table T becomes T_local (Replicated, same sorting key) under a Distributed
// T, or stays T as a Replicated table of its own; views exist everywhere;
// schema_migrations lists every migration on every node.
// singleServerOnly are the tables a cluster does not have: migration 0203's
// (the rollup builder's; on a cluster the views build the rollups inside
// the insert) and 0110's (the dedup filter's; a cluster keeps the lookup
// in ingest_event_ids).
var singleServerOnly = map[string]bool{
	"rollup_queue": true, "rollup_queue_mv": true, "rollup_feed": true, "rollup_windows": true,
	"rollup_window_mv": true, "rollup_lease": true,
	"ingest_dedup_ids": true, "ingest_dedup_ids_mv": true, "ingest_dedup_log": true, "ingest_dedup_log_mv": true,
	"ingest_dedup_since": true,
	// 0120's: the log kept minutes, and the marks that let an instance skip it.
	"ingest_dedup_recent": true, "ingest_dedup_recent_mv": true, "ingest_dedup_marks": true, "ingest_dedup_marks_mv": true,
	// 0210's: the rollups of configured time zones, fed by the builder (a
	// cluster's questions in another zone read raw events).
	"rollup_zone_users_day": true, "rollup_zone_users_day_mv": true, "rollup_zone_users_week": true, "rollup_zone_users_week_mv": true,
	"rollup_zone_users_month": true, "rollup_zone_users_month_mv": true, "rollup_zone_events_day": true, "rollup_zone_events_day_mv": true,
	"rollup_zone_person_day": true, "rollup_zone_person_day_mv": true, "rollup_zone_first_seen": true, "rollup_zone_first_seen_mv": true,
	"rollup_zone_version_day": true, "rollup_zone_version_day_mv": true, "rollup_zone_users_final": true, "rollup_zones": true,
	// 0220's zone person-weeks and person-months.
	"rollup_zone_person_week": true, "rollup_zone_person_week_mv": true, "rollup_zone_person_month": true, "rollup_zone_person_month_mv": true,
	"rollup_zone_feed": true,
}

func TestMigrateTwiceOnCluster(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	single := tables(t, chtest.NewStore(t))

	s := chcluster.NewEmptyStore(t)
	c := chcluster.Shared(t)
	ctx := context.Background()
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	want := ms[len(ms)-1].Version
	if v, err := schema.Migrate(ctx, s, nil); err != nil || v != want {
		t.Fatalf("first migrate through %s: version %d, %v; want %d", c.Nodes[0].Name(), v, err, want)
	}
	last := chcluster.OpenStore(t, len(c.Nodes)-1, s.Database)
	if v, err := schema.Migrate(ctx, last, nil); err != nil || v != want {
		t.Fatalf("second migrate through %s: version %d, %v; want %d", c.Nodes[len(c.Nodes)-1].Name(), v, err, want)
	}

	var first map[string]tableInfo
	for i, nd := range c.Nodes {
		ns := chcluster.OpenStore(t, i, s.Database)
		got := tables(t, ns)
		if first == nil {
			first = got
		} else if fmt.Sprint(got) != fmt.Sprint(first) {
			t.Errorf("node %s has a different schema than %s:\n%v\nvs\n%v", nd.Name(), c.Nodes[0].Name(), got, first)
		}
		paths := map[string]string{}
		for name, ti := range got {
			if strings.HasSuffix(ti.engine, "MergeTree") && !strings.HasPrefix(ti.engine, "Replicated") {
				t.Errorf("node %s: table %s is %s, not replicated: its rows would live on one node only", nd.Name(), name, ti.engine)
			}
			if strings.HasPrefix(ti.engine, "Replicated") {
				p := strings.SplitN(ti.engineFull, "'", 3)
				if len(p) == 3 {
					if other, dup := paths[p[1]]; dup {
						t.Errorf("node %s: tables %s and %s share the ZooKeeper path %s", nd.Name(), name, other, p[1])
					}
					paths[p[1]] = name
				}
			}
		}
		for name, st := range single {
			if singleServerOnly[name] {
				if _, ok := got[name]; ok {
					t.Errorf("node %s: %s exists; it belongs to the single server's rollup builder (on a cluster the views build the rollups inside the insert)", nd.Name(), name)
				}
				continue
			}
			switch {
			case strings.HasSuffix(st.engine, "MergeTree"):
				if l, ok := got[name+"_local"]; ok {
					if l.engine != "Replicated"+st.engine {
						t.Errorf("node %s: %s_local engine %s, want Replicated%s", nd.Name(), name, l.engine, st.engine)
					}
					if l.sortingKey != st.sortingKey {
						t.Errorf("node %s: %s_local sorting key %q, single server %q", nd.Name(), name, l.sortingKey, st.sortingKey)
					}
					if d := got[name]; d.engine != "Distributed" || !strings.Contains(d.engineFull, name+"_local") {
						t.Errorf("node %s: %s is %q, want Distributed over %s_local", nd.Name(), name, d.engineFull, name)
					}
				} else if g, ok := got[name]; !ok || g.engine != "Replicated"+st.engine || g.sortingKey != st.sortingKey {
					t.Errorf("node %s: table %s = %+v; single server %+v; want %s_local + Distributed, or Replicated%s", nd.Name(), name, g, st, name, st.engine)
				}
			default:
				// Views keep their name, or take the _local suffix when
				// written with {{local}}.
				g, ok := got[name]
				if !ok {
					g, ok = got[name+"_local"]
				}
				if !ok || g.engine != st.engine {
					t.Errorf("node %s: %s = %+v, single server engine %s", nd.Name(), name, g, st.engine)
				}
			}
		}
		// The record of migrations replicates to every node.
		deadline := time.Now().Add(30 * time.Second)
		for {
			applied, err := schema.Applied(ctx, ns)
			if err != nil {
				t.Fatalf("node %s: %v", nd.Name(), err)
			}
			if len(applied) == len(ms) {
				break
			}
			if time.Now().After(deadline) {
				var vs []int
				for v := range applied {
					vs = append(vs, v)
				}
				sort.Ints(vs)
				t.Errorf("node %s: schema_migrations has %v, want all %d migrations", nd.Name(), vs, len(ms))
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// TestStartsWithANodeDown: with the schema in place, an instance starts
// (opens the store, finds nothing to migrate) while one node is down,
// instead of waiting on ON CLUSTER DDL that node cannot answer.
func TestStartsWithANodeDown(t *testing.T) {
	s := chcluster.NewStore(t)
	c := chcluster.Shared(t)
	down := len(c.Nodes) - 1
	c.Kill(down)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := c.Restart(ctx, down); err != nil {
			t.Fatal(err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns, err := store.Open(ctx, c.Config(0, s.Database), nil)
	if err != nil {
		t.Fatalf("open with %s down: %v", c.Nodes[down].Name(), err)
	}
	defer ns.Close()
	ms, _ := schema.Migrations()
	if v, err := schema.Migrate(ctx, ns, nil); err != nil || v != ms[len(ms)-1].Version {
		t.Fatalf("migrate with %s down: version %d, %v", c.Nodes[down].Name(), v, err)
	}
}

// TestUnknownClusterIsExplained: a cluster name the server does not know
// fails at start with a message that names the variable and the clusters
// the server has.
func TestUnknownClusterIsExplained(t *testing.T) {
	t.Parallel() // the tests that kill nodes run first, alone
	c := chcluster.Shared(t)
	cfg := c.Config(0, "test_unknown_cluster")
	cfg.Cluster = "nosuchcluster"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, cfg, nil)
	if err == nil {
		s.Close()
		t.Fatal("store.Open with an unknown cluster succeeded")
	}
	for _, want := range []string{"ADOPTSCOPE_CLICKHOUSE_CLUSTER=nosuchcluster", "remote_servers", c.Name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}
