package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// sdkNodeDir holds package.json and package-lock.json pinning the SDKs.
const sdkNodeDir = "testdata/sdk-node"

// nodeSDKs makes the pinned SDKs available (npm ci when node_modules is
// missing) or skips; with CI set, a missing node or npm fails.
func nodeSDKs(t *testing.T) {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") != "" {
		fail = t.Fatalf
	}
	if _, err := exec.LookPath("node"); err != nil {
		fail("node is not installed (the PostHog / Segment SDK test runs the real Node SDKs): %v", err)
		return
	}
	if _, err := os.Stat(filepath.Join(sdkNodeDir, "node_modules", "posthog-node")); err == nil {
		if _, err := os.Stat(filepath.Join(sdkNodeDir, "node_modules", "@segment", "analytics-node")); err == nil {
			return
		}
	}
	cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = sdkNodeDir
	if out, err := cmd.CombinedOutput(); err != nil {
		fail("npm ci in %s: %v\n%s", sdkNodeDir, err, out)
	}
}

// sdkInstance is a running ingest process (the app's own wiring: echo,
// middleware, routes) on a fresh store.
func sdkInstance(t *testing.T, s *store.Store, key string) (*App, *httptest.Server) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ShutdownTimeout: 10 * time.Second, IngestTokens: []string{key}}
	cfg.Ingest.BatchRows = 1000
	cfg.Ingest.FlushInterval = 20 * time.Millisecond
	cfg.SDK.Properties.Assistant = "ai_product"
	cfg.SDK.EventTypes = "Message Sent=message"
	d := &App{Cfg: cfg, Log: log, Backend: &Backend{Store: s}, Server: httpserver.New(log), Stdout: io.Discard}
	if err := d.startIngest(context.Background(), Mode{Name: "ingest", Ingest: true}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Server.Echo)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Ingest.Close(ctx)
	})
	return d, srv
}

// runSDK runs send.mjs with one SDK against url and returns the errors the
// SDK reported.
func runSDK(t *testing.T, sdk, url, key, run string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "send.mjs", sdk)
	cmd.Dir = sdkNodeDir
	cmd.Env = append(os.Environ(), "ADOPTSCOPE_URL="+url, "ADOPTSCOPE_KEY="+key, "ADOPTSCOPE_RUN="+run)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node send.mjs %s: %v\n%s\n%s", sdk, err, out, stderr.String())
	}
	var res struct {
		Errors []string `json:"errors"`
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("node send.mjs %s: %q: %v", sdk, out, err)
	}
	return res.Errors
}

type sdkRow struct {
	assistant, channel, eventType, modality, country, source string
	userKey                                                  uint64
	count                                                    uint32
	linked                                                   uint8
}

// sdkRows reads the stored events of one run (by source), failing on an
// event id stored twice.
func sdkRows(t *testing.T, s *store.Store) []sdkRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rs, err := s.Conn.Query(ctx, "SELECT event_id, assistant, channel, event_type, modality, country, source, user_key, count, linked FROM events ORDER BY assistant")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	seen := map[string]bool{}
	var out []sdkRow
	for rs.Next() {
		var id string
		var r sdkRow
		if err := rs.Scan(&id, &r.assistant, &r.channel, &r.eventType, &r.modality, &r.country, &r.source, &r.userKey, &r.count, &r.linked); err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Errorf("event %s stored twice", id)
		}
		seen[id] = true
		out = append(out, r)
	}
	return out
}

