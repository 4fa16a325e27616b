package auth

import (
	"net"
	"net/http"
	"strings"
)

// Proxies are the reverse proxies whose X-Forwarded-For is believed
// (ADOPTSCOPE_TRUSTED_PROXIES). Anyone can send the header, so it says who
// the client is only when the connection comes from one of them.
type Proxies []*net.IPNet

func (p Proxies) trusted(ip net.IP) bool {
	for _, n := range p {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// ClientAddr is the address of the client of r: the connection's peer,
// or, when the peer is a trusted proxy, the nearest address of
// X-Forwarded-For (read from the right, the proxies' own end) that is not
// a trusted proxy itself. A forged entry further left is never reached.
func (p Proxies) ClientAddr(r *http.Request) string {
	peer := r.RemoteAddr
	if h, _, err := net.SplitHostPort(peer); err == nil {
		peer = h
	}
	ip := net.ParseIP(peer)
	if ip == nil || !p.trusted(ip) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := hops[i]
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		hip := net.ParseIP(strings.Trim(h, "[]"))
		if hip == nil {
			// Not an address (a proxy writing "unknown"): stop at the last
			// one known.
			return client
		}
		client = hip.String()
		if !p.trusted(hip) {
			return client
		}
	}
	return client
}
