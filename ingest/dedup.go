package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// lookup returns which of ids are already stored within the dedup window.
//
// On a single server the window's ids are in ingest_dedup_ids (migration
// 0120: ingest_event_ids is no longer written there). With the filter
// (ready): only the ids it cannot call new are looked up, and the primary
// key prunes the read to one 256-row granule per part and id. Before it is
// ready (start-up, a rebuild), or with the filter turned off: every id,
// which reads the window's hashes (8 bytes per stored id). Ids stored
// before migration 0110 are also looked up in ingest_event_ids while they
// are in the window. On a cluster: ingest_event_ids, every id.
func (p *Pipeline) lookup(ctx context.Context, ids []string) (map[string]struct{}, error) {
	found := map[string]struct{}{}
	if len(ids) == 0 {
		return found, nil
	}
	if p.store.Cluster != "" {
		return found, p.lookupIn(ctx, "ingest_event_ids", ids, time.Time{}, found)
	}
	ask := ids
	if p.filter != nil {
		var err error
		ask, _, err = p.filter.maybe(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("dedup filter: %w", err)
		}
		if len(ask) == 0 {
			return found, nil
		}
	}
	if err := p.lookupIn(ctx, "ingest_dedup_ids", ask, time.Time{}, found); err != nil {
		return nil, err
	}
	since := p.cfg.Now().Add(-p.cfg.DedupWindow)
	if l := p.legacy; l.active(since) && len(found) < len(ask) {
		rest := make([]string, 0, len(ask)-len(found))
		for _, id := range ask {
			if _, ok := found[id]; !ok {
				rest = append(rest, id)
			}
		}
		if err := p.lookupIn(ctx, "ingest_event_ids", rest, l.until, found); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// lookupIn adds to found the ids stored in table within the window (and,
// when until is set, received before it). The ids travel as an external
// table (one column block, not a query text). The hashes are read first
// (PREWHERE): event_id is read only in the granules where a hash matched.
func (p *Pipeline) lookupIn(ctx context.Context, table string, ids []string, until time.Time, found map[string]struct{}) error {
	t, err := ext.NewTable("batch_ids", ext.Column("id", column.Type("String")))
	if err != nil {
		return err
	}
	if _, err := t.Block().Columns[0].Append(ids); err != nil {
		return err
	}
	since := strconv.FormatInt(p.cfg.Now().Add(-p.cfg.DedupWindow).UTC().Unix(), 10)
	window := "seen_at >= toDateTime(" + since + ")"
	if !until.IsZero() {
		window += " AND seen_at <= toDateTime(" + strconv.FormatInt(until.UTC().Unix(), 10) + ")"
	}
	// table is one of two constants; since and until are integers.
	var q string
	switch {
	case p.store.Cluster != "" && p.hashLookup:
		// Each shard moves the hash condition to PREWHERE itself.
		q = "SELECT event_id FROM " + table + " WHERE id_hash GLOBAL IN (SELECT sipHash64(id) FROM batch_ids) AND " +
			window + " AND event_id GLOBAL IN (SELECT id FROM batch_ids)"
	case p.hashLookup || table != "ingest_event_ids":
		q = "SELECT event_id FROM " + table + " PREWHERE id_hash IN (SELECT sipHash64(id) FROM batch_ids) WHERE " +
			window + " AND event_id IN (SELECT id FROM batch_ids)"
	default:
		// A table created before id_hash existed (development data folders).
		in := "IN"
		if p.store.Cluster != "" {
			in = "GLOBAL IN"
		}
		q = "SELECT event_id FROM " + table + " WHERE " + window + " AND event_id " + in + " (SELECT id FROM batch_ids)"
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithExternalTable(t))
	rows, err := p.store.Conn.Query(qctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		found[id] = struct{}{}
	}
	return rows.Err()
}

// hasHashColumn reports whether ingest_event_ids has id_hash (every table
// created by the current migration does).
func (p *Pipeline) hasHashColumn() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	local := "ingest_event_ids"
	if p.store.Cluster != "" {
		local += "_local"
	}
	var n uint64
	if err := p.store.Conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = 'id_hash'", p.store.Database, local).Scan(&n); err != nil {
		p.log.Warn("ingest: cannot read system.columns; deduplicating by event_id alone", "error", err)
		return false
	}
	return n > 0
}

// janitor drops the daily partitions of the dedup and idempotency tables
// that fell out of the window. 18.16 has no TTL; a partition drop is a
// cheap metadata operation on every version.
func (p *Pipeline) janitor() {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		p.dropOld()
		select {
		case <-p.stopJan:
			return
		case <-tick.C:
		}
	}
}

func (p *Pipeline) dropOld() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Keep one extra day: a partition holds a whole UTC day.
	cutoff := p.cfg.Now().Add(-p.cfg.DedupWindow - 24*time.Hour).UTC().Format("20060102")
	cutN, _ := strconv.Atoi(cutoff)
	tables := []string{"ingest_event_ids", "ingest_idempotency"}
	if p.store.Cluster == "" {
		tables = append(tables, "ingest_dedup_ids")
	}
	for _, table := range tables {
		local, target := table, table
		onCluster := ""
		parts := "system.parts"
		if p.store.Cluster != "" {
			// On a cluster: the partitions of every shard (one replica
			// each), dropped ON CLUSTER from the local tables, named with
			// their database (18.16 runs ON CLUSTER DDL in the other
			// nodes' default database). Cluster and database names are
			// validated identifiers.
			local = table + "_local"
			target = p.store.Database + "." + local
			onCluster = " ON CLUSTER " + p.store.Cluster
			parts = "cluster('" + p.store.Cluster + "', system, parts)"
		}
		rows, err := p.store.Conn.Query(ctx, "SELECT DISTINCT partition FROM "+parts+" WHERE database = ? AND table = ? AND active", p.store.Database, local)
		if err != nil {
			p.log.Warn("ingest janitor: list partitions", "table", local, "error", err)
			return
		}
		var old []int
		for rows.Next() {
			var part string
			if err := rows.Scan(&part); err != nil {
				break
			}
			if n, err := strconv.Atoi(part); err == nil && n < cutN {
				old = append(old, n)
			}
		}
		rows.Close()
		for _, n := range old {
			// n is an integer read back from system.parts: safe in the text.
			q := fmt.Sprintf("ALTER TABLE %s%s DROP PARTITION %d", target, onCluster, n)
			if err := p.store.Conn.Exec(ctx, q); err != nil {
				p.log.Warn("ingest janitor: drop partition", "table", local, "partition", n, "error", err)
			} else {
				p.log.Info("ingest janitor: dropped partition out of the dedup window", "table", local, "partition", n)
			}
		}
	}
}

