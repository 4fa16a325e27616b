package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// The HTTP protocol against 18.16 fails at once and says why, in the
// product's words: the server is too old, use native. (The HTTP transport
// itself, with TLS and through a proxy, is tested on 26.9 by the compat
// suite: make test-compat.)
func TestHTTPProtocolOn1816SaysItNeedsANewerServer(t *testing.T) {
	srv := chtest.Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Config{Addr: srv.HTTPAddr, Database: chtest.DatabaseName(), User: "default", Protocol: store.ProtocolHTTP}, chtest.Logger())
	if err == nil {
		t.Fatal("Open over HTTP succeeded on 18.16; docs/clickhouse.md says it does not")
	}
	for _, want := range []string{srv.HTTPAddr, "client_protocol_version", "ADOPTSCOPE_CLICKHOUSE_PROTOCOL=native"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
}

func TestProtocolSettingsAreChecked(t *testing.T) {
	for _, c := range []struct {
		cfg  store.Config
		want string
	}{
		{store.Config{Addr: "127.0.0.1:1", Protocol: "grpc"}, "want native or http (ADOPTSCOPE_CLICKHOUSE_PROTOCOL)"},
		{store.Config{Addr: "127.0.0.1:1", Protocol: "http", HTTPProxy: "proxy:3128"}, "ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY"},
		{store.Config{Addr: "127.0.0.1:1", HTTPProxy: "http://proxy:3128"}, "needs ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http"},
	} {
		_, err := store.Open(context.Background(), c.cfg, chtest.Logger())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%+v) = %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

// Against a port where nothing speaks HTTP the error names the address and
// the HTTP ports.
func TestHTTPProtocolUnreachableNamesThePorts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := store.Open(ctx, store.Config{Addr: "127.0.0.1:1", Protocol: store.ProtocolHTTP, DialTimeout: time.Second}, chtest.Logger())
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || !strings.Contains(err.Error(), "8123, 8443 with TLS") {
		t.Fatalf("err = %v", err)
	}
}
