package ingest_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func TestMain(m *testing.M) {
	os.Exit(chtest.Main(m, chtest.Schema{Migrate: schema.Migrate, BuildRollups: rollup.BuildAll}))
}

var testSecret = []byte("test-secret-0123456789abcdef")

func quiet() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
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
