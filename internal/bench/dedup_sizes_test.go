package bench

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

// The window fill writes the ids once, and, for a running ingest, the log
// with a mark per statement (a running ingest reads the log only when a
// mark is not its own); the size line names every dedup table and events.
func TestFillWindowAndDedupSizes(t *testing.T) {
	s := chtest.NewStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if _, err := fillWindow(ctx, s, 5000, true, &out); err != nil {
		t.Fatal(err)
	}
	count := func(q string) uint64 {
		var n uint64
		if err := s.Conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count() FROM ingest_dedup_ids"); n != 5000 {
		t.Errorf("ingest_dedup_ids holds %d ids, want 5000", n)
	}
	if n := count("SELECT count() FROM ingest_dedup_recent"); n != 5000 {
		t.Errorf("ingest_dedup_recent holds %d rows, want 5000", n)
	}
	if n := count("SELECT sum(rows) FROM ingest_dedup_marks"); n != 5000 {
		t.Errorf("the marks count %d rows, want 5000", n)
	}
	out.Reset()
	if err := printDedupSizes(ctx, s, &out); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	t.Log(line)
	for _, want := range []string{"ingest_dedup_ids", "ingest_event_ids", "ingest_dedup_recent", "ingest_dedup_marks", "× events", "(5000 rows)", "the log of the last minutes", "in all"} {
		if !strings.Contains(line, want) {
			t.Errorf("size line %q lacks %q", line, want)
		}
	}
}
