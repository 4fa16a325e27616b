package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// HTTPConfig holds the defences of the HTTP server against requests it
// should not answer (a foreign Host, a password guesser) and clients that
// hold a connection without sending (bound with the HTTP section).
type HTTPConfig struct {
	// AllowedHosts are the host names, beyond localhost, *.localhost and IP
	// literals, that requests may name in Host: exact names or *.example.com
	// patterns; "*" allows every name (the guard off).
	AllowedHosts []string
	// TrustedProxies are the addresses (IPs or CIDRs) of reverse proxies
	// whose X-Forwarded-For names the client.
	TrustedProxies []string
	// BodyTimeout bounds the reading of one request body;
	// IngestBodyTimeout that of POST /v1/events (0: sized for MaxBody).
	BodyTimeout       time.Duration
	IngestBodyTimeout time.Duration
	MaxHeaderBytes    int
	// MaxConcurrent caps dashboard and query API requests answered at
	// once; a request waits up to QueueTimeout for a slot, then gets 503.
	MaxConcurrent int
	QueueTimeout  time.Duration

	bound bool
}

func (c *Config) bindHTTPLimits(f binder) {
	h := &c.HTTP
	h.bound = true
	f.list(&h.AllowedHosts, "allowed-hosts", "ADOPTSCOPE_ALLOWED_HOSTS", "comma-separated host names requests may be addressed to besides localhost, *.localhost and IP addresses (the DNS-rebinding guard): the name of a reverse proxy or LAN host, *.example.com patterns allowed, * allows any name")
	f.list(&h.TrustedProxies, "trusted-proxies", "ADOPTSCOPE_TRUSTED_PROXIES", "comma-separated IP addresses or CIDR ranges of reverse proxies whose X-Forwarded-For header names the client (sign-in throttling per address); empty: X-Forwarded-For is ignored")
	f.dur(&h.BodyTimeout, "body-timeout", "ADOPTSCOPE_BODY_TIMEOUT", 30*time.Second, "how long a dashboard or query API request may take to send its body; a slower one is cut off")
	f.dur(&h.IngestBodyTimeout, "ingest-body-timeout", "ADOPTSCOPE_INGEST_BODY_TIMEOUT", 0, "how long POST /v1/events may take to send its body; 0: sized for --ingest-max-body (30s plus 1s per 256 KiB: 94s for 16 MiB)")
	f.integer(&h.MaxHeaderBytes, "max-header-bytes", "ADOPTSCOPE_MAX_HEADER_BYTES", 64<<10, "largest request line and headers in bytes (431 above)")
	f.integer(&h.MaxConcurrent, "max-concurrent-requests", "ADOPTSCOPE_MAX_CONCURRENT_REQUESTS", 32, "dashboard and query API requests answered at once; more wait up to --queue-timeout, then get 503 (ingest has its own limit: its buffer)")
	f.dur(&h.QueueTimeout, "queue-timeout", "ADOPTSCOPE_QUEUE_TIMEOUT", 2*time.Second, "how long a dashboard or query API request waits for one of --max-concurrent-requests before it gets 503")
}

// IngestBodyDeadline is the body read deadline of POST /v1/events: the
// configured one, or 30 s plus 1 s per 256 KiB of the largest body (a
// client sending at 256 KiB/s fits the largest body in).
func (c *Config) IngestBodyDeadline() time.Duration {
	if c.HTTP.IngestBodyTimeout > 0 {
		return c.HTTP.IngestBodyTimeout
	}
	max := c.Ingest.MaxBody
	if max <= 0 {
		max = 16 << 20
	}
	return 30*time.Second + time.Duration(max/(256<<10))*time.Second
}

func (c *Config) validateHTTP() []error {
	h := c.HTTP
	var errs []error
	for _, p := range h.AllowedHosts {
		if err := CheckHostPattern(p); err != nil {
			errs = append(errs, fmt.Errorf("--allowed-hosts / ADOPTSCOPE_ALLOWED_HOSTS %q: %v", p, err))
		}
	}
	for _, p := range h.TrustedProxies {
		if _, err := ParseProxy(p); err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies / ADOPTSCOPE_TRUSTED_PROXIES %q: want an IP address (10.0.0.5) or a CIDR range (10.0.0.0/8)", p))
		}
	}
	if h.BodyTimeout < time.Second || h.BodyTimeout > time.Hour {
		errs = append(errs, fmt.Errorf("--body-timeout / ADOPTSCOPE_BODY_TIMEOUT %s: want 1s-1h", h.BodyTimeout))
	}
	if h.IngestBodyTimeout != 0 && (h.IngestBodyTimeout < time.Second || h.IngestBodyTimeout > time.Hour) {
		errs = append(errs, fmt.Errorf("--ingest-body-timeout / ADOPTSCOPE_INGEST_BODY_TIMEOUT %s: want 1s-1h, or 0 to size it for --ingest-max-body", h.IngestBodyTimeout))
	}
	if h.MaxHeaderBytes < 4<<10 || h.MaxHeaderBytes > 1<<20 {
		errs = append(errs, fmt.Errorf("--max-header-bytes / ADOPTSCOPE_MAX_HEADER_BYTES %d: want 4096-1048576", h.MaxHeaderBytes))
	}
	if h.MaxConcurrent < 1 || h.MaxConcurrent > 10000 {
		errs = append(errs, fmt.Errorf("--max-concurrent-requests / ADOPTSCOPE_MAX_CONCURRENT_REQUESTS %d: want 1-10000", h.MaxConcurrent))
	}
	if h.QueueTimeout < 0 || h.QueueTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("--queue-timeout / ADOPTSCOPE_QUEUE_TIMEOUT %s: want 0-1m", h.QueueTimeout))
	}
	return errs
}

// CheckHostPattern holds an ADOPTSCOPE_ALLOWED_HOSTS entry to its form: a
// host name (letters, digits, '-' and '.'), *.name, or *. A port is not
// part of it: every port of an allowed name is allowed.
func CheckHostPattern(p string) error {
	if p == "*" {
		return nil
	}
	name := strings.TrimPrefix(p, "*.")
	if strings.Contains(name, ":") {
		return fmt.Errorf("give the name without a port (every port of an allowed name is allowed)")
	}
	if name == "" || len(name) > 253 || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "..") {
		return fmt.Errorf("want a host name such as dash.example.com, or a pattern such as *.example.com")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("character %q: want a host name such as dash.example.com, or a pattern such as *.example.com", r)
		}
	}
	return nil
}

// ParseProxy parses an ADOPTSCOPE_TRUSTED_PROXIES entry: an IP address
// (a range of one) or a CIDR range.
func ParseProxy(s string) (*net.IPNet, error) {
	if strings.Contains(s, "/") {
		_, n, err := net.ParseCIDR(s)
		return n, err
	}
	ip := net.ParseIP(s)
	if ip == nil {
		return nil, fmt.Errorf("not an IP address: %q", s)
	}
	bits := 128
	if v4 := ip.To4(); v4 != nil {
		ip, bits = v4, 32
	}
	return &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)}, nil
}
