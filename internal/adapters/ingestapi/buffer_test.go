package ingestapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

func inputs(prefix string, n int) []ingest.Input {
	out := make([]ingest.Input, n)
	for i := range out {
		out[i] = ingest.Input{EventID: fmt.Sprintf("%s-%d", prefix, i), Time: time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC),
			Assistant: "copilot", Channel: "desktop", UserID: fmt.Sprintf("u%d", i)}
	}
	return out
}

// waitBuffer polls the snapshot until the buffer holds n rows.
func waitBuffer(t *testing.T, p *ingest.Pipeline, n int) {
	t.Helper()
	for p.Snapshot().BufferRows != n {
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullBufferAnswers503AndShutdownFlushes(t *testing.T) {
	s := chtest.NewStore(t)
	// A batch of 100 rows waits up to a minute: the first submission stays
	// in the buffer until Close flushes it.
	p, srv := newServer(t, s, ingest.Config{BatchRows: 100, BufferRows: 100, FlushInterval: time.Minute})
	first := make(chan ingest.Result, 1)
	go func() {
		r, err := p.Submit(context.Background(), inputs("first", 5))
		if err != nil {
			t.Errorf("first submission: %v", err)
		}
		first <- r
	}()
	waitBuffer(t, p, 5)

	_, err := p.Submit(context.Background(), inputs("second", 96))
	if !errors.Is(err, ingest.ErrBusy) {
		t.Fatalf("submission over the buffer: %v, want ErrBusy", err)
	}
	var body strings.Builder
	for i := 0; i < 96; i++ {
		body.WriteString(line(fmt.Sprintf("http-%d", i), nil) + "\n")
	}
	r := post(t, srv.URL, "application/x-ndjson", []byte(body.String()), nil)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("HTTP over the buffer: %d (Retry-After %q) %s", r.status, r.header.Get("Retry-After"), r.raw)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-first; r.Accepted != 5 {
		t.Errorf("first submission after Close: %+v, want 5 accepted", r)
	}
	if _, err := p.Submit(context.Background(), inputs("late", 1)); !errors.Is(err, ingest.ErrClosed) {
		t.Errorf("submission after Close: %v, want ErrClosed", err)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 5 {
		t.Errorf("events holds %d rows, want 5", n)
	}
	snap := p.Snapshot()
	if len(snap.PerMinute) != 60 || len(snap.Recent) != 5 || snap.Recent[0].EventID != "first-4" {
		t.Errorf("snapshot: %d minutes, recent %+v", len(snap.PerMinute), snap.Recent)
	}
	var total uint64
	for _, m := range snap.PerMinute {
		total += m.Accepted
	}
	if total != 5 {
		t.Errorf("per-minute counts add up to %d, want 5", total)
	}
}
