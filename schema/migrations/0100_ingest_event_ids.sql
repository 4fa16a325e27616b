-- Ingest deduplication: every stored event_id with the time it was received.
-- Fed by a materialized view on events, so the ids are written by the very
-- insert that stores the events (no second write that could fail alone), and
-- every instance of ingest sees them. Daily partitions: ingest drops those
-- older than the dedup window (18.16 has no TTL).
-- id_hash (sipHash64 of event_id) is the sorting key and is read first
-- (PREWHERE): a lookup of a batch's ids reads 8 bytes per stored id, and
-- reads event_id only in the granules where a hash matched, which with
-- nothing repeated is none.
CREATE TABLE IF NOT EXISTS {{local "ingest_event_ids"}} {{.OnCluster}} (
    id_hash  UInt64,
    event_id String,
    seen_at  DateTime('UTC')
) ENGINE = {{engine "MergeTree" "ingest_event_ids"}}
PARTITION BY toYYYYMMDD(seen_at)
ORDER BY id_hash
SETTINGS index_granularity = 8192
-- statement-break
{{distributed "ingest_event_ids" "id_hash"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "ingest_event_ids_mv"}} {{.OnCluster}}
TO {{local "ingest_event_ids"}}
AS SELECT sipHash64(event_id) AS id_hash, event_id, received_at AS seen_at FROM {{local "events"}}
