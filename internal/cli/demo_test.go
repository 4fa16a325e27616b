package cli

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/demo"
)

func TestDemoFlags(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	for _, tc := range []struct {
		name             string
		people, days     int
		from, to, pplx   string
		wantFrom, wantTo string
		wantErr          string
	}{
		{name: "range", people: 10, from: "2025-01-01", to: "2025-03-31", wantFrom: "2025-01-01", wantTo: "2025-03-31"},
		{name: "days ending to", people: 10, days: 30, from: "2024-06-01", to: "2026-01-31", wantFrom: "2026-01-02", wantTo: "2026-01-31"},
		{name: "bad from", people: 10, from: "01/02/2025", wantErr: "--from"},
		{name: "bad what-if", people: 10, from: "2025-01-01", pplx: "soon", wantErr: "--perplexity-whatsapp-end"},
		{name: "no people", people: 0, from: "2025-01-01", wantErr: "--people"},
		{name: "to before from", people: 10, from: "2025-02-01", to: "2025-01-01", wantErr: "before from"},
		{name: "negative days", people: 10, days: -3, from: "2025-01-01", wantErr: "--days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := demoConfig(tc.people, tc.days, tc.from, tc.to, 1, tc.pplx)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !cfg.From.Equal(day(tc.wantFrom)) || !cfg.To.Equal(day(tc.wantTo)) {
				t.Errorf("range %s..%s, want %s..%s", cfg.From, cfg.To, tc.wantFrom, tc.wantTo)
			}
		})
	}
}

func TestDemoChecksumCommand(t *testing.T) {
	var out, errb bytes.Buffer
	args := []string{"demo", "--checksum", "--people", "50", "--from", "2026-01-01", "--to", "2026-01-20", "--seed", "3"}
	if err := Run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v: %s", err, errb.String())
	}
	sum, n, err := demo.Checksum(demo.Config{People: 50, Seed: 3, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if want := sum + " " + itoa(n) + " events\n"; out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
