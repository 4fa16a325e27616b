package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestHTTPLimitsValidated(t *testing.T) {
	parse := func(args ...string) (Config, error) {
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.Bind(fs, HTTP|Ingest)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := parse()
	if err != nil {
		t.Fatalf("defaults: %v", err)
	}
	if c.IngestBodyDeadline() != 94*time.Second || c.HTTP.BodyTimeout != 30*time.Second || c.HTTP.MaxConcurrent != 32 {
		t.Errorf("defaults: ingest body %s, body %s, cap %d", c.IngestBodyDeadline(), c.HTTP.BodyTimeout, c.HTTP.MaxConcurrent)
	}
	if c, _ := parse("--ingest-max-body", "67108864"); c.IngestBodyDeadline() != (30+256)*time.Second {
		t.Errorf("64 MiB body: ingest body deadline %s, want 286s", c.IngestBodyDeadline())
	}
	if _, err := parse("--allowed-hosts", "dash.example.com,*.corp.example,*", "--trusted-proxies", "10.0.0.0/8,192.0.2.1,::1"); err != nil {
		t.Errorf("valid lists: %v", err)
	}
	for _, tc := range []struct{ flag, value, want string }{
		{"--allowed-hosts", "dash.example.com:8080", "ADOPTSCOPE_ALLOWED_HOSTS"},
		{"--allowed-hosts", "http://dash", "ADOPTSCOPE_ALLOWED_HOSTS"},
		{"--trusted-proxies", "proxy.internal", "ADOPTSCOPE_TRUSTED_PROXIES"},
		{"--body-timeout", "0s", "ADOPTSCOPE_BODY_TIMEOUT"},
		{"--max-header-bytes", "10", "ADOPTSCOPE_MAX_HEADER_BYTES"},
		{"--max-concurrent-requests", "0", "ADOPTSCOPE_MAX_CONCURRENT_REQUESTS"},
	} {
		if _, err := parse(tc.flag, tc.value); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, want an error naming %s", tc.flag, tc.value, err, tc.want)
		}
	}
}
