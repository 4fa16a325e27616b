-- Raw usage events: one row per accepted event. The raw user id never
-- reaches this table; user_key is its keyed hash (see ingest).
-- Sorting key: most questions slice by assistant and channel and then a date
-- range; user_key last keeps one person's rows of a day together, which
-- makes distinct counts and the migration and retention joins cheap.
CREATE TABLE IF NOT EXISTS {{local "events"}} {{.OnCluster}} (
    event_id    String,
    event_time  DateTime('UTC') {{codec "Delta, LZ4"}},
    event_date  Date MATERIALIZED toDate(event_time),
    received_at DateTime('UTC') {{codec "Delta, LZ4"}},
    assistant   LowCardinality(String),
    channel     LowCardinality(String),
    event_type  LowCardinality(String),
    modality    LowCardinality(String),
    user_key    UInt64,
    country     LowCardinality(String),
    count       UInt32,
    linked      UInt8,
    source      LowCardinality(String)
) ENGINE = {{engine "MergeTree" "events"}}
PARTITION BY toYYYYMM(event_time)
ORDER BY (assistant, channel, event_date, user_key)
SETTINGS index_granularity = 8192
-- statement-break
-- On a cluster: every event of one person on one shard (user_key is already
-- a uniform hash), so per-person questions are answered shard by shard.
{{distributed "events" "user_key"}}
