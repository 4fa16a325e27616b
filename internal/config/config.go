// Package config is the one typed, validated configuration of the binary.
// Every flag has an environment variable of the same meaning; a flag given
// on the command line wins over the environment.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Config is everything a subcommand may need. Subcommands bind the sections
// they use.
type Config struct {
	Addr            string
	DataDir         string
	ClickHouse      store.Config
	ManagedHTTPPort int // the managed ClickHouse's HTTP port (loopback); 0: off
	IngestTokens    []string
	ReadTokens      []string
	AdminTokens     []string
	Ingest          IngestConfig
	SDK             SDKConfig // PostHog / Segment SDK mapping, bound with Ingest
	Exports         ExportConfig
	Alerts          AlertConfig
	HTTP            HTTPConfig
	Users           string // dashboard accounts: name:role:bcrypt-hash, comma-separated
	UsersFile       string // file of dashboard accounts, one name:role:bcrypt-hash per line
	Demo            string
	Timezone        string // dashboard day boundaries: an IANA zone; "" or UTC is UTC
	Owners          string // ADOPTSCOPE_OWNERS: who makes each assistant and owns each channel (catalog.ParseOwners); "" the defaults
	LogLevel        string
	LogFormat       string
	ShutdownTimeout time.Duration
	// QueryMaxMemoryMiB is ClickHouse.Read.MaxMemory in MiB, as set.
	QueryMaxMemoryMiB int
}

// Section selects groups of flags.
type Section int

const (
	HTTP Section = 1 << iota
	Data
	ClickHouse
	Tokens
	Demo
	Logging
	Ingest
	// Registries: the assistants, channels and event types values are
	// checked against. Bound with Ingest and HTTP too: every serving
	// process checks values against them (ingest, the dashboard, the
	// annotation API).
	Registries
)

