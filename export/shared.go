package export

import (
	"context"
	"errors"
	"net"
	"net/http"
)

// Other features that call receivers chosen by a user (alert
// notifications: webhooks, Slack, an SMTP server) go through the same
// rules as export webhooks: these are the doors to them.

// Client is an HTTP client that connects only to vetted addresses, uses
// no proxy from the environment and follows no redirect. A nil d admits
// public addresses only.
func (d *Destinations) Client() *http.Client {
	if d == nil {
		d = &Destinations{}
	}
	return d.client()
}

// Dial connects to a vetted address of addr's host ("host:port"): for a
// receiver that does not speak HTTP. A refused address gives an error
// for which IsRefused is true.
func (d *Destinations) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if d == nil {
		d = &Destinations{}
	}
	return d.dial(ctx, network, addr)
}

// IsRefused reports whether err is a destination refused by the address
// rules (not worth retrying).
func IsRefused(err error) bool {
	var r errRefused
	return errors.As(err, &r)
}
