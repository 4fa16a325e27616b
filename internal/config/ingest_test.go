package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestIngestEnvironmentAndFlags(t *testing.T) {
	t.Setenv("ADOPTSCOPE_USER_KEY_SECRET", "0123456789abcdef0123")
	t.Setenv("ADOPTSCOPE_INGEST_BATCH_ROWS", "5000")
	t.Setenv("ADOPTSCOPE_INGEST_FLUSH_INTERVAL", "50ms")
	t.Setenv("ADOPTSCOPE_INGEST_MAX_BODY", "1048576")
	t.Setenv("ADOPTSCOPE_INGEST_MAX_LINE", "4096")
	t.Setenv("ADOPTSCOPE_INGEST_DEDUP_WINDOW", "48h")
	t.Setenv("ADOPTSCOPE_INGEST_CONCURRENT_WRITES", "3")
	t.Setenv("ADOPTSCOPE_ROLLUP_INTERVAL", "1500ms")
	t.Setenv("ADOPTSCOPE_ROLLUP_MAX_LAG", "30s")
	t.Setenv("ADOPTSCOPE_ASSISTANTS", "chatgpt, grok")
	t.Setenv("ADOPTSCOPE_CHANNELS", "web")
	t.Setenv("ADOPTSCOPE_EVENT_TYPES", "message,share")
	t.Setenv("ADOPTSCOPE_INGEST_TOKENS_FILE", "/etc/tokens")
	var c Config
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs, Ingest)
	if err := fs.Parse([]string{"--ingest-batch-rows", "7000"}); err != nil {
		t.Fatal(err)
	}
	want := IngestConfig{
		UserKeySecret: "0123456789abcdef0123", TokensFile: "/etc/tokens", BatchRows: 7000, FlushInterval: 50 * time.Millisecond,
		MaxBody: 1 << 20, MaxLine: 4096, DedupWindow: 48 * time.Hour, Writes: 3, RollupInterval: 1500 * time.Millisecond, RollupMaxLag: 30 * time.Second,
		Assistants: []string{"chatgpt", "grok"}, Channels: []string{"web"}, EventTypes: []string{"message", "share"},
	}
	got := c.Ingest
	if got.UserKeySecret != want.UserKeySecret || got.TokensFile != want.TokensFile || got.BatchRows != want.BatchRows ||
		got.FlushInterval != want.FlushInterval || got.MaxBody != want.MaxBody || got.MaxLine != want.MaxLine || got.DedupWindow != want.DedupWindow || got.Writes != want.Writes || got.RollupInterval != want.RollupInterval || got.RollupMaxLag != want.RollupMaxLag ||
		strings.Join(got.Assistants, ",") != "chatgpt,grok" || strings.Join(got.Channels, ",") != "web" || strings.Join(got.EventTypes, ",") != "message,share" {
		t.Errorf("ingest config %+v, want %+v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("validate: %v", err)
	}
}

func TestIngestValidationNamesTheSetting(t *testing.T) {
	cases := []struct {
		env, value, want string
	}{
		{"ADOPTSCOPE_USER_KEY_SECRET", "short", "ADOPTSCOPE_USER_KEY_SECRET: at least 16 bytes"},
		{"ADOPTSCOPE_INGEST_BATCH_ROWS", "0", "ADOPTSCOPE_INGEST_BATCH_ROWS 0"},
		{"ADOPTSCOPE_INGEST_FLUSH_INTERVAL", "2m", "ADOPTSCOPE_INGEST_FLUSH_INTERVAL 2m0s"},
		{"ADOPTSCOPE_INGEST_MAX_LINE", "100", "ADOPTSCOPE_INGEST_MAX_LINE 100"},
		{"ADOPTSCOPE_INGEST_DEDUP_WINDOW", "10s", "ADOPTSCOPE_INGEST_DEDUP_WINDOW 10s"},
		{"ADOPTSCOPE_INGEST_CONCURRENT_WRITES", "0", "ADOPTSCOPE_INGEST_CONCURRENT_WRITES 0: want 1-8"},
		{"ADOPTSCOPE_INGEST_CONCURRENT_WRITES", "9", "ADOPTSCOPE_INGEST_CONCURRENT_WRITES 9: want 1-8"},
		{"ADOPTSCOPE_ROLLUP_INTERVAL", "50ms", "ADOPTSCOPE_ROLLUP_INTERVAL 50ms: want 100ms-10m"},
		{"ADOPTSCOPE_ROLLUP_MAX_LAG", "48h", "ADOPTSCOPE_ROLLUP_MAX_LAG 48h0m0s: want 100ms-24h"},
		{"ADOPTSCOPE_TIME_ZONES", "UTC,Mars/Olympus", `ADOPTSCOPE_TIME_ZONES "Mars/Olympus"`},
	}
	for _, c := range cases {
		t.Run(c.env, func(t *testing.T) {
			t.Setenv(c.env, c.value)
			var cfg Config
			fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
			cfg.Bind(fs, Ingest)
			if err := fs.Parse(nil); err != nil {
				t.Fatal(err)
			}
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("validate: %v, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestZones: ADOPTSCOPE_TIME_ZONES lists the zones with rollups besides
// UTC; empty, the dashboard's zone; neither bound, nil (leave them be).
func TestZones(t *testing.T) {
	for _, c := range []struct {
		list, dashboard string
		want            []string
	}{
		{"UTC,Europe/Paris, Asia/Kolkata,Europe/Paris", "Asia/Riyadh", []string{"Europe/Paris", "Asia/Kolkata"}},
		{"UTC", "Asia/Riyadh", []string{}},
		{"", "Asia/Riyadh", []string{"Asia/Riyadh"}},
		{"", "UTC", []string{}},
		{"", "", nil},
	} {
		cfg := Config{Timezone: c.dashboard}
		cfg.Ingest.TimeZones = c.list
		got := cfg.Zones()
		if (got == nil) != (c.want == nil) || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("%q with %q: %#v, want %#v", c.list, c.dashboard, got, c.want)
		}
	}
}