// readLegacy reads when the filter's tables began (migration 0110): ids
// received before then may be in ingest_event_ids alone.
func (p *Pipeline) readLegacy() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var until time.Time
	var rows uint64
	err := p.store.Conn.QueryRow(ctx, "SELECT max(until), max(legacy_rows) FROM ingest_dedup_since").Scan(&until, &rows)
	if err != nil {
		// Unknown: assume ids of the whole window may be there.
		p.log.Warn("ingest: cannot read ingest_dedup_since; also looking ids up in ingest_event_ids", "error", err)
		p.legacy.until = p.cfg.Now().Add(time.Hour)
		return
	}
	if rows > 0 {
		p.legacy.until = until.UTC()
	}
}

// logJanitor drops the log of committed ids (ingest_dedup_recent and its
// marks) as it ages, every dedupLogJanitorEvery (single server).
func (p *Pipeline) logJanitor() {
	tick := time.NewTicker(dedupLogJanitorEvery)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := DropExpiredDedupLog(ctx, p.store); err != nil {
			p.log.Warn("ingest janitor: the log of committed ids", "error", err)
		}
		cancel()
		select {
		case <-p.stopJan:
			return
		case <-tick.C:
		}
	}
}

// DropExpiredDedupLog drops the partitions of ingest_dedup_recent and
// ingest_dedup_marks whose rows are all older than dedupLogKept, by the
// server's clock (their committed_at is the server's now()). Every ingest
// instance of a single server runs it; `bench query`, which writes events
// without one, calls it before it reports sizes.
func DropExpiredDedupLog(ctx context.Context, s *store.Store) error {
	if s.Cluster != "" {
		return nil
	}
	var now uint32
	if err := s.Conn.QueryRow(ctx, "SELECT toUInt32(now())").Scan(&now); err != nil {
		return fmt.Errorf("read the server clock: %w", err)
	}
	rows, err := s.Conn.Query(ctx, "SELECT DISTINCT table, partition FROM system.parts WHERE database = ? AND table IN ('ingest_dedup_recent', 'ingest_dedup_marks') AND active", s.Database)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	type part struct {
		table string
		n     int64
	}
	var old []part
	for rows.Next() {
		var table, p string
		if err := rows.Scan(&table, &p); err != nil {
			break
		}
		// Partition n holds [n*10, n*10+10).
		if n, err := strconv.ParseInt(p, 10, 64); err == nil && (n+1)*dedupLogPartition <= int64(now)-int64(dedupLogKept/time.Second) {
			old = append(old, part{table, n})
		}
	}
	rows.Close()
	for _, o := range old {
		// The table is one of two constants, n an integer read back from
		// system.parts. Another instance may drop it first: no error.
		if err := s.Conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION %d", o.table, o.n)); err != nil {
			return fmt.Errorf("drop partition %d of %s: %w", o.n, o.table, err)
		}
	}
	return nil
}

// Idempotent is a stored answer to a request with an Idempotency-Key.
type Idempotent struct {
	Status int
	Body   []byte
}

// LookupIdempotent returns the first answer stored for (scope, key) within
// the dedup window. A failed lookup is an Error of kind Unavailable: the
// request cannot be answered without it.
func (p *Pipeline) LookupIdempotent(ctx context.Context, scope, key string) (*Idempotent, error) {
	ans, err := p.lookupIdempotent(ctx, scope, key)
	if err != nil {
		return nil, &Error{Kind: Unavailable, Msg: "the Idempotency-Key lookup failed", Err: err}
	}
	return ans, nil
}

func (p *Pipeline) lookupIdempotent(ctx context.Context, scope, key string) (*Idempotent, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	since := p.cfg.Now().Add(-p.cfg.DedupWindow).UTC().Unix()
	rows, err := p.store.Conn.Query(ctx, "SELECT status, response FROM ingest_idempotency WHERE scope = ? AND key = ? AND created_at >= toDateTime(?) ORDER BY created_at LIMIT 1", scope, key, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	var status uint16
	var body string
	if err := rows.Scan(&status, &body); err != nil {
		return nil, err
	}
	return &Idempotent{Status: int(status), Body: []byte(body)}, nil
}

// StoreIdempotent records the answer to (scope, key).
func (p *Pipeline) StoreIdempotent(ctx context.Context, scope, key string, ans Idempotent) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	b, err := p.store.Conn.PrepareBatch(p.settings(ctx), "INSERT INTO ingest_idempotency (scope, key, created_at, status, response)")
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Append(scope, key, p.cfg.Now().UTC(), uint16(ans.Status), string(ans.Body)); err != nil {
		return err
	}
	return b.Send()
}
