package ingest_test

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

func TestFlushWritesTheFillingBatchAtOnce(t *testing.T) {
	s := chtest.NewStore(t)
	p, _ := newServer(t, s, ingest.Config{FlushInterval: time.Minute})
	res := make(chan ingest.Result, 1)
	go func() {
		r, err := p.Submit(context.Background(), inputs("f", 3))
		if err != nil {
			t.Error(err)
		}
		res <- r
	}()
	waitBuffer(t, p, 3)
	p.Flush()
	if r := <-res; r.Accepted != 3 {
		t.Errorf("after Flush: %+v, want 3 accepted", r)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 3 {
		t.Errorf("events holds %d rows, want 3", n)
	}
}

// A batch that is ready while every write slot is busy keeps taking
// submissions, and goes as one insert when a slot frees: under load the
// batches grow instead of queueing up behind each other.
func TestReadyBatchKeepsFillingWhileWritesAreBusy(t *testing.T) {
	s := chtest.NewStore(t)
	p, _ := newServer(t, s, ingest.Config{BatchRows: 1000, FlushInterval: 20 * time.Millisecond, Writes: 1})
	release := p.HoldWriteSlot()
	results := make(chan ingest.Result, 3)
	submit := func(prefix string, n int) {
		go func() {
			r, err := p.Submit(context.Background(), inputs(prefix, n))
			if err != nil {
				t.Errorf("%s: %v", prefix, err)
			}
			results <- r
		}()
	}
	// Each submission arrives after the batch before it was ready (its
	// flush interval passed) and while the only write slot is taken.
	submit("a", 10)
	waitBuffer(t, p, 10)
	time.Sleep(100 * time.Millisecond)
	submit("b", 20)
	waitBuffer(t, p, 30)
	time.Sleep(100 * time.Millisecond)
	submit("c", 30)
	waitBuffer(t, p, 60)
	time.Sleep(100 * time.Millisecond)
	release()
	accepted := 0
	for i := 0; i < 3; i++ {
		accepted += (<-results).Accepted
	}
	if accepted != 60 {
		t.Fatalf("accepted %d events, want 60", accepted)
	}
	if batches, rows := p.Batches(); batches != 1 || rows != 60 {
		t.Fatalf("%d batches of %v rows in all, want 1 batch of 60", batches, rows)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 60 {
		t.Fatalf("events holds %d rows, want 60", n)
	}
}

// A submission gives its inputs back (the HTTP handler's decoded slices go
// back to their pool) once they are validated, not after the commit it
// waits for: requests waiting for a batch hold only their events.
func TestInputsAreGivenBackBeforeTheCommit(t *testing.T) {
	s := chtest.NewStore(t)
	p, _ := newServer(t, s, ingest.Config{BatchRows: 1000, FlushInterval: 20 * time.Millisecond, Writes: 1})
	release := p.HoldWriteSlot()
	given := make(chan struct{})
	results := make(chan ingest.Result, 1)
	go func() {
		r, err := p.SubmitReleasing(context.Background(), inputs("g", 25), func() { close(given) })
		if err != nil {
			t.Error(err)
		}
		results <- r
	}()
	select {
	case <-given:
	case <-time.After(10 * time.Second):
		release()
		t.Fatal("the inputs were not given back while the batch waited for a write slot")
	}
	select {
	case r := <-results:
		t.Fatalf("answered %+v before the batch could be written", r)
	default:
	}
	release()
	if r := <-results; r.Accepted != 25 {
		t.Fatalf("%+v, want 25 accepted", r)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 25 {
		t.Fatalf("events holds %d rows, want 25", n)
	}
}
