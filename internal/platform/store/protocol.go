package store

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Protocols of the connection (ADOPTSCOPE_CLICKHOUSE_PROTOCOL).
//
// native is ClickHouse's own TCP protocol and works with every supported
// server, 18.16 included. http is clickhouse-go's HTTP transport (Native
// blocks over HTTP POST): for servers reachable only over HTTP(S), such as
// port 8443 of a hosted ClickHouse, or through an HTTP proxy. It needs a
// server newer than 18.16: clickhouse-go sends client_protocol_version with
// every request, which 18.16 refuses ("Unknown setting
// client_protocol_version"); Open says so in those words.
const (
	ProtocolNative = "native"
	ProtocolHTTP   = "http"
)

// ValidProtocol reports whether s is a Protocol setting ("" is native).
func ValidProtocol(s string) bool {
	switch s {
	case "", ProtocolNative, ProtocolHTTP:
		return true
	}
	return false
}

func checkProtocol(cfg *Config) error {
	if cfg.Protocol == "" {
		cfg.Protocol = ProtocolNative
	}
	if !ValidProtocol(cfg.Protocol) {
		return fmt.Errorf("clickhouse protocol %q: want native or http (ADOPTSCOPE_CLICKHOUSE_PROTOCOL)", cfg.Protocol)
	}
	if cfg.HTTPProxy != "" {
		if cfg.Protocol != ProtocolHTTP {
			return fmt.Errorf("clickhouse HTTP proxy %q: a proxy needs ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http (the native protocol goes direct)", cfg.HTTPProxy)
		}
		if _, err := ParseHTTPProxy(cfg.HTTPProxy); err != nil {
			return err
		}
	}
	return nil
}

// ParseHTTPProxy checks a proxy URL: http:// or https:// with a host.
func ParseHTTPProxy(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("clickhouse HTTP proxy %q: want a URL such as http://proxy.example:3128 (ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY)", s)
	}
	return u, nil
}

// applyProtocol switches opts to the HTTP transport when cfg asks for it.
// TLS, authentication and compression carry over: over HTTP the user and
// password travel as headers (TLS) or basic authentication, lz4 as
// ClickHouse's block compression (compress=1).
func applyProtocol(opts *clickhouse.Options, cfg Config) error {
	if cfg.Protocol != ProtocolHTTP {
		return nil
	}
	opts.Protocol = clickhouse.HTTP
	if cfg.HTTPProxy != "" {
		u, err := ParseHTTPProxy(cfg.HTTPProxy)
		if err != nil {
			return err
		}
		opts.HTTPProxyURL = u
	}
	return nil
}

// explainDialError names the address, and for the http protocol tells a
// server too old for it apart from one that does not answer.
func explainDialError(cfg Config, err error) error {
	if cfg.Protocol == ProtocolHTTP && strings.Contains(err.Error(), "Unknown setting client_protocol_version") {
		return fmt.Errorf("clickhouse at %s refuses the HTTP protocol of clickhouse-go (it sends client_protocol_version, which servers as old as 18.16 do not know): "+
			"use ADOPTSCOPE_CLICKHOUSE_PROTOCOL=native (port 9000) with this server, or a newer server for http: %w", cfg.Addr, err)
	}
	hint := "ADOPTSCOPE_CLICKHOUSE_ADDR"
	if cfg.Protocol == ProtocolHTTP {
		hint += ", ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http wants the HTTP port: 8123, 8443 with TLS"
	}
	return fmt.Errorf("clickhouse at %s does not answer (%s): %w", cfg.Addr, hint, err)
}