// Bind registers the flags of the given sections on fs, with defaults taken
// from the environment.
func (c *Config) Bind(fs *flag.FlagSet, sections Section) {
	f := binder{fs}
	if sections&Logging != 0 {
		f.str(&c.LogLevel, "log-level", "ADOPTSCOPE_LOG_LEVEL", "info", "log level: debug, info, warn, error")
		f.str(&c.LogFormat, "log-format", "ADOPTSCOPE_LOG_FORMAT", "text", "log format: text or json")
	}
	if sections&HTTP != 0 {
		f.str(&c.Addr, "addr", "ADOPTSCOPE_ADDR", "127.0.0.1:8080", "HTTP listen address: ingest API under /v1/, query API under /api/v1/, dashboard at /")
		f.dur(&c.ShutdownTimeout, "shutdown-timeout", "ADOPTSCOPE_SHUTDOWN_TIMEOUT", 30*time.Second, "how long a graceful shutdown may take to answer in-flight requests and flush")
		c.bindHTTPLimits(f)
		f.str(&c.Timezone, "timezone", "ADOPTSCOPE_TIMEZONE", "UTC", "time zone of the dashboard's days (an IANA name such as Europe/Paris); a page's tz parameter overrides it")
	}
	if sections&Data != 0 {
		f.str(&c.DataDir, "data-dir", "ADOPTSCOPE_DATA_DIR", "./data", "data folder: managed ClickHouse, generated secrets and tokens, exports")
		c.bindExports(f)
		c.bindAlerts(f)
	}
	if sections&ClickHouse != 0 {
		f.str(&c.ClickHouse.Addr, "clickhouse-addr", "ADOPTSCOPE_CLICKHOUSE_ADDR", "", "host:port of an existing ClickHouse server (native protocol, usually 9000; 9440 with TLS), or a comma-separated list tried in order (cluster nodes); empty: start a managed server in the data folder")
		f.str(&c.ClickHouse.Database, "clickhouse-database", "ADOPTSCOPE_CLICKHOUSE_DATABASE", "adoptscope", "ClickHouse database, created when missing")
		f.str(&c.ClickHouse.User, "clickhouse-user", "ADOPTSCOPE_CLICKHOUSE_USER", "default", "ClickHouse user")
		f.str(&c.ClickHouse.Password, "clickhouse-password", "ADOPTSCOPE_CLICKHOUSE_PASSWORD", "", "ClickHouse password")
		f.boolean(&c.ClickHouse.TLS, "clickhouse-tls", "ADOPTSCOPE_CLICKHOUSE_TLS", false, "connect to ClickHouse over TLS")
		f.str(&c.ClickHouse.Cluster, "clickhouse-cluster", "ADOPTSCOPE_CLICKHOUSE_CLUSTER", "", "ClickHouse cluster name from remote_servers: DDL runs ON CLUSTER with replicated and distributed tables")
		f.integer(&c.ClickHouse.MaxOpenConns, "clickhouse-max-conns", "ADOPTSCOPE_CLICKHOUSE_MAX_CONNS", 10, "ClickHouse connection pool size")
		f.dur(&c.ClickHouse.DialTimeout, "clickhouse-dial-timeout", "ADOPTSCOPE_CLICKHOUSE_DIAL_TIMEOUT", 5*time.Second, "how long to wait for ClickHouse to answer at start")
		f.str(&c.ClickHouse.Compression, "clickhouse-compression", "ADOPTSCOPE_CLICKHOUSE_COMPRESSION", "auto", "compression of data sent to and from ClickHouse: auto (none for loopback addresses, lz4 otherwise), lz4 or none")
		f.str(&c.ClickHouse.Protocol, "clickhouse-protocol", "ADOPTSCOPE_CLICKHOUSE_PROTOCOL", "native", "protocol to ClickHouse: native (port 9000, 9440 with TLS) or http (port 8123, 8443 with TLS; needs a server newer than 18.16)")
		f.integer(&c.ManagedHTTPPort, "clickhouse-http-port", "ADOPTSCOPE_CLICKHOUSE_HTTP_PORT", 0, "HTTP port of the managed ClickHouse (loopback only, same password as its native port); 0: off, the product needs only the native port")
		f.str(&c.ClickHouse.HTTPProxy, "clickhouse-http-proxy", "ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY", "", "proxy URL for the http protocol; empty: HTTPS_PROXY, HTTP_PROXY and NO_PROXY")
		f.integer(&c.ClickHouse.Read.MaxRows, "query-max-rows", "ADOPTSCOPE_QUERY_MAX_ROWS", store.DefaultMaxRows, "most rows one answer (API, chart, CSV export) may hold; a larger one is refused with 422 before it runs")
		f.integer(&c.QueryMaxMemoryMiB, "query-max-memory-mib", "ADOPTSCOPE_QUERY_MAX_MEMORY_MIB", store.DefaultMaxMemory>>20, "ClickHouse memory one read query may use, in MiB (max_memory_usage); a query over it fails instead of growing")
	}
	if sections&Tokens != 0 {
		f.list(&c.IngestTokens, "ingest-tokens", "ADOPTSCOPE_INGEST_TOKENS", "comma-separated bearer tokens that may send events")
		f.list(&c.ReadTokens, "read-tokens", "ADOPTSCOPE_READ_TOKENS", "comma-separated bearer tokens that may read the query API")
		f.list(&c.AdminTokens, "admin-tokens", "ADOPTSCOPE_ADMIN_TOKENS", "comma-separated bearer tokens that may manage annotations and exports (and read)")
		f.str(&c.Users, "users", "ADOPTSCOPE_USERS", "", "dashboard accounts, comma-separated name:role:bcrypt-hash (role viewer or admin; hash from: htpasswd -nbB NAME PASSWORD); empty with no users file: no login (loopback only)")
		f.str(&c.UsersFile, "users-file", "ADOPTSCOPE_USERS_FILE", "", "file of dashboard accounts, one name:role:bcrypt-hash per line")
	}
	if sections&Ingest != 0 {
		c.bindIngest(f)
		c.bindSDK(f)
	}
	if sections&(Registries|Ingest|HTTP) != 0 {
		c.bindRegistries(f)
	}
	if sections&Demo != 0 {
		f.str(&c.Demo, "demo", "ADOPTSCOPE_DEMO", "auto", "demo data: auto (load when the store is empty), on (always load), off")
	}
}

