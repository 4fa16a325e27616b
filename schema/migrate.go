// Package schema holds the ClickHouse schema as versioned migrations embedded
// in the binary, and applies them.
//
// A migration is a file migrations/NNNN_name.sql: a text/template rendered
// for the target (single server or cluster, server version) and split into
// statements on lines that read exactly "-- statement-break", because
// ClickHouse runs one statement per call and ";" may occur inside strings.
// Every statement must be idempotent (IF NOT EXISTS), so that two processes
// starting at once can both apply a migration without harm.
package schema

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

const statementBreak = "-- statement-break"

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	source  string
}

// Migrations lists the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_description.sql", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, name, v)
		}
		seen[v] = name
		b, err := migrationFiles.ReadFile(path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: rest, source: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// Target describes where migrations are rendered for.
type Target struct {
	Database string
	Cluster  string
	Features store.Features
}

// Statements renders m for t and splits it into statements.
func (m Migration) Statements(t Target) ([]string, error) {
	tmpl, err := template.New(m.Name).Funcs(templateFuncs(t)).Option("missingkey=error").Parse(m.source)
	if err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, t); err != nil {
		return nil, fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
	}
	var stmts []string
	for _, part := range strings.Split(buf.String(), statementBreak) {
		if s := strings.TrimSpace(stripComments(part)); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts, nil
}

// Checksum identifies a migration's source, recorded with it.
func (m Migration) Checksum() string {
	sum := sha256.Sum256([]byte(m.source))
	return hex.EncodeToString(sum[:8])
}

func stripComments(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// OnCluster is the clause DDL carries on a cluster.
func (t Target) OnCluster() string {
	if t.Cluster == "" {
		return ""
	}
	return "ON CLUSTER " + t.Cluster
}

// qualified is table with the database on a cluster (see "local").
func (t Target) qualified(table string) string {
	if t.Cluster == "" {
		return table
	}
	return t.Database + "." + table
}

// migrationsEngine is the engine of schema_migrations. On a cluster the
// table is not sharded: one ZooKeeper path for the whole cluster (no
// {shard}) and a replica name unique per node ({shard}_{replica}, unique even
// where replica names repeat across shards), so every node replicates the
// record of every migration and any node can answer "which version is this
// schema at".
func (t Target) migrationsEngine() string {
	if t.Cluster == "" {
		return "ReplacingMergeTree(applied_at)"
	}
	return fmt.Sprintf("ReplicatedReplacingMergeTree('/clickhouse/tables/all/%s/schema_migrations', '{shard}_{replica}', applied_at)", t.Database)
}

func templateFuncs(t Target) template.FuncMap {
	return template.FuncMap{
		// engine renders a MergeTree-family engine; on a cluster its
		// Replicated variant, with a ZooKeeper path per shard and table.
		"engine": func(family, table string, args ...string) string {
			if t.Cluster == "" {
				return family + "(" + strings.Join(args, ", ") + ")"
			}
			zk := fmt.Sprintf("'/clickhouse/tables/{shard}/%s/%s'", t.Database, table)
			all := append([]string{zk, "'{replica}'"}, args...)
			return "Replicated" + family + "(" + strings.Join(all, ", ") + ")"
		},
		// local names the table that holds rows on each node: the table
		// itself on a single server, t_local under a Distributed t on a
		// cluster.
		//
		// On a cluster every name is qualified with the database: 18.16
		// runs ON CLUSTER DDL on the other nodes in their default
		// database, not the initiator's.
		"local": func(table string) string {
			if t.Cluster == "" {
				return table
			}
			return t.Database + "." + table + "_local"
		},
		// name is a table or view that is not split into local and
		// distributed parts (a materialized view, a dictionary-like table):
		// the name itself on a single server, qualified with the database
		// on a cluster (see local).
		"name": func(table string) string {
			if t.Cluster == "" {
				return table
			}
			return t.Database + "." + table
		},
		// distributed is the statement that creates the Distributed table
		// over local(table) on a cluster, and nothing on a single server
		// (an empty statement is skipped).
		"distributed": func(table, shardingKey string) string {
			if t.Cluster == "" {
				return ""
			}
			return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %[1]s.%[2]s ON CLUSTER %[3]s AS %[1]s.%[2]s_local ENGINE = Distributed(%[3]s, %[1]s, %[2]s_local, %[4]s)",
				t.Database, table, t.Cluster, shardingKey)
		},
		// codec adds a compression codec where the server has them.
		"codec": func(spec string) string {
			if !t.Features.Codecs {
				return ""
			}
			return "CODEC(" + spec + ")"
		},
	}
}

// Applied returns the versions recorded in schema_migrations.
func Applied(ctx context.Context, s *store.Store) (map[int]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[int(v)] = true
	}
	return out, rows.Err()
}

// CurrentVersion is the newest applied migration, 0 when none.
func CurrentVersion(ctx context.Context, s *store.Store) (int, error) {
	applied, err := Applied(ctx, s)
	if err != nil {
		return 0, err
	}
	v := 0
	for k := range applied {
		if k > v {
			v = k
		}
	}
	return v, nil
}

