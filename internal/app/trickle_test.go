package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// TestTrickledIngestBodyAnswered408 drives the real ingest endpoints (the
// pipeline on a real ClickHouse, behind the server's body deadline): a
// body that arrives a byte at a time is answered 408 with the advice
// naming ADOPTSCOPE_INGEST_BODY_TIMEOUT, not 400, whatever the format; and
// nothing of it is stored.
func TestTrickledIngestBodyAnswered408(t *testing.T) {
	s := chtest.NewStore(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	const token = "trickle-ingest-token-0123456789"
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 5 * time.Second,
		IngestTokens: []string{token}}
	cfg.Ingest.BatchRows = 1000
	cfg.Ingest.FlushInterval = 10 * time.Millisecond
	cfg.Ingest.Writes = 1
	cfg.Ingest.MaxBody = 1 << 20
	cfg.Ingest.MaxLine = 1 << 16
	cfg.Ingest.DedupWindow = time.Hour
	const deadline = 600 * time.Millisecond
	cfg.HTTP.IngestBodyTimeout = deadline
	a, err := New(context.Background(), cfg, Mode{Name: "ingest", Ingest: true}, &Backend{Store: s}, log, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.stop)
	srv := httptest.NewServer(a.Server.Handler())
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	event := `{"event_id":"trickle-%d","time":"2026-01-15T10:00:00Z","assistant":"chatgpt","channel":"ios","user_id":"u1"}`
	for i, tc := range []struct{ path, contentType, body string }{
		{"/v1/events", "application/x-ndjson", fmt.Sprintf(event, 1) + "\n" + fmt.Sprintf(event, 2) + "\n"},
		{"/v1/events", "application/json", "[" + fmt.Sprintf(event, 3) + "," + fmt.Sprintf(event, 4) + "]"},
		{"/capture", "application/json", `{"api_key":"` + token + `","event":"x","distinct_id":"u1"}`},
	} {
		status, body, after := trickleRequest(t, addr, tc.path, tc.contentType, "Bearer "+token, tc.body, 40*time.Millisecond)
		if !strings.HasPrefix(status, "HTTP/1.1 408") {
			t.Errorf("case %d %s (%s): answer %q %s after %s, want 408", i, tc.path, tc.contentType, status, body, after)
			continue
		}
		if !strings.Contains(body, "ADOPTSCOPE_INGEST_BODY_TIMEOUT") {
			t.Errorf("case %d %s: 408 body %q does not name ADOPTSCOPE_INGEST_BODY_TIMEOUT", i, tc.path, body)
		}
		if after < deadline || after > deadline+2*time.Second {
			t.Errorf("case %d %s: cut off after %s, want at its %s deadline", i, tc.path, after, deadline)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM events WHERE event_id LIKE 'trickle-%'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d events of cut-off bodies stored, want 0", n)
	}
}

// trickleRequest sends body one byte per every and returns the status
// line, the answer's body and how long the answer took.
func trickleRequest(t *testing.T, addr, path, contentType, authorization, body string, every time.Duration) (status, answer string, after time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nAuthorization: %s\r\nContent-Length: %d\r\n\r\n",
		path, contentType, authorization, len(body))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < len(body); i++ {
			select {
			case <-stop:
				return
			case <-time.After(every):
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadString('\n')
	after = time.Since(start)
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", path, err)
	}
	rest, _ := io.ReadAll(io.LimitReader(br, 4096))
	return strings.TrimSpace(line), string(rest), after
}
