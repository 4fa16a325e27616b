package export

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// A webhook URL is chosen by whoever creates an export, and the product
// then makes requests to it from inside the network it runs in. Left
// unchecked, a URL on 127.0.0.1 reaches ClickHouse's HTTP interface (a
// ?query= in the URL runs SQL), and a redirect answered by any receiver
// does the same. So webhooks reach public addresses only: the address is
// checked when the export is saved and again at every delivery, where the
// connection is made to the very address that was checked (DNS is not
// asked twice, so a name that changes its answer between the check and
// the connection cannot slip through), redirects are not followed and
// response bodies are not kept.

// Resolver looks up a host's addresses; *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Destinations decides where webhooks may go. The zero value admits public
// addresses only.
type Destinations struct {
	// AllowHosts and AllowNets admit receivers on addresses that are
	// otherwise refused (a receiver inside a company network): host names
	// as written in the URL (case-insensitive) and address prefixes.
	AllowHosts []string
	AllowNets  []netip.Prefix
	// Deny lists addresses refused even when allowed: this instance's
	// listen address and ClickHouse's ports.
	Deny []netip.AddrPort
	// Resolver finds a host's addresses (default net.DefaultResolver).
	Resolver Resolver
}

// ParseAllow reads an allow-list: comma-separated host names, IP addresses
// and CIDR prefixes ("hooks.corp.example,10.20.0.0/16,192.168.1.5").
func ParseAllow(s string) (hosts []string, nets []netip.Prefix, err error) {
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.Contains(f, "/"):
			p, perr := netip.ParsePrefix(f)
			if perr != nil {
				return nil, nil, fmt.Errorf("%q is not a CIDR prefix such as 10.20.0.0/16", f)
			}
			nets = append(nets, p.Masked())
		default:
			if a, aerr := netip.ParseAddr(f); aerr == nil {
				nets = append(nets, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
				continue
			}
			if !validHostName(f) {
				return nil, nil, fmt.Errorf("%q is neither a host name, an IP address nor a CIDR prefix", f)
			}
			hosts = append(hosts, strings.ToLower(strings.TrimSuffix(f, ".")))
		}
	}
	return hosts, nets, nil
}

func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// LocalEndpoints expands a listen address ("127.0.0.1:8080", ":8080",
// "0.0.0.0:8080", "ch.internal:9000") into the addresses a request to it
// would reach: every address of this machine when the host is empty or
// unspecified, the host's addresses otherwise. A name that does not
// resolve yields nothing.
func LocalEndpoints(ctx context.Context, hostport string) []netip.AddrPort {
	host, ps, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil && !a.IsUnspecified() {
		addrs = []netip.Addr{a}
	} else if host == "" || err == nil {
		addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
		if ifs, err := net.InterfaceAddrs(); err == nil {
			for _, ia := range ifs {
				if n, ok := ia.(*net.IPNet); ok {
					if a, ok := netip.AddrFromSlice(n.IP); ok {
						addrs = append(addrs, a.Unmap())
					}
				}
			}
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		addrs, _ = net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	}
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, netip.AddrPortFrom(a.Unmap(), uint16(port)))
	}
	return out
}

// CheckURL checks a webhook URL when an export is saved: the error is a
// 400 naming webhook_url and the fix.
func (d *Destinations) CheckURL(ctx context.Context, raw string) error {
	if d == nil {
		d = &Destinations{}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return badURL(errors.New("want an http:// or https:// URL"))
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return badURL(fmt.Errorf("port %q: want a number", u.Port()))
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.vet(ctx, u.Hostname(), uint16(p)); err != nil {
		return badURL(err)
	}
	return nil
}

func badURL(err error) error {
	msg := "webhook_url: " + err.Error()
	return httperr.Wrap(http.StatusBadRequest, msg, errors.New(msg))
}

// vet resolves host and checks every address it has; it returns them when
// all may be reached.
func (d *Destinations) vet(ctx context.Context, host string, port uint16) ([]netip.Addr, error) {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		addrs = []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	} else {
		r := d.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		addrs, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil || len(addrs) == 0 {
			return nil, fmt.Errorf("host %s does not resolve (%v): a webhook needs a receiver reachable now", host, err)
		}
	}
	for i, a := range addrs {
		a = a.Unmap()
		addrs[i] = a
		if err := d.check(host, netip.AddrPortFrom(a, port)); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

func (d *Destinations) check(host string, ap netip.AddrPort) error {
	for _, x := range d.Deny {
		if x.Addr().Unmap() == ap.Addr() && x.Port() == ap.Port() {
			return fmt.Errorf("host %s is %s, this instance's own HTTP address or one of ClickHouse's: a webhook may not call them", host, ap)
		}
	}
	for _, h := range d.AllowHosts {
		if h == host {
			return nil
		}
	}
	for _, n := range d.AllowNets {
		if n.Contains(ap.Addr()) {
			return nil
		}
	}
	if kind := nonPublic(ap.Addr()); kind != "" {
		return fmt.Errorf("host %s is %s, a %s address: webhooks go to public addresses only; use the receiver's public name, or add the host or its network to ADOPTSCOPE_WEBHOOK_ALLOW (--webhook-allow) for a receiver inside your network", host, ap.Addr(), kind)
	}
	return nil
}

var specialNets = []struct {
	p    netip.Prefix
	kind string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "\"this network\""},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "reserved"},
	{netip.MustParsePrefix("198.18.0.0/15"), "reserved"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible"},
}

// nonPublic names the kind of a non-public address, or "" for a public one.
func nonPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	case a.IsMulticast(), a.IsLinkLocalMulticast(), a.IsInterfaceLocalMulticast():
		return "multicast"
	case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, s := range specialNets {
		if s.p.Contains(a) {
			return s.kind
		}
	}
	return ""
}

// dial connects to a vetted address of addr's host: the check and the
// connection use the same lookup.
func (d *Destinations) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return nil, err
	}
	addrs, err := d.vet(ctx, host, uint16(port))
	if err != nil {
		return nil, errRefused{err}
	}
	var dl net.Dialer
	var last error
	for _, a := range addrs {
		c, err := dl.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}

// errRefused is a destination refused at delivery: not worth retrying.
type errRefused struct{ error }

func (e errRefused) Unwrap() error { return e.error }

// client is the HTTP client of deliveries: connections only to vetted
// addresses, no proxy from the environment (it would connect on the
// webhook's behalf, unchecked), no redirects.
func (d *Destinations) client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         d.dial,
			ForceAttemptHTTP2:   true,
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConns:        4,
			IdleConnTimeout:     30 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// RedactURL shows a webhook URL to an admin: a password in it and the
// values of its query (where receivers often take a token) masked.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"***"}
		}
		u.RawQuery = strings.ReplaceAll(q.Encode(), "%2A%2A%2A", "***")
	}
	u.Fragment, u.RawFragment = "", ""
	return strings.Replace(u.String(), ":xxxxx@", ":***@", 1)
}

// URLHost is what readers see of a webhook URL: its scheme and host.
func URLHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
