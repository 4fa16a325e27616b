-- Answers to ingest requests sent with an Idempotency-Key, per token scope:
-- a repeated request gets the first answer back and writes nothing. Daily
-- partitions, dropped by ingest after the dedup window.
CREATE TABLE IF NOT EXISTS {{local "ingest_idempotency"}} {{.OnCluster}} (
    scope      String,
    key        String,
    created_at DateTime('UTC'),
    status     UInt16,
    response   String
) ENGINE = {{engine "MergeTree" "ingest_idempotency"}}
PARTITION BY toYYYYMMDD(created_at)
ORDER BY (scope, key)
-- statement-break
{{distributed "ingest_idempotency" "cityHash64(scope, key)"}}
