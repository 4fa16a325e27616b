package httpserver

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// A page on another site can reach this server through DNS rebinding: its
// own host name, re-pointed at 127.0.0.1 after the page loaded, makes the
// browser treat this server as the page's origin. The browser then sends
// the page's host name in Host, which is what the guard refuses. It cannot
// send an IP literal or localhost (those are not the page's origin), so
// those stay allowed, as do the names an operator lists for a reverse
// proxy or a LAN name.

// HostAllowed reports whether a request addressed to host (a Host header,
// with or without port) may be answered: an IP literal, localhost,
// *.localhost, or a name matched by one of patterns (exact names,
// *.example.com for any name below example.com, * for every name).
func HostAllowed(host string, patterns []string) bool {
	name := hostName(host)
	if name == "" {
		// HTTP/1.0 without Host: no browser sends that.
		return true
	}
	if ip := strings.SplitN(name, "%", 2)[0]; net.ParseIP(ip) != nil {
		return true
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSuffix(p, "."))
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "*."):
			if strings.HasSuffix(name, p[1:]) && len(name) > len(p)-1 {
				return true
			}
		case name == p:
			return true
		}
	}
	return false
}

// hostName is the lower-case name of a Host header, without port, brackets
// or trailing dot.
func hostName(host string) string {
	host = strings.TrimSpace(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimPrefix(strings.TrimSuffix(host, "]"), "[")
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// hostGuard refuses, before routing, every request whose Host names a host
// this server was not told it is.
func (s *Server) hostGuard(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if HostAllowed(r.Host, s.opts.AllowedHosts) {
			return next(c)
		}
		name := hostName(r.Host)
		if len(name) > 100 {
			name = name[:100] + "…"
		}
		s.log.Warn("request for a host name this server does not answer refused (DNS-rebinding guard)",
			"host", name, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		c.Response().Header().Set("Connection", "close")
		return httperr.New(http.StatusMisdirectedRequest, fmt.Sprintf(
			"host %q is not a name of this server: it answers localhost, *.localhost, IP addresses and the names listed in ADOPTSCOPE_ALLOWED_HOSTS; "+
				"if this is its name (a reverse proxy or a LAN name), add it there, for example ADOPTSCOPE_ALLOWED_HOSTS=%s", name, suggestion(name)))
	}
}

// suggestion is a value of ADOPTSCOPE_ALLOWED_HOSTS that would allow name,
// or a placeholder when name is not one.
func suggestion(name string) string {
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return "dash.example.com"
		}
	}
	return name
}
