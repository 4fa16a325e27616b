package ingest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// newPipeline runs a pipeline on s, closed at the end of the test unless
// the test closes it (closePipeline) first.
func newPipeline(t *testing.T, s *store.Store, cfg ingest.Config) *ingest.Pipeline {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 20 * time.Millisecond
	}
	p, err := ingest.NewPipeline(s, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { closePipeline(t, p) }) })
	return p
}

func closePipeline(t *testing.T, p *ingest.Pipeline) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("close: %v", err)
	}
}

func waitFilter(t *testing.T, p *ingest.Pipeline) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !p.DedupFilterReady() {
		if time.Now().After(deadline) {
			t.Fatal("the dedup filter was not built within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idInputs are events with ids prefix-from … prefix-(to-1), at t.
func idInputs(prefix string, from, to int, at time.Time) []ingest.Input {
	var in []ingest.Input
	for i := from; i < to; i++ {
		in = append(in, ingest.Input{EventID: fmt.Sprintf("%s-%d", prefix, i), Time: at, Assistant: "chatgpt", Channel: "web", UserID: fmt.Sprintf("u%d", i%97)})
	}
	return in
}

func join(parts ...[]ingest.Input) []ingest.Input {
	var out []ingest.Input
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func submit(t *testing.T, p *ingest.Pipeline, in []ingest.Input, accepted, dups int) {
	t.Helper()
	r, err := p.Submit(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if r.Accepted != accepted || r.Duplicates != dups || r.Rejected != 0 {
		t.Fatalf("accepted %d, duplicates %d, rejected %d (%v); want %d accepted, %d duplicates", r.Accepted, r.Duplicates, r.Rejected, r.Errors, accepted, dups)
	}
}

func storedOnce(t *testing.T, s *store.Store, want int) {
	t.Helper()
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != uint64(want) {
		t.Errorf("events holds %d rows, want %d", n, want)
	}
	if n := query[uint64](t, s, "SELECT uniqExact(event_id) FROM events"); n != uint64(want) {
		t.Errorf("events holds %d distinct ids, want %d", n, want)
	}
}

// The filter probes the hashes ClickHouse stored: both sides must compute
// sipHash64 alike, for every length around the 8-byte blocks and for
// multi-byte text.
func TestSipHash64MatchesClickHouse(t *testing.T) {
	s := chtest.NewStore(t)
	ids := []string{"", "a", "abc", "1234567", "12345678", "123456789", "0123456789abcdef", "0123456789abcdefg",
		"3f2b8c1e-7d4a-4b9e-9c2d-1a2b3c4d5e6f", "événement-ü-😀", string(make([]byte, 128))}
	for _, id := range ids {
		if got, want := ingest.SipHash64(id), query[uint64](t, s, "SELECT sipHash64(?)", id); got != want {
			t.Errorf("sipHash64(%q) = %x here, %x in ClickHouse", id, got, want)
		}
	}
}

// A restarted instance: while its filter is not rebuilt, every id is looked
// up in ClickHouse (nothing stored before the restart is admitted again);
// once rebuilt from ClickHouse, the ids stored before the restart and those
// stored while it rebuilt are both duplicates.
func TestDuplicatesRefusedAfterARestartBeforeAndAfterTheRebuild(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	first := newPipeline(t, s, ingest.Config{})
	waitFilter(t, first)
	submit(t, first, idInputs("r", 0, 3000, now), 3000, 0)
	closePipeline(t, first)

	second := newPipeline(t, s, ingest.Config{})
	release := second.HoldDedupFilter()
	if second.DedupFilterReady() {
		t.Fatal("filter ready while held")
	}
	submit(t, second, join(idInputs("r", 0, 1000, now), idInputs("n", 0, 500, now)), 500, 1000)
	if _, _, fallback := second.DedupFilterCounts(); fallback == 0 {
		t.Error("no batch was looked up whole while the filter was not built")
	}
	release()
	waitFilter(t, second)
	probedBefore, maybeBefore, _ := second.DedupFilterCounts()
	submit(t, second, join(idInputs("r", 1000, 3000, now), idInputs("n", 0, 500, now), idInputs("m", 0, 500, now)), 500, 2500)
	probed, maybe, _ := second.DedupFilterCounts()
	// Every duplicate is "maybe"; the 500 new ids almost never are (20
	// bits per id, one day held: ~0.02 % false positives, 10 of 500 is
	// far out).
	if probed-probedBefore != 3000 || maybe-maybeBefore < 2500 || maybe-maybeBefore > 2510 {
		t.Errorf("filter: %v probed, %v maybe; want 3000 probed and 2500-2510 maybe", probed-probedBefore, maybe-maybeBefore)
	}
	storedOnce(t, s, 4000)
}

// Two instances on one database, each with its filter built before the
// other stored anything: an id stored by one is a duplicate for the other
// (its filter learns it from the log of committed ids before the lookup).
func TestTwoInstancesStoreAnIdOnce(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	a := newPipeline(t, s, ingest.Config{})
	b := newPipeline(t, s, ingest.Config{})
	waitFilter(t, a)
	waitFilter(t, b)
	submit(t, a, idInputs("x", 0, 2000, now), 2000, 0)
	submit(t, b, join(idInputs("x", 0, 2000, now), idInputs("y", 0, 1000, now)), 1000, 2000)
	submit(t, a, idInputs("y", 0, 1000, now), 0, 1000)
	// Again, alternating request by request.
	for i := 0; i < 10; i++ {
		from, to := idInputs("z", i*100, i*100+100, now), idInputs("z", 0, i*100+100, now)
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		submit(t, first, from, 100, 0)
		submit(t, second, to, 0, len(to))
	}
	if !a.DedupFilterReady() || !b.DedupFilterReady() {
		t.Error("a filter was dropped during the test: the lookups above did not all go through it")
	}
	storedOnce(t, s, 4000)
}

// The window's edge on a fixed clock: an id stored exactly DedupWindow ago
// is still a duplicate, one second later it is new and stored again. The
// clock crosses midnight there, so the filter also drops the day the ids
// were received on.
func TestDedupWindowEdgeOnAFixedClock(t *testing.T) {
	s := chtest.NewStore(t)
	var mu sync.Mutex
	clock := time.Date(2026, 3, 10, 23, 59, 59, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	set := func(t time.Time) { mu.Lock(); clock = t; mu.Unlock() }
	stored := clock
	const window = 24 * time.Hour
	cfg := ingest.Config{DedupWindow: window, Now: now}
	p := newPipeline(t, s, cfg)
	waitFilter(t, p)
	submit(t, p, idInputs("edge", 0, 300, stored.Add(-time.Hour)), 300, 0)

	for _, step := range []struct {
		at       time.Time
		from, to int
		accepted int
	}{
		{stored.Add(window - time.Second), 0, 100, 0},
		{stored.Add(window), 100, 200, 0},                             // seen_at = now - window: inside
		{stored.Add(window + time.Second), 200, 300, 100},             // out: new again
		{stored.Add(window + time.Second + time.Minute), 0, 100, 100}, // out too
	} {
		set(step.at)
		// A restarted instance at this time must agree.
		again := newPipeline(t, s, cfg)
		waitFilter(t, again)
		in := idInputs("edge", step.from, step.to, step.at.Add(-time.Hour))
		submit(t, p, in, step.accepted, len(in)-step.accepted)
		if !p.DedupFilterReady() {
			t.Fatalf("at %s: the filter is not ready", step.at)
		}
		// What p just stored again is inside the window for both.
		submit(t, again, in, 0, len(in))
		closePipeline(t, again)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 500 {
		t.Errorf("events holds %d rows, want 500 (300, then 200 stored again once out of the window)", n)
	}
	if n := query[uint64](t, s, "SELECT count() FROM (SELECT event_id FROM events GROUP BY event_id HAVING count() = 2)"); n != 200 {
		t.Errorf("%d ids stored twice, want 200", n)
	}
}

// A false positive of the filter (an id it holds but ClickHouse does not)
// is looked up and stored.
func TestFilterFalsePositiveStillStoresTheEvent(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	p := newPipeline(t, s, ingest.Config{})
	waitFilter(t, p)
	for i := 0; i < 50; i++ {
		if !p.AddToDedupFilter(fmt.Sprintf("fp-%d", i)) {
			t.Fatal("filter not ready")
		}
	}
	_, maybeBefore, _ := p.DedupFilterCounts()
	submit(t, p, idInputs("fp", 0, 100, now), 100, 0)
	if _, maybe, _ := p.DedupFilterCounts(); maybe-maybeBefore < 50 {
		t.Errorf("%v ids passed on to ClickHouse, want at least the 50 forced", maybe-maybeBefore)
	}
	storedOnce(t, s, 100)
	if n := query[uint64](t, s, "SELECT count() FROM events WHERE event_id IN ('fp-0', 'fp-49')"); n != 2 {
		t.Errorf("%d of the forced false positives stored, want 2", n)
	}
}

// Ids stored by a version before the filter are in ingest_event_ids only
// (its marker says so): they are duplicates, before and after the filter
// is built.
func TestIdsStoredBeforeTheFilterExistedAreDuplicates(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	execSQL(t, s, "INSERT INTO ingest_event_ids (id_hash, event_id, seen_at) SELECT sipHash64(id), id, now() - 3600 FROM (SELECT concat('old-', toString(number)) AS id FROM system.numbers LIMIT 200)")
	execSQL(t, s, "INSERT INTO ingest_dedup_since (until, legacy_rows) SELECT now() + 600, 1")
	p := newPipeline(t, s, ingest.Config{})
	release := p.HoldDedupFilter()
	submit(t, p, join(idInputs("old", 0, 100, now), idInputs("new", 0, 50, now)), 50, 100)
	release()
	waitFilter(t, p)
	submit(t, p, join(idInputs("old", 100, 200, now), idInputs("new", 0, 50, now), idInputs("new", 50, 100, now)), 50, 150)
	if got := query[uint64](t, s, "SELECT count() FROM events"); got != 100 {
		t.Errorf("events holds %d rows, want 100", got)
	}
}

// Over the memory cap the filter is built with fewer bits per id, and still
// refuses every duplicate.
func TestFilterFitsItsMemoryCap(t *testing.T) {
	s := chtest.NewStore(t)
	now := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	first := newPipeline(t, s, ingest.Config{})
	submit(t, first, idInputs("c", 0, 40_000, now), 40_000, 0)
	closePipeline(t, first)
	// 40,000 ids with room for 15 % more at 8 bits: 46,000 bytes.
	p := newPipeline(t, s, ingest.Config{DedupFilterMemory: 46_000})
	waitFilter(t, p)
	if b := p.DedupFilterBitsPerID(); b != 8 {
		t.Errorf("bits per id %v, want 8 (the cap's share)", b)
	}
	submit(t, p, join(idInputs("c", 0, 40_000, now), idInputs("d", 0, 1000, now)), 1000, 40_000)
	storedOnce(t, s, 41_000)
}

func execSQL(t *testing.T, s *store.Store, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Conn.Exec(ctx, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}
