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
)

func TestRawUserIDIsInNoColumnOfAnyTable(t *testing.T) {
	s := chtest.NewStore(t)
	p, srv := newServer(t, s, ingest.Config{})
	const raw = "+33612345678"
	// Through HTTP (with an idempotency key: its stored answer must not
	// carry the id either), through Submit, and in a rejected event.
	body := line("p1", map[string]any{"user_id": `"` + raw + `"`}) + "\n" +
		line("p2", map[string]any{"user_id": `"` + raw + `"`, "assistant": `"nope"`}) + "\n" +
		line("p3", map[string]any{"user_id": `"` + raw + `"`, "country": `"` + raw + `"`}) + "\n"
	if r := post(t, srv.URL, "application/x-ndjson", []byte(body), map[string]string{"Idempotency-Key": "k"}); r.status != http.StatusOK || r.body.Accepted != 1 {
		t.Fatalf("send: %d %s", r.status, r.raw)
	}
	if strings.Contains(string(post(t, srv.URL, "application/x-ndjson", []byte(body), map[string]string{"Idempotency-Key": "k"}).raw), raw) {
		t.Errorf("the answer repeats the raw user id")
	}
	res, err := p.Submit(context.Background(), []ingest.Input{{EventID: "p4", Time: time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC), Assistant: "meta_ai", Channel: "whatsapp", UserID: raw}})
	if err != nil || res.Accepted != 1 {
		t.Fatalf("submit: %+v %v", res, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT table, name, type FROM system.columns WHERE database = ? AND table IN (SELECT name FROM system.tables WHERE database = ? AND engine NOT LIKE '%View')", s.Database, s.Database)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, name, typ string }
	var cols []col
	for rows.Next() {
		var c col
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	rows.Close()
	checked := 0
	for _, c := range cols {
		// Aggregate states hold hashes of user_key, never text.
		if strings.HasPrefix(c.typ, "AggregateFunction") {
			continue
		}
		var n uint64
		q := fmt.Sprintf("SELECT count() FROM %s WHERE position(toString(%s), ?) > 0", c.table, c.name)
		if err := s.Conn.QueryRow(ctx, q, raw).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if n > 0 {
			t.Errorf("%s.%s holds the raw user id in %d rows", c.table, c.name, n)
		}
		checked++
	}
	if n := query[uint64](t, s, "SELECT count() FROM events WHERE event_id IN ('p1', 'p4')"); n != 2 {
		t.Fatalf("stored %d of the 2 accepted events", n)
	}
	t.Logf("checked %d columns", checked)
}
