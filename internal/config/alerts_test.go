package config

import (
	"flag"
	"strings"
	"testing"
)

// TestAlertSettings: the defaults, the public URL's fallback, and each
// refused value named with its flag and variable.
func TestAlertSettings(t *testing.T) {
	var c Config
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Bind(fs, HTTP|Data)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if c.Alerts.MaxPerDay != 2 || c.Alerts.SMTPPort != 587 || c.AlertPublicURL() != "http://127.0.0.1:8080" {
		t.Fatalf("defaults: %+v, public URL %s", c.Alerts, c.AlertPublicURL())
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--alert-max-per-day", "0"}, "ADOPTSCOPE_ALERT_MAX_PER_DAY"},
		{[]string{"--public-url", "adoptscope.example.com"}, "ADOPTSCOPE_PUBLIC_URL"},
		{[]string{"--smtp-host", "mail.example.com"}, "ADOPTSCOPE_SMTP_FROM"},
		{[]string{"--smtp-port", "70000"}, "ADOPTSCOPE_SMTP_PORT"},
	} {
		var c Config
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		c.Bind(fs, HTTP|Data)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
	c.Addr = ":8080"
	if c.AlertPublicURL() != "http://localhost:8080" {
		t.Errorf("public URL on :8080: %s", c.AlertPublicURL())
	}
	c.Alerts.PublicURL = "https://adoptscope.example.com/"
	if c.AlertPublicURL() != "https://adoptscope.example.com" {
		t.Errorf("public URL %s", c.AlertPublicURL())
	}
}
