package ingestapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// ownTables are ingest's and the rollup builder's bookkeeping; every other
// table (events and the rollups fed from it) must not change when events
// are sent again.
var ownTables = map[string]bool{"ingest_event_ids": true, "ingest_idempotency": true, "schema_migrations": true,
	"rollup_queue": true, "rollup_windows": true}

// totals returns, per data table, its row count and the total of each
// numeric or aggregate column after merging everything, as text, once the
// rollups are built.
func totals(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	chtest.BuildRollups(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = ? AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree') ORDER BY table, name", s.Database, s.Database)
	if err != nil {
		t.Fatal(err)
	}
	exprs := map[string][]string{}
	for rows.Next() {
		var table, name, typ string
		if err := rows.Scan(&table, &name, &typ); err != nil {
			t.Fatal(err)
		}
		if ownTables[table] {
			continue
		}
		switch {
		case strings.HasPrefix(typ, "AggregateFunction("):
			fn := strings.TrimPrefix(typ, "AggregateFunction(")
			fn = fn[:strings.IndexAny(fn, ",()")]
			exprs[table] = append(exprs[table], fmt.Sprintf("toString(%sMerge(%s))", fn, name))
		case strings.HasPrefix(typ, "UInt") || strings.HasPrefix(typ, "Int") || strings.HasPrefix(typ, "Float"):
			exprs[table] = append(exprs[table], fmt.Sprintf("toString(sum(%s))", name))
		}
	}
	rows.Close()
	out := map[string]string{}
	for table, ex := range exprs {
		if err := s.Conn.Exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatalf("optimize %s: %v", table, err)
		}
		var v string
		q := "SELECT concat(toString(count()), ' ', " + strings.Join(ex, ", ' ', ") + ") FROM " + table
		if err := s.Conn.QueryRow(ctx, q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out[table] = v
	}
	return out
}

func TestSameEventsTwiceAreStoredOnce(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{BatchRows: 3000})
	var b strings.Builder
	assistants := []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	channels := []string{"whatsapp", "ios", "web"}
	for i := 0; i < 10_000; i++ {
		fmt.Fprintf(&b, `{"event_id":"ev-%05d","time":"2026-01-%02dT%02d:00:00Z","assistant":%q,"channel":%q,"user_id":"user-%d","count":%d}`+"\n",
			i, 1+i%28, i%24, assistants[i%4], channels[i%3], i%700, 1+i%5)
	}
	body := []byte(b.String())

	first := post(t, srv.URL, "application/x-ndjson", body, map[string]string{"Idempotency-Key": "batch-1"})
	if first.status != http.StatusOK || first.body.Accepted != 10_000 || first.body.Duplicates != 0 {
		t.Fatalf("first send: %d %s", first.status, first.raw)
	}
	before := totals(t, s)
	if before["events"] == "" {
		t.Fatalf("no totals for events: %v", before)
	}

	again := post(t, srv.URL, "application/x-ndjson", body, map[string]string{"Idempotency-Key": "batch-1"})
	if again.status != first.status || string(again.raw) != string(first.raw) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("same key: %d %s (replayed %q), want the first answer %s", again.status, again.raw, again.header.Get("Idempotent-Replayed"), first.raw)
	}
	nokey := post(t, srv.URL, "application/x-ndjson", body, nil)
	if nokey.status != http.StatusOK || nokey.body.Accepted != 0 || nokey.body.Duplicates != 10_000 {
		t.Errorf("no key: %d %s, want 0 accepted and 10000 duplicates", nokey.status, nokey.raw)
	}
	// Duplicates inside one request and across the requests of one batch.
	three := strings.Join(strings.SplitAfterN(string(body), "\n", 4)[:3], "")
	r := post(t, srv.URL, "application/x-ndjson", []byte(three+three), nil)
	if r.status != http.StatusOK || r.body.Accepted != 0 || r.body.Duplicates != 6 || r.body.Rejected != 0 {
		t.Errorf("repeated lines: %d %s", r.status, r.raw)
	}

	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 10_000 {
		t.Errorf("events holds %d rows, want 10000", n)
	}
	if n := query[uint64](t, s, "SELECT uniqExact(event_id) FROM events"); n != 10_000 {
		t.Errorf("events holds %d distinct ids, want 10000", n)
	}
	after := totals(t, s)
	for table, v := range before {
		if after[table] != v {
			t.Errorf("table %s totals changed: %s, then %s", table, v, after[table])
		}
	}
	// The rollups hold every stored event once: their totals, computed
	// from the raw table.
	if got, want := query[uint64](t, s, "SELECT sum(events) FROM rollup_events_day"), query[uint64](t, s, "SELECT sum(toUInt64(count)) FROM events"); got != want {
		t.Errorf("rollup_events_day sums to %d events, events to %d", got, want)
	}
	if got, want := query[uint64](t, s, "SELECT count() FROM (SELECT day, assistant, channel, country, user_key FROM rollup_person_day GROUP BY day, assistant, channel, country, user_key)"),
		query[uint64](t, s, "SELECT count() FROM (SELECT DISTINCT event_date, assistant, channel, country, user_key FROM events)"); got != want {
		t.Errorf("rollup_person_day holds %d person-days, events %d", got, want)
	}
	t.Logf("tables compared: %d (%v)", len(before), before)
}

