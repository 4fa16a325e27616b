// Package store opens the ClickHouse connection every other package uses and
// tells them what the server can do.
package store

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Config says where the server is. Addr is host:port of the native protocol.
type Config struct {
	Addr         string // host:port, or a comma-separated list tried in order
	Database     string
	User         string
	Password     string
	TLS          bool
	Cluster      string // empty on a single server
	MaxOpenConns int
	DialTimeout  time.Duration
	// Compression of the native protocol's blocks: auto (the default:
	// none when every address is a loopback one, lz4 otherwise), lz4 or
	// none.
	Compression string
	// Protocol is native (the default: port 9000, 9440 with TLS) or http
	// (clickhouse-go's HTTP transport: port 8123, 8443 with TLS; needs a
	// server newer than 18.16, see protocol.go).
	Protocol string
	// HTTPProxy is the URL of a proxy for the http protocol; empty: the
	// standard HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables.
	HTTPProxy string
	// Read is what one read of the product's questions may cost.
	Read ReadBudget
}

// ReadBudget bounds one answer, so that no request, however it is
// phrased, can take the server or this process past a stated size.
type ReadBudget struct {
	// MaxRows is the most rows one answer may hold (a series' groups x
	// periods); a larger one is refused before it runs. Zero:
	// DefaultMaxRows.
	MaxRows int
	// MaxMemory is ClickHouse's max_memory_usage for each read query, in
	// bytes: a query over it fails on the server instead of growing.
	// Zero: DefaultMaxMemory.
	MaxMemory int64
}

// The default read budget: a million rows is about 150 MB of JSON, far
// more than a chart draws and less than a spreadsheet holds; 2 GiB keeps
// a year of per-person questions at 100 M events inside the server's
// reach on a small machine.
const (
	DefaultMaxRows   = 1_000_000
	DefaultMaxMemory = 2 << 30
)

// WithDefaults fills the zero fields.
func (b ReadBudget) WithDefaults() ReadBudget {
	if b.MaxRows <= 0 {
		b.MaxRows = DefaultMaxRows
	}
	if b.MaxMemory <= 0 {
		b.MaxMemory = DefaultMaxMemory
	}
	return b
}

// ReadContext returns ctx with the read budget's server-side settings
// attached: every read query of the product's questions runs with it.
func (s *Store) ReadContext(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_memory_usage": int(s.Read.MaxMemory)}))
}

// Compression settings.
const (
	CompressionAuto = "auto"
	CompressionLZ4  = "lz4"
	CompressionNone = "none"
)

// ValidCompression reports whether s is a Compression setting ("" is auto).
func ValidCompression(s string) bool {
	switch s {
	case "", CompressionAuto, CompressionLZ4, CompressionNone:
		return true
	}
	return false
}

// EffectiveCompression resolves auto. Compressing blocks pays off across
// a network; to a server on the same machine it only costs CPU on both
// sides (LZ4 took about 8 % of ingest's CPU at 150,000 events/s, and the
// server spent as much again decompressing), so loopback goes plain.
func (c Config) EffectiveCompression() string {
	if c.Compression != "" && c.Compression != CompressionAuto {
		return c.Compression
	}
	list := addrs(c.Addr)
	if len(list) == 0 {
		return CompressionLZ4
	}
	for _, a := range list {
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			host = a
		}
		if host == "localhost" {
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			return CompressionLZ4
		}
	}
	return CompressionNone
}

