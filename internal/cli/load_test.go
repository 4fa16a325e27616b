package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

func TestLoadFilesTwiceStoresOnce(t *testing.T) {
	s := chtest.NewStore(t)
	srv := chtest.Server(t)
	dir := t.TempDir()
	nd := filepath.Join(dir, "events.ndjson")
	os.WriteFile(nd, []byte(`{"event_id":"n1","time":"2026-01-10T09:30:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"a"}
{"event_id":"n2","time":1768469400000,"assistant":"meta_ai","channel":"whatsapp","user_id":"b","count":4}

{"event_id":"n3","time":"2026-01-10T09:30:00Z","assistant":"chatgpt","channel":"fax","user_id":"c"}
not json
`), 0o644)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte("event_id,time,assistant,channel,user_id\nc1,2026-01-11T00:00:00Z,copilot,web,a\nc2,2026-01-11T00:00:00Z,perplexity,ios,b\n"))
	w.Close()
	csv := filepath.Join(dir, "more.csv.gz")
	os.WriteFile(csv, gz.Bytes(), 0o644)

	load := func() string {
		var out, errOut bytes.Buffer
		args := []string{"load", "--data-dir", filepath.Join(dir, "data"), "--clickhouse-addr", srv.TCPAddr,
			"--clickhouse-database", s.Database, "--progress", "off", "--log-level", "warn", nd, csv}
		if err := Run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("load: %v\n%s", err, errOut.String())
		}
		return out.String()
	}
	out := load()
	for _, want := range []string{
		nd + ": 4 rows: 2 accepted, 0 duplicates, 2 rejected",
		csv + ": 2 rows: 2 accepted, 0 duplicates, 0 rejected",
		"total: 4 accepted, 0 duplicates, 2 rejected in 2 files",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("first load output lacks %q:\n%s", want, out)
		}
	}
	rej, err := os.ReadFile(nd + ".rejects.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	type rejectLine struct {
		Line   int
		Errors []struct{ Field, Error string }
		Raw    json.RawMessage
		Text   string
	}
	var got []rejectLine
	for _, l := range strings.Split(strings.TrimSpace(string(rej)), "\n") {
		var r rejectLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("rejects line %q: %v", l, err)
		}
		got = append(got, r)
	}
	if len(got) != 2 || got[0].Line != 4 || got[0].Errors[0].Field != "channel" || !strings.Contains(string(got[0].Raw), `"n3"`) ||
		got[1].Line != 5 || got[1].Errors[0].Field != "" || got[1].Text != "not json" {
		t.Errorf("rejects file:\n%s", rej)
	}

	out = load()
	if !strings.Contains(out, "total: 0 accepted, 4 duplicates, 2 rejected in 2 files") {
		t.Errorf("second load output:\n%s", out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n, sum uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count(), sum(count) FROM events").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 4 || sum != 7 {
		t.Errorf("events: %d rows, sum(count) %d; want 4 and 7", n, sum)
	}
}
