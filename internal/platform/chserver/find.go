// Package chserver runs a ClickHouse server as a child process: the managed
// local store of `adoptscope up` and the throwaway servers of the tests.
package chserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// Binary is a ClickHouse server executable and the arguments that make it
// run as a server (the single modern binary needs the "server" verb).
type Binary struct {
	Path string
	Args []string
}

// ErrNotInstalled tells how to install a server; callers show it as is.
var ErrNotInstalled = errors.New(`no ClickHouse server found (looked for clickhouse-server and clickhouse in PATH, /usr/sbin and /usr/bin).
Install one of:
  - the distribution package:   sudo apt-get install -y clickhouse-server
  - a current release:          the official ClickHouse packages (https://clickhouse.com/docs/install), or the single "clickhouse" binary in PATH
or point AdoptScope at an existing server with ADOPTSCOPE_CLICKHOUSE_ADDR=host:9000`)

// Find locates a server binary. ADOPTSCOPE_CLICKHOUSE_BINARY overrides the
// search, for installs in unusual places.
func Find() (Binary, error) {
	if p := os.Getenv("ADOPTSCOPE_CLICKHOUSE_BINARY"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return Binary{}, fmt.Errorf("ADOPTSCOPE_CLICKHOUSE_BINARY=%s: %w", p, err)
		}
		return binaryFor(p), nil
	}
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return Binary{Path: p}, nil
		}
	}
	for _, name := range []string{"clickhouse", "/usr/bin/clickhouse", "/usr/local/bin/clickhouse"} {
		if p, err := exec.LookPath(name); err == nil {
			return Binary{Path: p, Args: []string{"server"}}, nil
		}
	}
	return Binary{}, ErrNotInstalled
}

func binaryFor(p string) Binary {
	if len(p) >= len("clickhouse") && p[len(p)-len("clickhouse"):] == "clickhouse" {
		return Binary{Path: p, Args: []string{"server"}}
	}
	return Binary{Path: p}
}
