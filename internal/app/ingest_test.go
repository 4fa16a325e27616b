package app

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/rollup"
)

func TestIngestSecretAndTokenAreGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	cfg := config.Config{DataDir: dir}
	cfg.Ingest.BatchRows = 1000
	c1, err := IngestConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "user-key-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("user-key-secret mode %v, want 0600", st.Mode().Perm())
	}
	c2, err := IngestConfig(cfg)
	if err != nil || string(c2.Secret) != string(c1.Secret) || len(c1.Secret) < 32 {
		t.Errorf("second start: secret %q, first %q (%v)", c2.Secret, c1.Secret, err)
	}

	toks, shown, err := IngestTokens(cfg)
	if err != nil || len(toks) != 1 || shown != toks[0] {
		t.Fatalf("generated token: %v %q %v", toks, shown, err)
	}
	again, shown2, _ := IngestTokens(cfg)
	if again[0] != toks[0] || shown2 != toks[0] {
		t.Errorf("token changed between starts: %q then %q", toks[0], again[0])
	}

	// Configured tokens (list and file) replace the generated one.
	file := filepath.Join(dir, "tokens")
	os.WriteFile(file, []byte("# feeds\nfile-token-1\n\nfile-token-2\n"), 0o600)
	cfg.IngestTokens = []string{"env-token"}
	cfg.Ingest.TokensFile = file
	got, shown, err := IngestTokens(cfg)
	if err != nil || shown != "" || len(got) != 3 || got[0] != "env-token" || got[1] != "file-token-1" || got[2] != "file-token-2" {
		t.Errorf("configured tokens: %v %q %v", got, shown, err)
	}

	// A configured secret wins over the file.
	cfg.Ingest.UserKeySecret = "configured-secret-0123456789"
	c3, err := IngestConfig(cfg)
	if err != nil || string(c3.Secret) != "configured-secret-0123456789" {
		t.Errorf("configured secret: %q %v", c3.Secret, err)
	}
}

// TestIngestMountedAndFlushedOnStop guards the wiring: POST /v1/events and
// GET /metrics on the process's echo, the generated token printed, Stop
// flushing what was accepted, and the rollup builder, stopped after ingest,
// building what the flush stored.
func TestIngestMountedAndFlushedOnStop(t *testing.T) {
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 10 * time.Second}
	cfg.Ingest.BatchRows = 1000
	cfg.Ingest.FlushInterval = time.Minute // only Stop flushes
	var out bytes.Buffer
	// An interval of an hour: only the final build on Stop builds.
	builder := rollup.New(s, rollup.Config{Interval: time.Hour}, log)
	d := &App{Cfg: cfg, Log: log, Backend: &Backend{Store: s, Rollups: builder}, Server: httpserver.New(log), Stdout: &out}
	if err := d.startRollups(context.Background(), Mode{Name: "ingest", Ingest: true}); err != nil || len(d.parts) != 1 {
		t.Fatalf("startRollups: %v %v", d.parts, err)
	}
	rp := d.parts[0]
	if err := d.startIngest(context.Background(), Mode{Name: "ingest", Ingest: true}); err != nil || len(d.parts) != 2 {
		t.Fatalf("startIngest: %v %v", d.parts, err)
	}
	p := d.parts[1]
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, "ingest-token"))
	if err != nil || !strings.Contains(out.String(), strings.TrimSpace(string(tok))) {
		t.Fatalf("generated token not printed: %q (%v)", out.String(), err)
	}
	if d.Ingest == nil {
		t.Fatal("the pipeline is not kept for the dashboard")
	}
	srv := httptest.NewServer(d.Server.Echo)
	defer srv.Close()

	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/events", strings.NewReader(`{"event_id":"w1","time":"2026-01-15T00:00:00Z","assistant":"chatgpt","channel":"ios","user_id":"u"}`))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	// The request waits for its commit; Stop flushes it.
	for d.Ingest.Snapshot().BufferRows != 1 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("in-flight request answered %d, want 200", code)
	}
	var n uint64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM events").Scan(&n); err != nil || n != 1 {
		t.Errorf("events: %d (%v), want 1", n, err)
	}
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM rollup_person_day").Scan(&n); err != nil || n != 0 {
		t.Errorf("rollup_person_day: %d rows (%v) before the builder stopped, want 0 (its interval is an hour)", n, err)
	}
	if err := rp.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn.QueryRow(ctx, "SELECT sum(events) FROM rollup_person_day").Scan(&n); err != nil || n != 1 {
		t.Errorf("rollup_person_day: %d events (%v) after the builder stopped, want 1", n, err)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`adoptscope_ingest_events_total{result="accepted"} 1`, `adoptscope_ingest_http_requests_total{code="200"} 1`, "adoptscope_ingest_writes_in_flight 0", "adoptscope_rollup_rows_built_total 1", "go_goroutines"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
