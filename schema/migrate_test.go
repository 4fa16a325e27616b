package schema_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) { os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate})) }

// expectedTables is written out by hand, apart from the migrations, so that a
// migration that silently changes an engine or a sorting key fails here.
var expectedTables = map[string]struct{ engine, sortingKey string }{
	"schema_migrations":   {"ReplacingMergeTree", "version"},
	"events":              {"MergeTree", "assistant, channel, event_date, user_key"},
	"ingest_event_ids":    {"MergeTree", "id_hash"},
	"ingest_idempotency":  {"MergeTree", "scope, key"},
	"rollup_users_day":    {"AggregatingMergeTree", "assistant, channel, day, country"},
	"rollup_users_week":   {"AggregatingMergeTree", "assistant, channel, week, country"},
	"rollup_users_month":  {"AggregatingMergeTree", "assistant, channel, month, country"},
	"rollup_events_day":   {"SummingMergeTree", "assistant, channel, day, country, modality, event_type"},
	"rollup_person_day":   {"SummingMergeTree", "assistant, channel, day, country, user_key"},
	"rollup_version_day":  {"SummingMergeTree", "day"},
	"rollup_person_week":  {"ReplacingMergeTree", "week, assistant, channel, country, user_key"},
	"rollup_person_month": {"ReplacingMergeTree", "month, assistant, channel, country, user_key"},
	"rollup_users_final":  {"ReplacingMergeTree", "grain, day, assistant, channel, country"},
	"rollup_first_seen":   {"AggregatingMergeTree", "assistant, channel, country, user_key"},
	"annotations":         {"ReplacingMergeTree", "id"},
	"exports":             {"ReplacingMergeTree", "id"},
	"export_runs":         {"ReplacingMergeTree", "export_id, scheduled_at, run_id"},
	"export_claims":       {"MergeTree", "export_id, scheduled_at, attempt"},
}

func TestMigrateTwiceCreatesEveryTable(t *testing.T) {
	s := chtest.NewEmptyStore(t)
	ctx := context.Background()
	v1, err := schema.Migrate(ctx, s, nil)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	v2, err := schema.Migrate(ctx, s, nil)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	ms, _ := schema.Migrations()
	if want := ms[len(ms)-1].Version; v1 != want || v2 != want {
		t.Fatalf("versions after migrate: %d then %d, want %d", v1, v2, want)
	}
	got, err := schema.CurrentVersion(ctx, s)
	if err != nil || got != v1 {
		t.Fatalf("CurrentVersion = %d, %v; want %d", got, err, v1)
	}

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(cctx, "SELECT name, engine, sorting_key FROM system.tables WHERE database = ?", s.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	found := map[string][2]string{}
	for rows.Next() {
		var name, engine, key string
		if err := rows.Scan(&name, &engine, &key); err != nil {
			t.Fatal(err)
		}
		found[name] = [2]string{engine, key}
	}
	for name, want := range expectedTables {
		g, ok := found[name]
		if !ok {
			t.Errorf("table %s missing", name)
			continue
		}
		if g[0] != want.engine {
			t.Errorf("table %s engine = %s, want %s", name, g[0], want.engine)
		}
		if strings.ReplaceAll(g[1], " ", "") != strings.ReplaceAll(want.sortingKey, " ", "") {
			t.Errorf("table %s sorting key = %q, want %q", name, g[1], want.sortingKey)
		}
	}

	// Each migration is recorded once per apply at most, and reads dedupe.
	applied, err := schema.Applied(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(applied) != len(ms) {
		t.Errorf("applied %d migrations, want %d", len(applied), len(ms))
	}
}

func TestMigrateConcurrently(t *testing.T) {
	s := chtest.NewEmptyStore(t)
	errs := make(chan error, 2)
	for i := 0; i < 2; i++ {
		go func() { _, err := schema.Migrate(context.Background(), s, nil); errs <- err }()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

func TestStatementsSplitOnMarkerOnly(t *testing.T) {
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		stmts, err := m.Statements(schema.Target{Database: "db"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			if strings.Contains(q, "{{") {
				t.Errorf("migration %d renders unexpanded template: %s", m.Version, q)
			}
		}
		cl, err := m.Statements(schema.Target{Database: "db", Cluster: "c1"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range cl {
			if strings.HasPrefix(q, "CREATE TABLE") && !strings.Contains(q, "ON CLUSTER c1") {
				t.Errorf("migration %d on a cluster lacks ON CLUSTER: %s", m.Version, q)
			}
		}
	}
}
