package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// One instance alone: before each lookup it reads only the marks of what
// was committed since its last read, all of them its own, and never the
// log itself; duplicates are still refused. Then a row written into
// events by another writer (a plain insert) makes it read the log, and
// that id is a duplicate.
func TestSingleWriterDoesNotReadTheLog(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	p := newPipeline(t, s, ingest.Config{})
	waitFilter(t, p)
	reads0, skips0 := p.DedupLogReads()
	for i := 0; i < 8; i++ {
		submit(t, p, idInputs("solo", i*500, i*500+500, now), 500, 0)
		submit(t, p, idInputs("solo", 0, i*500+500, now), 0, i*500+500)
	}
	reads, skips := p.DedupLogReads()
	if reads != reads0 {
		t.Errorf("the log was read %v times while this instance was the only writer, want 0", reads-reads0)
	}
	if skips-skips0 < 16 {
		t.Errorf("%v reads of the log skipped, want at least one per lookup (16)", skips-skips0)
	}
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_marks"); n < 8 {
		t.Errorf("ingest_dedup_marks holds %d rows, want one per insert (8)", n)
	}

	// Another writer: straight into events.
	execSQL(t, s, "INSERT INTO events (event_id, event_time, received_at, assistant, channel, event_type, modality, user_key, country, count, linked, source) "+
		"SELECT concat('other-', toString(number)), now() - 3600, now(), 'chatgpt', 'web', 'message', 'text', 1, '', 1, 0, '' FROM numbers(300)")
	submit(t, p, join(idInputs("other", 0, 300, now), idInputs("solo", 4000, 4100, now)), 100, 300)
	if reads, _ := p.DedupLogReads(); reads == reads0 {
		t.Error("the log was not read after another writer committed")
	}
	if got, want := query[uint64](t, s, "SELECT count() FROM events"), uint64(4000+300+100); got != want {
		t.Errorf("events holds %d rows, want %d", got, want)
	}
}

// Two instances with the skip in place, taking turns: each reads the log
// only when the other has written, and an id committed by one is a
// duplicate for the other, also when it is resent at once.
func TestTwoInstancesReadTheLogOnlyAfterTheOther(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	a := newPipeline(t, s, ingest.Config{})
	b := newPipeline(t, s, ingest.Config{})
	waitFilter(t, a)
	waitFilter(t, b)
	aReads0, _ := a.DedupLogReads()
	bReads0, _ := b.DedupLogReads()
	submit(t, a, idInputs("t", 0, 1000, now), 1000, 0)
	submit(t, a, idInputs("t", 1000, 2000, now), 1000, 0)
	if r, _ := a.DedupLogReads(); r != aReads0 {
		t.Errorf("a read the log %v times with no other writer", r-aReads0)
	}
	submit(t, b, idInputs("t", 0, 2000, now), 0, 2000)
	if r, _ := b.DedupLogReads(); r == bReads0 {
		t.Error("b did not read the log after a wrote")
	}
	for i := 0; i < 6; i++ {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		in := idInputs("u", i*100, i*100+100, now)
		submit(t, first, in, 100, 0)
		submit(t, second, join(in, idInputs("u", 0, i*100, now)), 0, i*100+100)
	}
	storedOnce(t, s, 2600)
}

// Migration 0120 on a single server: an insert into events writes its ids
// once (ingest_dedup_ids), not into ingest_event_ids; with the filter
// turned off, duplicates are found there.
func TestIdsStoredOnceOnASingleServer(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	p := newPipeline(t, s, ingest.Config{NoDedupFilter: true})
	submit(t, p, idInputs("once", 0, 700, now), 700, 0)
	submit(t, p, join(idInputs("once", 0, 700, now), idInputs("once", 700, 800, now)), 100, 700)
	if n := query[uint64](t, s, "SELECT count() FROM ingest_event_ids"); n != 0 {
		t.Errorf("ingest_event_ids holds %d rows, want 0 (no longer written on a single server)", n)
	}
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_ids"); n != 800 {
		t.Errorf("ingest_dedup_ids holds %d rows, want 800", n)
	}
	storedOnce(t, s, 800)
}

// The log of committed ids is dropped once it is a few minutes old, by the
// server's clock; what is recent stays.
func TestDedupLogIsDroppedAfterMinutes(t *testing.T) {
	s := chtest.NewStore(t)
	execSQL(t, s, "INSERT INTO ingest_dedup_recent (committed_at, id_hash, seen_at) SELECT now() - 600 - number % 120, number, now() FROM numbers(1000)")
	execSQL(t, s, "INSERT INTO ingest_dedup_recent (committed_at, id_hash, seen_at) SELECT now() - number % 60, number, now() FROM numbers(1000)")
	execSQL(t, s, "INSERT INTO ingest_dedup_marks (committed_at, rows, hash_sum, seen_sum) SELECT now() - 700 * number, 1, 1, 1 FROM numbers(2)")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Every instance runs it: two at once both succeed.
	errs := make(chan error, 2)
	for range 2 {
		go func() { errs <- ingest.DropExpiredDedupLog(ctx, s) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_recent"); n != 1000 {
		t.Errorf("ingest_dedup_recent holds %d rows, want the 1000 of the last minute", n)
	}
	if n := query[uint64](t, s, "SELECT count() FROM ingest_dedup_marks"); n != 1 {
		t.Errorf("ingest_dedup_marks holds %d rows, want 1", n)
	}
}
