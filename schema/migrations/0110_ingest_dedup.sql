-- Deduplication whose cost per batch does not grow with the window
-- (ingest/README.md, "Exactly once at scale"). Single server only: on a
-- cluster ingest keeps looking ids up in ingest_event_ids (0100).
--
-- Each ingest instance holds a filter of the window's id hashes in memory
-- and asks ClickHouse only about the few ids the filter cannot call new.
-- Those lookups go to ingest_dedup_ids: the same rows as ingest_event_ids
-- but with granules of 256 rows, so one id reads 256 hashes per part
-- instead of 8192. ingest_dedup_log lists the hashes in the order they were
-- committed, stamped with the server's clock: each instance reads what was
-- committed since its last read before every lookup, and so learns the ids
-- other instances stored after it built its filter.
{{if not .Cluster}}
CREATE TABLE IF NOT EXISTS ingest_dedup_ids (
    id_hash  UInt64,
    event_id String,
    seen_at  DateTime('UTC')
) ENGINE = MergeTree
PARTITION BY toYYYYMMDD(seen_at)
ORDER BY id_hash
SETTINGS index_granularity = 256
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_dedup_ids_mv TO ingest_dedup_ids
AS SELECT sipHash64(event_id) AS id_hash, event_id, received_at AS seen_at FROM events
-- statement-break
-- Hourly partitions, dropped by ingest's janitor after two hours.
CREATE TABLE IF NOT EXISTS ingest_dedup_log (
    committed_at DateTime('UTC'),
    id_hash      UInt64,
    seen_at      DateTime('UTC')
) ENGINE = MergeTree
PARTITION BY intDiv(toUInt32(committed_at), 3600)
ORDER BY committed_at
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_dedup_log_mv TO ingest_dedup_log
AS SELECT now() AS committed_at, sipHash64(event_id) AS id_hash, received_at AS seen_at FROM events
-- statement-break
-- Written once, after both views exist: when ingest_event_ids already held
-- ids, those received before `until` may be stored there only, and ingest
-- also looks there until they are out of the window. A fresh database
-- records legacy_rows = 0.
CREATE TABLE IF NOT EXISTS ingest_dedup_since ENGINE = TinyLog AS
SELECT now() + 600 AS until,
       -- ifNull: from 24.x a scalar subquery is Nullable (26.9 would
       -- create legacy_rows Nullable(UInt64)); 18.16 gives UInt64.
       ifNull((SELECT toUInt64(count()) FROM system.parts WHERE database = currentDatabase() AND table = 'ingest_event_ids' AND active AND rows > 0), toUInt64(0)) AS legacy_rows
{{end}}
