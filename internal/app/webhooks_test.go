package app

import (
	"context"
	"testing"

	"github.com/adoptscope/adoptscope/internal/config"
)

// TestWebhookDestinationsRefuseOwnPorts: an allow-list that admits
// loopback receivers still refuses this instance's HTTP port and
// ClickHouse's native and HTTP ports.
func TestWebhookDestinationsRefuseOwnPorts(t *testing.T) {
	cfg := &config.Config{Addr: "127.0.0.1:18080"}
	cfg.ClickHouse.Addr = "127.0.0.1:19000"
	cfg.Exports.WebhookAllow = "127.0.0.0/8"
	d := WebhookDestinations(context.Background(), cfg)
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9999/hook", true},
		{"http://127.0.0.1:18080/api/v1/annotations", false},
		{"http://127.0.0.1:19000/", false},
		{"http://127.0.0.1:8123/?query=SELECT+1", false},
		{"http://localhost:8123/?query=SELECT+1", false},
		{"http://10.0.0.1/hook", false},
	} {
		if err := d.CheckURL(context.Background(), c.url); (err == nil) != c.ok {
			t.Errorf("%s: %v, want accepted %v", c.url, err, c.ok)
		}
	}
}