// Migrate applies every migration not yet recorded and returns the schema
// version reached.
func Migrate(ctx context.Context, s *store.Store, log *slog.Logger) (int, error) {
	if log == nil {
		log = slog.Default()
	}
	t := Target{Database: s.Database, Cluster: s.Cluster, Features: s.Features()}
	ms, err := Migrations()
	if err != nil {
		return 0, err
	}
	// 18.16 creates LowCardinality columns only with this setting; newer
	// servers have it on by default.
	ddlCtx := ctx
	if !t.Features.LowCardinalityGA {
		ddlCtx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
	}
	// On a cluster the CREATE runs ON CLUSTER and waits for every node:
	// skip it when the table is there, so that an instance starts (and
	// finds nothing to migrate) while a node is down.
	if !exists(ctx, s, "schema_migrations") {
		if err := createMigrationsTable(ddlCtx, s, t); err != nil {
			return 0, err
		}
	}
	applied, err := Applied(ctx, s)
	if err != nil {
		return 0, fmt.Errorf("read schema_migrations: %w", err)
	}
	version := 0
	for _, m := range ms {
		if !applied[m.Version] {
			stmts, err := m.Statements(t)
			if err != nil {
				return version, err
			}
			start := time.Now()
			if slices.ContainsFunc(stmts, isFill) {
				log.Info("applying migration: it copies stored rows into new tables, which takes a while on a large database", "version", m.Version, "name", m.Name)
			}
			for i, q := range stmts {
				q, err := distributedColumns(ctx, s, q)
				if err != nil {
					return version, fmt.Errorf("migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
				}
				if err := exec(ddlCtx, s, q); err != nil {
					return version, fmt.Errorf("migration %04d_%s, statement %d: %w", m.Version, m.Name, i+1, err)
				}
			}
			if err := record(ctx, s, m); err != nil {
				return version, err
			}
			log.Info("applied migration", "version", m.Version, "name", m.Name, "took", time.Since(start).Round(time.Millisecond))
		}
		version = m.Version
	}
	return version, nil
}

// fillTimeout bounds a migration's INSERT … SELECT, which copies what is
// stored into a new table (0220 fills person-weeks and person-months from
// the person-days: about a minute at 100 M events on two cores). Such a
// fill must be safe to run again: an instance stopped in the middle applies
// the migration again at its next start.
const fillTimeout = time.Hour

func exec(ctx context.Context, s *store.Store, q string) error {
	// DDL on a cluster waits for every node; give it longer.
	d := 30 * time.Second
	if s.Cluster != "" {
		d = 2 * time.Minute
	}
	if isFill(q) {
		d = fillTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return s.Conn.Exec(ctx, q)
}

// isFill reports whether q copies rows (INSERT), after its comments.
func isFill(q string) bool {
	for _, line := range strings.Split(q, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		return strings.HasPrefix(strings.ToUpper(line), "INSERT")
	}
	return false
}

func record(ctx context.Context, s *store.Store, m Migration) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := s.Conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, checksum, applied_at)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, m.Checksum(), time.Now().UTC()); err != nil {
		return err
	}
	return b.Send()
}

var distributedRe = regexp.MustCompile(`^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+) (ON CLUSTER \w+) AS (\w+)\.(\w+) (ENGINE = Distributed\(.*\))$`)

// distributedColumns rewrites the statement of the "distributed" helper
// when the local table has MATERIALIZED columns: 18.16 sends a
// Distributed table's materialized columns along with every insert, and the
// shards refuse them ("Cannot insert column event_date, because it is
// MATERIALIZED column"). The Distributed table gets the local table's
// columns with each MATERIALIZED one turned into an ALIAS of the same
// expression: inserts leave it out and the shard computes it, reads get the
// same value. Other statements are returned unchanged.
func distributedColumns(ctx context.Context, s *store.Store, q string) (string, error) {
	m := distributedRe.FindStringSubmatch(q)
	if m == nil || s.Cluster == "" {
		return q, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rows, err := s.Conn.Query(ctx, `SELECT name, type, default_kind, default_expression FROM system.columns
		WHERE database = ? AND table = ?`, m[4], m[5]) // in table order (18.16 has no position column)
	if err != nil {
		return "", fmt.Errorf("read the columns of %s.%s: %w", m[4], m[5], err)
	}
	defer rows.Close()
	var cols []string
	materialized := false
	for rows.Next() {
		var name, typ, kind, expr string
		if err := rows.Scan(&name, &typ, &kind, &expr); err != nil {
			return "", err
		}
		col := "`" + name + "` " + typ
		switch kind {
		case "MATERIALIZED":
			materialized = true
			col += " ALIAS " + expr
		case "DEFAULT", "ALIAS":
			col += " " + kind + " " + expr
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !materialized {
		return q, nil
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s %s (%s) %s", m[1], m[2], m[3], strings.Join(cols, ", "), m[6]), nil
}

func createMigrationsTable(ctx context.Context, s *store.Store, t Target) error {
	if err := exec(ctx, s, `CREATE TABLE IF NOT EXISTS `+t.qualified("schema_migrations")+` `+t.OnCluster()+` (
		version UInt32, name String, checksum String, applied_at DateTime('UTC')
	) ENGINE = `+t.migrationsEngine()+` ORDER BY version`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	return nil
}

// exists reports whether table is in the store's database on the connected
// node; on an error it answers false (the caller then creates it).
func exists(ctx context.Context, s *store.Store, table string) bool {
	if s.Cluster == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = ? AND name = ?", s.Database, table).Scan(&n); err != nil {
		return false
	}
	return n > 0
}
