package config

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, env map[string]string, args ...string) (Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Bind(fs, HTTP|Data|ClickHouse|Tokens|Demo|Logging)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if err := CheckEnv(fs); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestDefaults(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./data" || c.ClickHouse.Addr != "" ||
		c.ClickHouse.Database != "adoptscope" || c.Demo != "auto" || c.ShutdownTimeout != 30*time.Second {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

func TestEnvAndFlags(t *testing.T) {
	scenarios := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(Config) bool
	}{
		{"env sets address", map[string]string{"ADOPTSCOPE_ADDR": "0.0.0.0:9999"}, nil,
			func(c Config) bool { return c.Addr == "0.0.0.0:9999" }},
		{"flag beats env", map[string]string{"ADOPTSCOPE_ADDR": "0.0.0.0:9999"}, []string{"--addr", "127.0.0.1:1"},
			func(c Config) bool { return c.Addr == "127.0.0.1:1" }},
		{"token lists split and trimmed", map[string]string{"ADOPTSCOPE_INGEST_TOKENS": " a, b ,,c"}, nil,
			func(c Config) bool { return strings.Join(c.IngestTokens, "|") == "a|b|c" }},
		{"tls from env", map[string]string{"ADOPTSCOPE_CLICKHOUSE_TLS": "true"}, nil,
			func(c Config) bool { return c.ClickHouse.TLS }},
		{"compression defaults to auto", nil, nil,
			func(c Config) bool { return c.ClickHouse.Compression == "auto" }},
		{"compression from env", map[string]string{"ADOPTSCOPE_CLICKHOUSE_COMPRESSION": "lz4"}, nil,
			func(c Config) bool { return c.ClickHouse.Compression == "lz4" }},
		{"bad bool env overridden by flag", map[string]string{"ADOPTSCOPE_CLICKHOUSE_TLS": "maybe"}, []string{"--clickhouse-tls=false"},
			func(c Config) bool { return !c.ClickHouse.TLS }},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			c, err := parse(t, s.env, s.args...)
			if err != nil {
				t.Fatal(err)
			}
			if !s.check(c) {
				t.Fatalf("config not as expected: %+v", c)
			}
		})
	}
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	scenarios := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"ADOPTSCOPE_DEMO": "sometimes"}, "ADOPTSCOPE_DEMO"},
		{map[string]string{"ADOPTSCOPE_ADDR": "8080"}, "ADOPTSCOPE_ADDR"},
		{map[string]string{"ADOPTSCOPE_CLICKHOUSE_ADDR": "nohost"}, "ADOPTSCOPE_CLICKHOUSE_ADDR"},
		{map[string]string{"ADOPTSCOPE_CLICKHOUSE_DATABASE": "x;DROP"}, "ADOPTSCOPE_CLICKHOUSE_DATABASE"},
		{map[string]string{"ADOPTSCOPE_CLICKHOUSE_TLS": "maybe"}, "ADOPTSCOPE_CLICKHOUSE_TLS"},
		{map[string]string{"ADOPTSCOPE_CLICKHOUSE_MAX_CONNS": "ten"}, "ADOPTSCOPE_CLICKHOUSE_MAX_CONNS"},
		{map[string]string{"ADOPTSCOPE_SHUTDOWN_TIMEOUT": "30"}, "ADOPTSCOPE_SHUTDOWN_TIMEOUT"},
		{map[string]string{"ADOPTSCOPE_LOG_FORMAT": "xml"}, "ADOPTSCOPE_LOG_FORMAT"},
		{map[string]string{"ADOPTSCOPE_CLICKHOUSE_COMPRESSION": "gzip"}, "ADOPTSCOPE_CLICKHOUSE_COMPRESSION"},
		{map[string]string{"ADOPTSCOPE_TIMEZONE": "Mars/Olympus"}, "ADOPTSCOPE_TIMEZONE"},
	}
	for _, s := range scenarios {
		t.Run(s.want, func(t *testing.T) {
			_, err := parse(t, s.env)
			if err == nil || !strings.Contains(err.Error(), s.want) {
				t.Fatalf("error = %v, want one naming %s", err, s.want)
			}
		})
	}
}