// Validate checks every bound value and names the flag and variable to fix.
func (c *Config) Validate() error {
	var errs []error
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("--addr / ADOPTSCOPE_ADDR %q: want host:port, for example 127.0.0.1:8080", c.Addr))
		}
	}
	if c.ClickHouse.Addr != "" {
		// A comma-separated list is tried in order (a cluster's nodes).
		for _, a := range strings.Split(c.ClickHouse.Addr, ",") {
			if _, _, err := net.SplitHostPort(strings.TrimSpace(a)); err != nil {
				errs = append(errs, fmt.Errorf("--clickhouse-addr / ADOPTSCOPE_CLICKHOUSE_ADDR %q: want host:port, for example 127.0.0.1:9000, or a comma-separated list of them (nodes of a cluster, tried in order)", c.ClickHouse.Addr))
				break
			}
		}
	}
	if c.ClickHouse.Database != "" && !store.ValidIdent(c.ClickHouse.Database) {
		errs = append(errs, fmt.Errorf("--clickhouse-database / ADOPTSCOPE_CLICKHOUSE_DATABASE %q: use letters, digits and underscores", c.ClickHouse.Database))
	}
	if c.ClickHouse.Cluster != "" && !store.ValidIdent(c.ClickHouse.Cluster) {
		errs = append(errs, fmt.Errorf("--clickhouse-cluster / ADOPTSCOPE_CLICKHOUSE_CLUSTER %q: use letters, digits and underscores", c.ClickHouse.Cluster))
	}
	if !store.ValidCompression(c.ClickHouse.Compression) {
		errs = append(errs, fmt.Errorf("--clickhouse-compression / ADOPTSCOPE_CLICKHOUSE_COMPRESSION %q: want auto, lz4 or none", c.ClickHouse.Compression))
	}
	if !store.ValidProtocol(c.ClickHouse.Protocol) {
		errs = append(errs, fmt.Errorf("--clickhouse-protocol / ADOPTSCOPE_CLICKHOUSE_PROTOCOL %q: want native or http", c.ClickHouse.Protocol))
	}
	if c.ClickHouse.HTTPProxy != "" {
		if _, err := store.ParseHTTPProxy(c.ClickHouse.HTTPProxy); err != nil {
			errs = append(errs, fmt.Errorf("--clickhouse-http-proxy / ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY %q: want a URL such as http://proxy.example:3128", c.ClickHouse.HTTPProxy))
		} else if c.ClickHouse.Protocol != store.ProtocolHTTP {
			errs = append(errs, errors.New("--clickhouse-http-proxy / ADOPTSCOPE_CLICKHOUSE_HTTP_PROXY needs --clickhouse-protocol / ADOPTSCOPE_CLICKHOUSE_PROTOCOL=http"))
		}
	}
	if c.ManagedHTTPPort < 0 || c.ManagedHTTPPort > 65535 {
		errs = append(errs, fmt.Errorf("--clickhouse-http-port / ADOPTSCOPE_CLICKHOUSE_HTTP_PORT %d: want a port from 1 to 65535, or 0 for none", c.ManagedHTTPPort))
	}
	// Zero (a command that does not bind the ClickHouse flags) is the
	// store's default budget.
	if c.ClickHouse.Read.MaxRows < 0 || c.ClickHouse.Read.MaxRows > 100_000_000 {
		errs = append(errs, fmt.Errorf("--query-max-rows / ADOPTSCOPE_QUERY_MAX_ROWS %d: want 1-100000000", c.ClickHouse.Read.MaxRows))
	}
	if c.QueryMaxMemoryMiB != 0 && (c.QueryMaxMemoryMiB < 64 || c.QueryMaxMemoryMiB > 1<<20) {
		errs = append(errs, fmt.Errorf("--query-max-memory-mib / ADOPTSCOPE_QUERY_MAX_MEMORY_MIB %d: want 64-1048576", c.QueryMaxMemoryMiB))
	}
	c.ClickHouse.Read.MaxMemory = int64(c.QueryMaxMemoryMiB) << 20
	if c.ClickHouse.MaxOpenConns < 0 {
		errs = append(errs, errors.New("--clickhouse-max-conns / ADOPTSCOPE_CLICKHOUSE_MAX_CONNS must be positive"))
	}
	if c.Ingest.bound {
		errs = append(errs, c.validateIngest()...)
		errs = append(errs, c.validateSDK()...)
	}
	if c.HTTP.bound {
		errs = append(errs, c.validateHTTP()...)
	}
	if c.Exports.bound {
		errs = append(errs, c.validateExports()...)
	}
	if c.Alerts.bound {
		errs = append(errs, c.validateAlerts()...)
	}
	if c.Ingest.registriesBound {
		errs = append(errs, c.validateRegistries()...)
	}
	if c.Timezone != "" {
		if _, err := time.LoadLocation(c.Timezone); err != nil || strings.EqualFold(c.Timezone, "local") {
			errs = append(errs, fmt.Errorf("--timezone / ADOPTSCOPE_TIMEZONE %q: want an IANA time zone such as Europe/Paris, or UTC", c.Timezone))
		}
	}
	switch c.Demo {
	case "", "auto", "on", "off":
	default:
		errs = append(errs, fmt.Errorf("--demo / ADOPTSCOPE_DEMO %q: want auto, on or off", c.Demo))
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level / ADOPTSCOPE_LOG_LEVEL %q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		errs = append(errs, fmt.Errorf("--log-format / ADOPTSCOPE_LOG_FORMAT %q: want text or json", c.LogFormat))
	}
	return errors.Join(errs...)
}

