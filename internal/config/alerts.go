package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// AlertConfig is how alert notifications go out (bound with the Data
// section, like exports: the scheduler and the web side both send).
type AlertConfig struct {
	// MaxPerDay bounds each rule's notifications per day.
	MaxPerDay int
	// PublicURL is where people reach the dashboard, for the links in
	// notifications; empty: http://<addr>.
	PublicURL string
	// SMTP server of e-mail destinations (STARTTLS when offered; a
	// password is only sent over TLS).
	SMTPHost, SMTPUser, SMTPPassword, SMTPFrom string
	SMTPPort                                   int

	bound bool
}

func (c *Config) bindAlerts(f binder) {
	c.Alerts.bound = true
	f.integer(&c.Alerts.MaxPerDay, "alert-max-per-day", "ADOPTSCOPE_ALERT_MAX_PER_DAY", 2, "most notifications one alert rule sends a day; later changes of state are recorded, not sent")
	f.str(&c.Alerts.PublicURL, "public-url", "ADOPTSCOPE_PUBLIC_URL", "", "the dashboard's address as people reach it, for links in alert notifications; empty: http://<addr>")
	f.str(&c.Alerts.SMTPHost, "smtp-host", "ADOPTSCOPE_SMTP_HOST", "", "mail server of alert e-mails; it obeys the webhook address rules (ADOPTSCOPE_WEBHOOK_ALLOW admits one inside your network)")
	f.integer(&c.Alerts.SMTPPort, "smtp-port", "ADOPTSCOPE_SMTP_PORT", 587, "port of the mail server (STARTTLS when it offers it)")
	f.str(&c.Alerts.SMTPUser, "smtp-user", "ADOPTSCOPE_SMTP_USER", "", "user for the mail server; empty: no authentication")
	f.str(&c.Alerts.SMTPPassword, "smtp-password", "ADOPTSCOPE_SMTP_PASSWORD", "", "password for the mail server, sent only over STARTTLS")
	f.str(&c.Alerts.SMTPFrom, "smtp-from", "ADOPTSCOPE_SMTP_FROM", "", "sender address of alert e-mails, for example adoptscope@example.com")
}

func (c *Config) validateAlerts() []error {
	x := c.Alerts
	var errs []error
	if x.MaxPerDay < 1 || x.MaxPerDay > 100 {
		errs = append(errs, fmt.Errorf("--alert-max-per-day / ADOPTSCOPE_ALERT_MAX_PER_DAY %d: want 1-100", x.MaxPerDay))
	}
	if x.PublicURL != "" {
		u, err := url.Parse(x.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			errs = append(errs, fmt.Errorf("--public-url / ADOPTSCOPE_PUBLIC_URL %q: want http(s)://host[:port][/path], for example https://adoptscope.example.com", x.PublicURL))
		}
	}
	if x.SMTPPort < 1 || x.SMTPPort > 65535 {
		errs = append(errs, fmt.Errorf("--smtp-port / ADOPTSCOPE_SMTP_PORT %d: want 1-65535", x.SMTPPort))
	}
	if x.SMTPHost != "" && !strings.Contains(x.SMTPFrom, "@") {
		errs = append(errs, fmt.Errorf("--smtp-from / ADOPTSCOPE_SMTP_FROM %q: want the sender's e-mail address when ADOPTSCOPE_SMTP_HOST is set", x.SMTPFrom))
	}
	return errs
}

// AlertPublicURL is the dashboard's address for notification links.
func (c *Config) AlertPublicURL() string {
	if c.Alerts.PublicURL != "" {
		return strings.TrimRight(c.Alerts.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return "http://" + c.Addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost" // listening everywhere: a link needs a name
	}
	return "http://" + net.JoinHostPort(host, port)
}
