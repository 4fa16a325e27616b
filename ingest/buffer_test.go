package ingest_test

import (
	"context"
	"fmt"
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

func TestFlushWritesTheFillingBatchAtOnce(t *testing.T) {
	s := chtest.NewStore(t)
	p := newPipeline(t, s, ingest.Config{FlushInterval: time.Minute})
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
	p := newPipeline(t, s, ingest.Config{BatchRows: 1000, FlushInterval: 20 * time.Millisecond, Writes: 1})
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
	p := newPipeline(t, s, ingest.Config{BatchRows: 1000, FlushInterval: 20 * time.Millisecond, Writes: 1})
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