// ClickHouseDir is where the managed server keeps its files.
func (c *Config) ClickHouseDir() string { return filepath.Join(c.DataDir, "clickhouse") }

// ClickHousePasswordFile holds the managed server's password (0600).
func (c *Config) ClickHousePasswordFile() string {
	return filepath.Join(c.DataDir, "clickhouse-password")
}

type binder struct{ fs *flag.FlagSet }

func usage(help, env string) string { return help + " [$" + env + "]" }

func (b binder) str(p *string, name, env, def, help string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	b.fs.StringVar(p, name, def, usage(help, env))
}

func (b binder) boolean(p *bool, name, env string, def bool, help string) {
	if v, ok := os.LookupEnv(env); ok {
		if parsed, err := strconv.ParseBool(v); err == nil {
			def = parsed
		} else {
			// Surface the mistake at parse time rather than ignore it.
			b.fs.Var(badEnv{env, v, "true or false", func(s string) (err error) { *p, err = strconv.ParseBool(s); return }}, name, usage(help, env))
			return
		}
	}
	b.fs.BoolVar(p, name, def, usage(help, env))
}

func (b binder) integer(p *int, name, env string, def int, help string) {
	if v, ok := os.LookupEnv(env); ok {
		parsed, err := strconv.Atoi(v)
		if err != nil {
			b.fs.Var(badEnv{env, v, "a whole number", func(s string) (err error) { *p, err = strconv.Atoi(s); return }}, name, usage(help, env))
			return
		}
		def = parsed
	}
	b.fs.IntVar(p, name, def, usage(help, env))
}

func (b binder) dur(p *time.Duration, name, env string, def time.Duration, help string) {
	if v, ok := os.LookupEnv(env); ok {
		parsed, err := time.ParseDuration(v)
		if err != nil {
			b.fs.Var(badEnv{env, v, "a duration such as 30s or 2m", func(s string) (err error) { *p, err = time.ParseDuration(s); return }}, name, usage(help, env))
			return
		}
		def = parsed
	}
	b.fs.DurationVar(p, name, def, usage(help, env))
}

func (b binder) list(p *[]string, name, env, help string) {
	*p = SplitList(os.Getenv(env))
	b.fs.Func(name, usage(help, env), func(s string) error { *p = SplitList(s); return nil })
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// badEnv makes flag parsing fail with a message that names the variable.
// A value given on the command line still overrides it.
type badEnv struct {
	env, value, want string
	set              func(string) error
}

func (b badEnv) String() string     { return "" }
func (b badEnv) Set(v string) error { return b.set(v) }

// CheckEnv reports environment values that did not parse. Call it after
// fs.Parse.
func CheckEnv(fs *flag.FlagSet) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if be, ok := f.Value.(badEnv); ok {
			set := false
			fs.Visit(func(g *flag.Flag) {
				if g.Name == f.Name {
					set = true
				}
			})
			if !set {
				errs = append(errs, fmt.Errorf("$%s=%q: want %s", be.env, be.value, be.want))
			}
		}
	})
	return errors.Join(errs...)
}

// Zones are the time zones with rollups of their own besides UTC
// (rollup.Config.Zones): ADOPTSCOPE_TIME_ZONES, or when it is empty the
// dashboard's zone. Nil when neither is bound (a process that does not
// serve the dashboard leaves the registered zones as they are).
func (c *Config) Zones() []string {
	list := c.Ingest.TimeZones
	if strings.TrimSpace(list) == "" {
		if c.Timezone == "" {
			return nil
		}
		list = c.Timezone
	}
	out := []string{}
	for _, z := range strings.Split(list, ",") {
		if z = strings.TrimSpace(z); z != "" && z != "UTC" && !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out
}
