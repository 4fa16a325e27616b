-- One copy of each id on a single server, a log kept for minutes, and a
-- cheap "who wrote since" check (ingest/README.md, "Exactly once at
-- scale"). Single server only: a cluster keeps ingest_event_ids (0100).
--
-- Before: every insert into events wrote each id three times:
-- ingest_event_ids (8,192-row granules), ingest_dedup_ids (the same rows,
-- 256-row granules) and ingest_dedup_log (hourly partitions kept 2 h).
-- After: ingest_dedup_ids alone holds the window (every lookup goes there);
-- ingest_event_ids is no longer written, its ids are still looked up while
-- they are in the window (0110's ingest_dedup_since already says which:
-- everything since 0110 is in ingest_dedup_ids too) and its partitions are
-- dropped as they leave it. The log becomes ingest_dedup_recent, in
-- 10-second partitions that ingest drops once they are 3 minutes old.
{{if not .Cluster}}
CREATE TABLE IF NOT EXISTS ingest_dedup_recent (
    committed_at DateTime('UTC'),
    id_hash      UInt64,
    seen_at      DateTime('UTC')
) ENGINE = MergeTree
PARTITION BY intDiv(toUInt32(committed_at), 10)
ORDER BY committed_at
-- statement-break
-- One row per block written to the log: its size and two sums that an
-- instance also computes over the events it inserts. An instance reads
-- these rows (a few per second) before a lookup; when each is one of its
-- own inserts, nobody else wrote and the log itself is not read.
CREATE TABLE IF NOT EXISTS ingest_dedup_marks (
    committed_at DateTime('UTC'),
    rows         UInt64,
    hash_sum     UInt64,
    seen_sum     UInt64
) ENGINE = MergeTree
PARTITION BY intDiv(toUInt32(committed_at), 10)
ORDER BY committed_at
-- statement-break
-- On events, beside the log's view (18.16 does not run the views of a
-- view's target table). Its now() may differ from the log view's by the
-- time between the two views on a block: readers read marks from 10 s
-- before their watermark. A direct insert into ingest_dedup_recent (the
-- benchmark's window fill) inserts its mark itself.
CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_dedup_marks_mv TO ingest_dedup_marks
AS SELECT now() AS committed_at, count() AS rows, sum(sipHash64(event_id)) AS hash_sum,
          sum(toUInt64(toUInt32(received_at))) AS seen_sum
FROM events
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_dedup_recent_mv TO ingest_dedup_recent
AS SELECT now() AS committed_at, sipHash64(event_id) AS id_hash, received_at AS seen_at FROM events
-- statement-break
DROP TABLE IF EXISTS ingest_dedup_log_mv
-- statement-break
DROP TABLE IF EXISTS ingest_event_ids_mv
-- statement-break
DROP TABLE IF EXISTS ingest_dedup_log
-- statement-break
-- An instance of the previous version reads ingest_dedup_log: it keeps
-- learning what the others commit, through this view, until it is
-- replaced (a few seconds of commits around the migration can escape it;
-- upgrade every instance of one database together).
CREATE VIEW IF NOT EXISTS ingest_dedup_log AS SELECT committed_at, id_hash, seen_at FROM ingest_dedup_recent
{{end}}