func TestDuplicatesAcrossConcurrentRequestsInOneBatch(t *testing.T) {
	s := chtest.NewStore(t)
	p, _ := newServer(t, s, ingest.Config{FlushInterval: 300 * time.Millisecond})
	in := []ingest.Input{{EventID: "same", Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "web", UserID: "u"}}
	results := make(chan ingest.Result, 8)
	for i := 0; i < 8; i++ {
		go func() {
			r, err := p.Submit(context.Background(), in)
			if err != nil {
				t.Error(err)
			}
			results <- r
		}()
	}
	accepted, dups := 0, 0
	for i := 0; i < 8; i++ {
		r := <-results
		accepted += r.Accepted
		dups += r.Duplicates
	}
	if accepted != 1 || dups != 7 {
		t.Errorf("accepted %d, duplicates %d; want 1 and 7", accepted, dups)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 1 {
		t.Errorf("events holds %d rows, want 1", n)
	}
}

// Batches written at once: the same ids sent in many small requests land in
// different batches, several of them in flight together, whose lookups
// cannot see each other's rows yet. Each id must still be stored once, and
// every request answered with the right split.
func TestDuplicatesAcrossBatchesInFlightAtOnce(t *testing.T) {
	s := chtest.NewStore(t)
	p, _ := newServer(t, s, ingest.Config{BatchRows: 50, FlushInterval: time.Millisecond, Writes: 4})
	const ids, senders = 200, 6
	var in []ingest.Input
	for i := 0; i < ids; i++ {
		in = append(in, ingest.Input{EventID: fmt.Sprintf("id-%d", i), Time: time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), Assistant: "chatgpt", Channel: "web", UserID: fmt.Sprintf("u%d", i)})
	}
	results := make(chan ingest.Result, senders*ids/10)
	errs := make(chan error, senders*ids/10)
	for g := 0; g < senders; g++ {
		go func() {
			// Requests of 10 events, each sender in its own order.
			for k := 0; k < ids/10; k++ {
				j := (k + g*7) % (ids / 10)
				r, err := p.Submit(context.Background(), in[j*10:j*10+10])
				errs <- err
				results <- r
			}
		}()
	}
	accepted, dups := 0, 0
	for i := 0; i < senders*ids/10; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		r := <-results
		accepted += r.Accepted
		dups += r.Duplicates
	}
	if accepted != ids || dups != (senders-1)*ids {
		t.Errorf("accepted %d, duplicates %d; want %d and %d", accepted, dups, ids, (senders-1)*ids)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != ids {
		t.Errorf("events holds %d rows, want %d", n, ids)
	}
	if n := query[uint64](t, s, "SELECT uniqExact(event_id) FROM events"); n != ids {
		t.Errorf("events holds %d distinct ids, want %d", n, ids)
	}
}
