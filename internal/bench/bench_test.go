package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := IngestOptions{Events: 1, Clients: 1, RequestEvents: 1, Days: 1}
	withURL := ok
	withURL.URL = "http://127.0.0.1:1"
	scenarios := []struct {
		name string
		err  error
		want string // "" : valid
	}{
		{"ingest", ok.validate(), ""},
		{"ingest without events", IngestOptions{Clients: 1, RequestEvents: 1, Days: 1}.validate(), "must be positive"},
		{"ingest --url without token", withURL.validate(), "--url needs --token"},
		{"query", QueryOptions{Events: 1, Runs: 1}.validate(), ""},
		{"query without runs", QueryOptions{Events: 1}.validate(), "--events and --runs must be positive"},
		{"export", ExportOptions{Source: SourceMemory, Rows: []int64{1}}.validate(), ""},
		{"export from elsewhere", ExportOptions{Source: "disk", Rows: []int64{1}}.validate(), `--source "disk"`},
	}
	for _, s := range scenarios {
		switch {
		case s.want == "" && s.err != nil:
			t.Errorf("%s: %v, want no error", s.name, s.err)
		case s.want != "" && (s.err == nil || !strings.Contains(s.err.Error(), s.want)):
			t.Errorf("%s: %v, want an error with %q", s.name, s.err, s.want)
		}
	}
}

func TestNDJSONBodies(t *testing.T) {
	inputs, bodies := benchEvents(12, 5, 1, 1)
	if len(inputs) != 12 || len(bodies) != 3 {
		t.Fatalf("%d events in %d bodies, want 12 in 3", len(inputs), len(bodies))
	}
	var ids []string
	for _, b := range bodies {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var ev struct {
				EventID string `json:"event_id"`
				Count   uint32 `json:"count"`
			}
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			ids = append(ids, ev.EventID)
		}
	}
	if len(ids) != 12 || ids[0] != inputs[0].EventID || ids[11] != inputs[11].EventID {
		t.Fatalf("bodies hold %d events %v, want the 12 generated", len(ids), ids)
	}
}

func TestPct(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 20; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if p50, p95 := pct(ds, 50), pct(ds, 95); p50 != 10*time.Millisecond || p95 != 19*time.Millisecond {
		t.Fatalf("p50 %s, p95 %s; want 10ms, 19ms", p50, p95)
	}
}

func TestExportFromMemory(t *testing.T) {
	var out bytes.Buffer
	err := Export(context.Background(), ExportOptions{Rows: []int64{5000, 20000}, Source: SourceMemory, Dir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"source memory", " 5000 ", " 20000 ", "target: at least 500,000 rows/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}
