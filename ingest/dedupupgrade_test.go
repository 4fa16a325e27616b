package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/schema"
)

// applyMigration runs the statements of migration version on s, as
// schema.Migrate does for one it has not applied yet.
func applyMigration(t *testing.T, s *store.Store, version int) {
	t.Helper()
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	for _, m := range ms {
		if m.Version != version {
			continue
		}
		stmts, err := m.Statements(schema.Target{Database: s.Database, Features: s.Features()})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range stmts {
			qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := s.Conn.Exec(qctx, q)
			cancel()
			if err != nil {
				t.Fatalf("migration %d: %s: %v", version, q, err)
			}
		}
		return
	}
	t.Fatalf("no migration %d", version)
}

// The upgrade to 0120 on a database written by the previous version: ids
// stored before 0110 (ingest_event_ids only) and between 0110 and 0120
// (both id tables and the hourly log) are duplicates afterwards, with the
// filter and without; from then on nothing goes to ingest_event_ids, and
// the old log is gone (a view of its name remains).
func TestUpgradeTo0120KeepsEveryIdADuplicate(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	// Back to the schema before 0120: its objects dropped, 0100's and
	// 0110's views and the hourly log recreated.
	for _, q := range []string{"DROP TABLE ingest_dedup_recent_mv", "DROP TABLE ingest_dedup_marks_mv", "DROP TABLE ingest_dedup_log",
		"DROP TABLE ingest_dedup_recent", "DROP TABLE ingest_dedup_marks"} {
		execSQL(t, s, q)
	}
	applyMigration(t, s, 100)
	applyMigration(t, s, 110)
	if n := query[uint64](t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('ingest_event_ids_mv', 'ingest_dedup_log_mv')"); n != 2 {
		t.Fatalf("%d of the previous version's views recreated, want 2", n)
	}
	// Before 0110: in ingest_event_ids only.
	execSQL(t, s, "INSERT INTO ingest_event_ids (id_hash, event_id, seen_at) SELECT sipHash64(id), id, now() - 7200 FROM (SELECT concat('pre-', toString(number)) AS id FROM numbers(300))")
	execSQL(t, s, "INSERT INTO ingest_dedup_since (until, legacy_rows) SELECT now() - 3600, 1")
	// Between 0110 and 0120: written by the previous version's views.
	execSQL(t, s, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source) "+
		"SELECT concat('mid-', toString(number)), now() - 3600, now() - 60, 'chatgpt', 'web', 'message', 'text', 1, '', 1, 0, '' FROM numbers(400)")
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_log"); n != 400 {
		t.Fatalf("the hourly log holds %d rows before the upgrade, want 400", n)
	}

	applyMigration(t, s, 120)
	if n := query[uint64](t, s, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name IN ('ingest_event_ids_mv', 'ingest_dedup_log_mv')"); n != 0 {
		t.Errorf("%d of the previous version's views remain, want 0", n)
	}
	if e := query[string](t, s, "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'ingest_dedup_log'"); e != "View" {
		t.Errorf("ingest_dedup_log is a %q, want a View", e)
	}

	withFilter := newPipeline(t, s, ingest.Config{})
	waitFilter(t, withFilter)
	submit(t, withFilter, join(idInputs("pre", 0, 300, now), idInputs("mid", 0, 400, now), idInputs("post", 0, 200, now)), 200, 700)
	closePipeline(t, withFilter)
	noFilter := newPipeline(t, s, ingest.Config{NoDedupFilter: true})
	submit(t, noFilter, join(idInputs("pre", 0, 300, now), idInputs("mid", 0, 400, now), idInputs("post", 0, 250, now)), 50, 900)
	if n := query[uint64](t, s, "SELECT count() FROM ingest_event_ids"); n != 300+400 {
		t.Errorf("ingest_event_ids holds %d rows, want the 700 written before the upgrade", n)
	}
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_ids"); n != 400+250 {
		t.Errorf("ingest_dedup_ids holds %d rows, want 650", n)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 400+250 {
		t.Errorf("events holds %d rows, want 650", n)
	}
}
