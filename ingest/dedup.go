package ingest

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
)

// lookup returns which of ids are already stored within the dedup window.
// The ids travel as an external table (one column block, not a query
// text). The query reads the id_hash column of ingest_event_ids for the
// window's daily partitions (8 bytes per stored id: the cost of the
// window), and event_id only where a hash matched.
func (p *Pipeline) lookup(ctx context.Context, ids []string) (map[string]struct{}, error) {
	found := map[string]struct{}{}
	if len(ids) == 0 {
		return found, nil
	}
	t, err := ext.NewTable("batch_ids", ext.Column("id", column.Type("String")))
	if err != nil {
		return nil, err
	}
	if _, err := t.Block().Columns[0].Append(ids); err != nil {
		return nil, err
	}
	since := strconv.FormatInt(p.cfg.Now().Add(-p.cfg.DedupWindow).UTC().Unix(), 10)
	window := "seen_at >= toDateTime(" + since + ")"
	var q string
	switch {
	case p.store.Cluster != "" && p.hashLookup:
		// Each shard moves the hash condition to PREWHERE itself.
		q = "SELECT event_id FROM ingest_event_ids WHERE id_hash GLOBAL IN (SELECT sipHash64(id) FROM batch_ids) AND " +
			window + " AND event_id GLOBAL IN (SELECT id FROM batch_ids)"
	case p.hashLookup:
		q = "SELECT event_id FROM ingest_event_ids PREWHERE id_hash IN (SELECT sipHash64(id) FROM batch_ids) WHERE " +
			window + " AND event_id IN (SELECT id FROM batch_ids)"
	default:
		// A table created before id_hash existed (development data folders).
		in := "IN"
		if p.store.Cluster != "" {
			in = "GLOBAL IN"
		}
		q = "SELECT event_id FROM ingest_event_ids WHERE " + window + " AND event_id " + in + " (SELECT id FROM batch_ids)"
	}
	qctx := clickhouse.Context(ctx, clickhouse.WithExternalTable(t))
	rows, err := p.store.Conn.Query(qctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		found[id] = struct{}{}
	}
	return found, rows.Err()
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
	for _, table := range []string{"ingest_event_ids", "ingest_idempotency"} {
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

// Idempotent is a stored answer to a request with an Idempotency-Key.
type Idempotent struct {
	Status int
	Body   []byte
}

// LookupIdempotent returns the first answer stored for (scope, key) within
// the dedup window.
func (p *Pipeline) LookupIdempotent(ctx context.Context, scope, key string) (*Idempotent, error) {
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
