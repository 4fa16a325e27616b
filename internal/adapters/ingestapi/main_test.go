package ingestapi_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/adapters/ingestapi"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

const token = "test-token-0123456789"

var testSecret = []byte("test-secret-0123456789abcdef")

func quiet() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newServer runs a pipeline and the POST /v1/events handler on s.
func newServer(t *testing.T, s *store.Store, cfg ingest.Config) (*ingest.Pipeline, *httptest.Server) {
	t.Helper()
	if cfg.Secret == nil {
		cfg.Secret = testSecret
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 20 * time.Millisecond
	}
	p, err := ingest.NewPipeline(s, cfg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	h, err := ingestapi.New(ingestapi.Deps{Pipeline: p, Tokens: auth.NewTokens([]string{token}), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return p, srv
}

type response struct {
	status int
	header http.Header
	raw    []byte
	body   ingest.Result
}

func post(t *testing.T, url, contentType string, body []byte, hdr map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
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

func query[T any](t *testing.T, s *store.Store, q string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var v T
	if err := s.Conn.QueryRow(ctx, q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// line is one valid NDJSON event, with overrides: a value of nil drops the
// field, a string value is raw JSON.
func line(id string, over map[string]any) string {
	fields := []struct {
		k string
		v any
	}{
		{"event_id", `"` + id + `"`}, {"time", `"2026-01-10T09:30:00+01:00"`}, {"assistant", `"chatgpt"`},
		{"channel", `"whatsapp"`}, {"user_id", `"+33600000001"`},
	}
	var parts []string
	done := map[string]bool{}
	for _, f := range fields {
		v := f.v
		if o, ok := over[f.k]; ok {
			v = o
			done[f.k] = true
		}
		if v == nil {
			continue
		}
		parts = append(parts, fmt.Sprintf("%q:%s", f.k, v))
	}
	for k, v := range over {
		if !done[k] && v != nil {
			parts = append(parts, fmt.Sprintf("%q:%s", k, v))
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// TestNewNamesAMissingDependency: the endpoint refuses to start without a
// pipeline or without a token, and says which.
func TestNewNamesAMissingDependency(t *testing.T) {
	s := chtest.NewStore(t)
	p, err := ingest.NewPipeline(s, ingest.Config{Secret: testSecret}, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	for _, tc := range []struct {
		deps ingestapi.Deps
		want string
	}{
		{ingestapi.Deps{Tokens: auth.NewTokens([]string{token})}, "Deps.Pipeline"},
		{ingestapi.Deps{Pipeline: p}, "Deps.Tokens"},
	} {
		if _, err := ingestapi.New(tc.deps); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v): %v, want an error naming %s", tc.deps, err, tc.want)
		}
	}
}
