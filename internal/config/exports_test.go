package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestExportSchedulerSettingsValidated(t *testing.T) {
	parse := func(env map[string]string, args ...string) (Config, error) {
		for k, v := range env {
			t.Setenv(k, v)
		}
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Bind(fs, Data)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := parse(nil)
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.Exports.StaleAfter != time.Minute || c.Exports.RetryBackoff != time.Minute || c.ExportHeartbeat() != 10*time.Second {
		t.Errorf("defaults: stale after %s, retry backoff %s, heartbeat %s; want 1m, 1m, 10s", c.Exports.StaleAfter, c.Exports.RetryBackoff, c.ExportHeartbeat())
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--export-stale-after", "1s", "ADOPTSCOPE_EXPORT_STALE_AFTER"},
		{"--export-stale-after", "2h", "ADOPTSCOPE_EXPORT_STALE_AFTER"},
		{"--export-retry-backoff", "0s", "ADOPTSCOPE_EXPORT_RETRY_BACKOFF"},
		{"--export-retry-backoff", "500ms", "ADOPTSCOPE_EXPORT_RETRY_BACKOFF"},
		{"--export-attempts", "0", "ADOPTSCOPE_EXPORT_ATTEMPTS"},
		{"--export-claim-settle", "-1s", "ADOPTSCOPE_EXPORT_CLAIM_SETTLE"},
		{"--webhook-allow", "10.0.0.0/33", "ADOPTSCOPE_WEBHOOK_ALLOW"},
		{"--webhook-allow", "http://hooks.corp.example", "ADOPTSCOPE_WEBHOOK_ALLOW"},
	} {
		if _, err := parse(nil, tc.flag, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
	c, err = parse(map[string]string{"ADOPTSCOPE_EXPORT_STALE_AFTER": "4s", "ADOPTSCOPE_EXPORT_RETRY_BACKOFF": "1s"})
	if err != nil {
		t.Fatalf("short settings for tests: %v", err)
	}
	if c.Exports.StaleAfter != 4*time.Second || c.Exports.RetryBackoff != time.Second || c.ExportHeartbeat() != time.Second {
		t.Errorf("from the environment: stale after %s, retry backoff %s, heartbeat %s; want 4s, 1s, 1s", c.Exports.StaleAfter, c.Exports.RetryBackoff, c.ExportHeartbeat())
	}
	if c, err := parse(map[string]string{"ADOPTSCOPE_WEBHOOK_ALLOW": "hooks.corp.example, 10.20.0.0/16,127.0.0.1"}); err != nil || c.Exports.WebhookAllow == "" {
		t.Errorf("webhook allow-list from the environment: %q, %v", c.Exports.WebhookAllow, err)
	}
	if _, err := parse(map[string]string{"ADOPTSCOPE_EXPORT_STALE_AFTER": "soon"}); err == nil || !strings.Contains(err.Error(), "ADOPTSCOPE_EXPORT_STALE_AFTER") {
		t.Errorf("unparsable ADOPTSCOPE_EXPORT_STALE_AFTER: %v", err)
	}
}
