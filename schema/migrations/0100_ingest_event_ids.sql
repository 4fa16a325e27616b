-- Ingest deduplication: every stored event_id with the time it was received.
-- Fed by a materialized view on events, so the ids are written by the very
-- insert that stores the events (no second write that could fail alone), and
-- every instance of ingest sees them. Daily partitions: ingest drops those
-- older than the dedup window (18.16 has no TTL). ORDER BY event_id makes a
-- lookup of a batch's ids a merge over sorted granules.
CREATE TABLE IF NOT EXISTS {{local "ingest_event_ids"}} {{.OnCluster}} (
    event_id String,
    seen_at  DateTime('UTC')
) ENGINE = {{engine "MergeTree" "ingest_event_ids"}}
PARTITION BY toYYYYMMDD(seen_at)
ORDER BY event_id
SETTINGS index_granularity = 8192
-- statement-break
{{distributed "ingest_event_ids" "cityHash64(event_id)"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "ingest_event_ids_mv"}} {{.OnCluster}}
TO {{local "ingest_event_ids"}}
AS SELECT event_id, received_at AS seen_at FROM {{local "events"}}