func metricsText(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestNodeSDKs runs posthog-node and @segment/analytics-node, pinned in
// testdata/sdk-node, against a running instance: their events land in
// events with the mapped fields, skipped calls and rejected events show in
// /metrics by endpoint and reason, and each SDK's retry after a 503 (the
// answer to a committed request lost on the way back) stores nothing twice.
func TestNodeSDKs(t *testing.T) {
	nodeSDKs(t)
	const key = "sdk-node-key-0123456789"
	for _, c := range []struct {
		sdk, endpoint string
		want          func(d *App, run string) []sdkRow
		skipped       map[string]int
		rejected      string
	}{
		{"posthog", "/batch", func(d *App, run string) []sdkRow {
			return []sdkRow{
				{assistant: "chatgpt", channel: "whatsapp", eventType: "message", modality: "voice", country: "FR", source: "posthog-node", userKey: d.Ingest.UserKey("ph-user-1-" + run), count: 3},
				{assistant: "meta_ai", channel: "web", eventType: "message", modality: "text", source: "posthog-node", userKey: d.Ingest.UserKey("ph-user-2-" + run), count: 1, linked: 1},
			}
		}, map[string]int{"page": 1, "identify": 1, "unmapped_event": 1}, "assistant"},
		{"segment", "/v1/batch", func(d *App, run string) []sdkRow {
			return []sdkRow{
				{assistant: "copilot", channel: "android", eventType: "message", modality: "text", country: "DE", source: "@segment/analytics-node", userKey: d.Ingest.UserKey("sg-user-1-" + run), count: 2},
				{assistant: "perplexity", channel: "desktop", eventType: "message", modality: "image", source: "@segment/analytics-node", userKey: d.Ingest.UserKey("sg-anon-2-" + run), count: 1},
			}
		}, map[string]int{"page": 1, "identify": 1}, "channel"},
	} {
		t.Run(c.sdk, func(t *testing.T) {
			s := chtest.NewStore(t)
			d, srv := sdkInstance(t, s, key)
			if errs := runSDK(t, c.sdk, srv.URL, key, "direct"); len(errs) != 0 {
				t.Errorf("the SDK reported errors: %v", errs)
			}
			got := sdkRows(t, s)
			want := c.want(d, "direct")
			if len(got) != len(want) {
				t.Fatalf("stored %+v, want %+v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			m := metricsText(t, srv.URL)
			for reason, n := range c.skipped {
				line := `adoptscope_sdk_skipped_total{endpoint="` + c.endpoint + `",reason="` + reason + `"} ` + itoa(n)
				if !strings.Contains(m, line) {
					t.Errorf("/metrics lacks %s", line)
				}
			}
			line := `adoptscope_sdk_rejected_total{endpoint="` + c.endpoint + `",reason="` + c.rejected + `"} 1`
			if !strings.Contains(m, line) {
				t.Errorf("/metrics lacks %s", line)
			}
			if snap := d.SDK.Snapshot(); len(snap) != 1 || snap[0].Rejected != 1 || snap[0].Accepted != 2 {
				t.Errorf("Ingest page counts: %+v", snap)
			}

			// The retry: a proxy forwards the first request, which is
			// committed, and answers the SDK 503 with Retry-After as if
			// the answer had been lost; the SDK sends the batch again.
			var posts atomic.Int32
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				req, _ := http.NewRequestWithContext(r.Context(), r.Method, srv.URL+r.URL.RequestURI(), bytes.NewReader(body))
				req.Header = r.Header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				defer resp.Body.Close()
				answer, _ := io.ReadAll(resp.Body)
				if r.Method == http.MethodPost && posts.Add(1) == 1 {
					w.Header().Set("Retry-After", "1")
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusServiceUnavailable)
					_, _ = w.Write([]byte(`{"error":"test: the answer was lost"}` + "\n"))
					return
				}
				w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
				w.WriteHeader(resp.StatusCode)
				_, _ = w.Write(answer)
			}))
			defer proxy.Close()
			errs := runSDK(t, c.sdk, proxy.URL, key, "retry")
			if posts.Load() < 2 {
				t.Fatalf("the SDK sent %d requests after a 503 (errors %v): want a retry", posts.Load(), errs)
			}
			got = sdkRows(t, s)
			if len(got) != 2*len(want) {
				t.Fatalf("after the retry %d rows, want %d: %+v", len(got), 2*len(want), got)
			}
			dup := `adoptscope_sdk_messages_total{endpoint="` + c.endpoint + `",result="duplicate"} 2`
			if m := metricsText(t, srv.URL); !strings.Contains(m, dup) {
				t.Errorf("/metrics lacks %s (the retried events counted as duplicates)", dup)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