// Store is an open connection pool plus what is known of the server.
type Store struct {
	Conn     driver.Conn
	Database string
	Cluster  string
	Version  Version
	Addr     string
	Protocol string // native or http
	// Read is the budget of each read (Config.Read with its defaults).
	Read ReadBudget
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ValidIdent reports whether s can be used unquoted as a database or cluster
// name. Names reach DDL by text, so they are held to this allow-list.
func ValidIdent(s string) bool { return identRe.MatchString(s) }

// Open connects, creates the database when it is missing and reads the
// server version. It fails within cfg.DialTimeout when nothing answers.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if cfg.Database == "" {
		cfg.Database = "adoptscope"
	}
	if !ValidIdent(cfg.Database) {
		return nil, fmt.Errorf("clickhouse database %q: use letters, digits and underscores only (ADOPTSCOPE_CLICKHOUSE_DATABASE)", cfg.Database)
	}
	if cfg.Cluster != "" && !ValidIdent(cfg.Cluster) {
		return nil, fmt.Errorf("clickhouse cluster %q: use letters, digits and underscores only (ADOPTSCOPE_CLICKHOUSE_CLUSTER)", cfg.Cluster)
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	if cfg.MaxOpenConns == 0 {
		cfg.MaxOpenConns = 10
	}
	if !ValidCompression(cfg.Compression) {
		return nil, fmt.Errorf("clickhouse compression %q: want auto, lz4 or none (ADOPTSCOPE_CLICKHOUSE_COMPRESSION)", cfg.Compression)
	}
	if err := checkProtocol(&cfg); err != nil {
		return nil, err
	}
	// The target database may not exist yet, and the native handshake
	// refuses an unknown default database: create it over a bootstrap
	// connection first.
	boot, err := dial(cfg, "default")
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := boot.Ping(pctx); err != nil {
		boot.Close()
		return nil, explainDialError(cfg, err)
	}
	sv, err := boot.ServerVersion()
	if err != nil {
		boot.Close()
		return nil, fmt.Errorf("clickhouse at %s: read server version: %w", cfg.Addr, err)
	}
	if cfg.Cluster != "" {
		if err := checkCluster(pctx, boot, cfg); err != nil {
			boot.Close()
			return nil, err
		}
	}
	ddl := "CREATE DATABASE IF NOT EXISTS " + cfg.Database
	if cfg.Cluster != "" {
		ddl += " ON CLUSTER " + cfg.Cluster
		// ON CLUSTER waits for every node: skip it when the database is
		// already there, so that an instance starts while a node is down.
		var n uint64
		if err := boot.QueryRow(pctx, "SELECT count() FROM system.databases WHERE name = ?", cfg.Database).Scan(&n); err == nil && n > 0 {
			ddl = ""
		}
	}
	if ddl != "" {
		if err := boot.Exec(pctx, ddl); err != nil {
			boot.Close()
			return nil, fmt.Errorf("create database %s on %s: %w", cfg.Database, cfg.Addr, err)
		}
	}
	boot.Close()

	conn, err := dial(cfg, cfg.Database)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse at %s does not answer: %w", cfg.Addr, err)
	}
	v := Version{Major: int(sv.Version.Major), Minor: int(sv.Version.Minor), Patch: int(sv.Version.Patch)}
	s := &Store{Conn: conn, Database: cfg.Database, Cluster: cfg.Cluster, Version: v, Addr: cfg.Addr, Protocol: cfg.Protocol,
		Read: cfg.Read.WithDefaults()}
	log.Info("connected to ClickHouse", "addr", cfg.Addr, "protocol", cfg.Protocol, "database", cfg.Database, "server_version", v.String(),
		"cluster", cfg.Cluster, "compression", cfg.EffectiveCompression(), "features", s.Features().String())
	return s, nil
}

func dial(cfg Config, database string) (driver.Conn, error) {
	opts := &clickhouse.Options{
		Protocol: clickhouse.Native,
		Addr:     addrs(cfg.Addr),
		Auth: clickhouse.Auth{
			Database: database,
			Username: cfg.User,
			Password: cfg.Password,
		},
		DialTimeout:     cfg.DialTimeout,
		MaxOpenConns:    cfg.MaxOpenConns,
		MaxIdleConns:    cfg.MaxOpenConns,
		ConnMaxLifetime: time.Hour,
	}
	if cfg.EffectiveCompression() == CompressionLZ4 {
		opts.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	}
	if cfg.TLS {
		opts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if err := applyProtocol(opts, cfg); err != nil {
		return nil, err
	}
	if cfg.Cluster != "" {
		// Inserts into Distributed tables are queued on the receiving
		// node and sent later by default: an acknowledged write could be
		// lost with that node, and another instance would not see it yet.
		// Synchronous: an insert returns once every shard has its rows.
		opts.Settings = clickhouse.Settings{"insert_distributed_sync": 1}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse at %s: %w", cfg.Addr, err)
	}
	return conn, nil
}

// checkCluster tells, in the product's words, what is missing from the
// server configuration a cluster needs: the cluster in remote_servers, and
// the shard and replica macros of the replicated tables' paths.
func checkCluster(ctx context.Context, conn driver.Conn, cfg Config) error {
	rows, err := conn.Query(ctx, "SELECT DISTINCT cluster FROM system.clusters")
	if err != nil {
		return fmt.Errorf("clickhouse at %s: list clusters: %w", cfg.Addr, err)
	}
	var names []string
	found := false
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		names = append(names, n)
		found = found || n == cfg.Cluster
	}
	rows.Close()
	if !found {
		return fmt.Errorf("ADOPTSCOPE_CLICKHOUSE_CLUSTER=%s: the server at %s has no such cluster in its remote_servers (it has: %s); see docs/cluster.md",
			cfg.Cluster, cfg.Addr, strings.Join(names, ", "))
	}
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.macros WHERE macro IN ('shard', 'replica')").Scan(&n); err == nil && n < 2 {
		return fmt.Errorf("ADOPTSCOPE_CLICKHOUSE_CLUSTER=%s: the server at %s lacks the <macros> shard and replica that the replicated tables' paths use; see docs/cluster.md", cfg.Cluster, cfg.Addr)
	}
	return nil
}

// addrs splits a comma-separated address list. The client opens each new
// connection on the first address that answers, so an instance pointed at
// several nodes of a cluster keeps working while one of them is down.
func addrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Close closes the pool.
func (s *Store) Close() error { return s.Conn.Close() }

// Ping checks the server within d.
func (s *Store) Ping(ctx context.Context, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Conn.Ping(ctx)
}
