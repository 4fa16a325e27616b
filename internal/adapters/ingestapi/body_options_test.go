package ingestapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// postQuery posts body to /v1/events?query.
func postQuery(t *testing.T, base, query, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/events?"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// TestDelimiterParameter: ?delimiter= overrides the delimiter detected from
// a CSV header row; anything but , ; and tab, or a delimiter on a body that
// is not CSV, is refused with 400 naming the parameter.
func TestDelimiterParameter(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{})
	// The last column's name holds more commas than the header has
	// semicolons: detection takes ',' and finds one column per comma.
	semi := "event_id;time;assistant;channel;user_id;note,a,b,c,d,e\n" +
		"d-1;2026-01-15T09:30:00Z;chatgpt;whatsapp;u1;x\n" +
		"d-2;2026-01-15T09:31:00Z;meta_ai;whatsapp;u2;y\n"
	if r := postQuery(t, srv.URL, "", "text/csv", semi); r.status != 400 || !strings.Contains(string(r.raw), "separated by ','") {
		t.Errorf("detected: %d %s", r.status, r.raw)
	}
	if r := postQuery(t, srv.URL, "delimiter=;", "text/csv", semi); r.status != 200 || r.body.Accepted != 2 {
		t.Errorf("delimiter=;: %d %s", r.status, r.raw)
	}
	tab := "event_id\ttime\tassistant\tchannel\tuser_id\n" + "d-3\t2026-01-15T09:32:00Z\tcopilot\tweb\tu3\n"
	if r := postQuery(t, srv.URL, "delimiter=tab", "text/csv", tab); r.status != 200 || r.body.Accepted != 1 {
		t.Errorf("delimiter=tab: %d %s", r.status, r.raw)
	}
	comma := "event_id,time,assistant,channel,user_id\n" + "d-4,2026-01-15T09:33:00Z,perplexity,ios,u4\n"
	if r := postQuery(t, srv.URL, "delimiter=,", "text/csv", comma); r.status != 200 || r.body.Accepted != 1 {
		t.Errorf("delimiter=,: %d %s", r.status, r.raw)
	}
	// A forced delimiter the file does not use: the header check names
	// what it found.
	if r := postQuery(t, srv.URL, "delimiter=;", "text/csv", comma); r.status != 400 || !strings.Contains(string(r.raw), "found 1 column(s)") {
		t.Errorf("delimiter=; on a comma file: %d %s", r.status, r.raw)
	}
	for _, q := range []string{"delimiter=%7C", "delimiter=", "delimiter=semicolon", "delimiter=%3B%3B"} {
		r := postQuery(t, srv.URL, q, "text/csv", comma)
		if r.status != 400 || !strings.Contains(string(r.raw), "?delimiter=") || !strings.Contains(string(r.raw), "tab") {
			t.Errorf("%s: %d %s", q, r.status, r.raw)
		}
	}
	if r := postQuery(t, srv.URL, "delimiter=;", "application/x-ndjson", line("d-5", nil)+"\n"); r.status != 400 || !strings.Contains(string(r.raw), "CSV bodies") {
		t.Errorf("delimiter on NDJSON: %d %s", r.status, r.raw)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 4 {
		t.Errorf("%d events stored, want 4 (d-1 to d-4)", n)
	}
}

// TestErrorsAll: ?errors=all lists every error of the body, not only the
// first hundred; the counts are the same either way.
func TestErrorsAll(t *testing.T) {
	s := chtest.NewStore(t)
	_, srv := newServer(t, s, ingest.Config{})
	const bad = 150
	var b strings.Builder
	b.WriteString(line("ok-1", nil) + "\n")
	for i := range bad {
		b.WriteString(line(fmt.Sprintf("bad-%d", i), map[string]any{"channel": `"fax"`}) + "\n")
	}
	first := postQuery(t, srv.URL, "", "application/x-ndjson", b.String())
	if first.status != 200 || first.body.Rejected != bad || len(first.body.Errors) != ingest.MaxListedErrors {
		t.Fatalf("default: %d rejected %d, %d errors listed", first.status, first.body.Rejected, len(first.body.Errors))
	}
	all := postQuery(t, srv.URL, "errors=all", "application/x-ndjson", b.String())
	if all.status != 200 || all.body.Rejected != bad || len(all.body.Errors) != bad || all.body.Duplicates != 1 {
		t.Fatalf("errors=all: %d rejected %d duplicates %d, %d errors listed", all.status, all.body.Rejected, all.body.Duplicates, len(all.body.Errors))
	}
	for i, e := range all.body.Errors {
		if e.Line != i+2 || e.Field != "channel" {
			t.Fatalf("error %d: %+v, want line %d, field channel", i, e, i+2)
		}
	}
	if r := postQuery(t, srv.URL, "errors=some", "application/x-ndjson", b.String()); r.status != 400 || !strings.Contains(string(r.raw), "?errors=") {
		t.Errorf("errors=some: %d %s", r.status, r.raw)
	}
}

// TestDecodeSlotsBoundBodies: with every decoding slot held, a body waits
// DecodeWait and is refused with ErrBusy (503 with Retry-After); nothing is
// stored, and the next body goes through once a slot is free.
func TestDecodeSlotsBoundBodies(t *testing.T) {
	s := chtest.NewStore(t)
	p, srv := newServer(t, s, ingest.Config{DecodeWait: 150 * time.Millisecond})
	n := p.DecodeSlots()
	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error, n)
	for range n {
		go func() {
			done <- p.WithDecodeSlot(context.Background(), func() error {
				held <- struct{}{}
				<-release
				return nil
			})
		}()
	}
	for range n {
		<-held
	}
	called := false
	err := p.WithDecodeSlot(context.Background(), func() error { called = true; return nil })
	if !errors.Is(err, ingest.ErrBusy) || called {
		t.Errorf("WithDecodeSlot with every slot held: %v (fn called: %v)", err, called)
	}
	body := []byte(line("slot-1", nil) + "\n")
	if r := post(t, srv.URL, "application/x-ndjson", body, nil); r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("POST with every slot held: %d %s", r.status, r.raw)
	}
	close(release)
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if r := post(t, srv.URL, "application/x-ndjson", bytes.Clone(body), nil); r.status != 200 || r.body.Accepted != 1 {
		t.Errorf("POST with the slots free: %d %s", r.status, r.raw)
	}
	if n := query[uint64](t, s, "SELECT count() FROM events"); n != 1 {
		t.Errorf("%d events stored, want 1", n)
	}
}
