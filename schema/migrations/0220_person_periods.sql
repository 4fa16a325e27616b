-- Person × week and person × month presence (query/README.md, "Person-level
-- store"): one row per person, period, assistant, channel and country in
-- which the person had at least one event. The per-person questions over
-- whole weeks and months (audience overlap, lifecycle) read these instead of
-- the person-day table: their size grows with people × periods, not with
-- events or days (at 100 M bench events: person-days 25 M rows, person-months
-- about a tenth of that).
--
-- Presence only (ReplacingMergeTree: a row written twice is one after a
-- merge, and every query groups by user_key anyway), so feeding a row twice
-- — a zone's backfill overlapping its windows, this migration's fill
-- overlapping the views — changes no answer.
CREATE TABLE IF NOT EXISTS {{local "rollup_person_week"}} {{.OnCluster}} (
    week      Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64
) ENGINE = {{engine "ReplacingMergeTree" "rollup_person_week"}}
PARTITION BY toYYYYMM(week)
ORDER BY (week, assistant, channel, country, user_key)
-- statement-break
{{distributed "rollup_person_week" "user_key"}}
-- statement-break
CREATE TABLE IF NOT EXISTS {{local "rollup_person_month"}} {{.OnCluster}} (
    month     Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64
) ENGINE = {{engine "ReplacingMergeTree" "rollup_person_month"}}
PARTITION BY toYear(month)
ORDER BY (month, assistant, channel, country, user_key)
-- statement-break
{{distributed "rollup_person_month" "user_key"}}
-- statement-break
{{if .Cluster}}
-- On a cluster the views sit on each shard's events table and fill inside
-- the insert, like the other rollups: a shard holds its own people.
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_person_week_mv"}} {{.OnCluster}}
TO {{local "rollup_person_week"}} AS
SELECT toMonday(toDate(event_time)) AS week, assistant, channel, country, user_key
FROM {{local "events"}}
GROUP BY week, assistant, channel, country, user_key
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_person_month_mv"}} {{.OnCluster}}
TO {{local "rollup_person_month"}} AS
SELECT toStartOfMonth(toDate(event_time)) AS month, assistant, channel, country, user_key
FROM {{local "events"}}
GROUP BY month, assistant, channel, country, user_key
{{else}}
-- On a single server the rollup builder feeds them with the other rollups.
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_person_week_mv TO rollup_person_week AS
SELECT toMonday(toDate(event_time)) AS week, assistant, channel, country, user_key
FROM rollup_feed
GROUP BY week, assistant, channel, country, user_key
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_person_month_mv TO rollup_person_month AS
SELECT toStartOfMonth(toDate(event_time)) AS month, assistant, channel, country, user_key
FROM rollup_feed
GROUP BY month, assistant, channel, country, user_key
-- statement-break
-- The same per configured time zone, on the zone's calendar (weeks and
-- months of the zone's days), fed from rollup_zone_feed by the builder's
-- windows and a zone's backfill alike.
CREATE TABLE IF NOT EXISTS rollup_zone_person_week (
    tz        LowCardinality(String),
    week      Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(week)
ORDER BY (tz, week, assistant, channel, country, user_key)
-- statement-break
CREATE TABLE IF NOT EXISTS rollup_zone_person_month (
    tz        LowCardinality(String),
    month     Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYear(month)
ORDER BY (tz, month, assistant, channel, country, user_key)
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_person_week_mv TO rollup_zone_person_week AS
SELECT tz, toMonday(day) AS week, assistant, channel, country, user_key
FROM rollup_zone_feed
GROUP BY tz, week, assistant, channel, country, user_key
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_person_month_mv TO rollup_zone_person_month AS
SELECT tz, toStartOfMonth(day) AS month, assistant, channel, country, user_key
FROM rollup_zone_feed
GROUP BY tz, month, assistant, channel, country, user_key
-- statement-break
-- What the zones held before this migration, from their person-days.
INSERT INTO rollup_zone_person_week (tz, week, assistant, channel, country, user_key)
SELECT tz, toMonday(day) AS week, assistant, channel, country, user_key
FROM rollup_zone_person_day
GROUP BY tz, week, assistant, channel, country, user_key
-- statement-break
INSERT INTO rollup_zone_person_month (tz, month, assistant, channel, country, user_key)
SELECT tz, toStartOfMonth(day) AS month, assistant, channel, country, user_key
FROM rollup_zone_person_day
GROUP BY tz, month, assistant, channel, country, user_key
-- statement-break
-- What was stored before this migration, from the person-days (after the
-- views exist, so nothing falls between the two; what both write is one
-- row after merges). On a cluster: docs/cluster.md, "Upgrading".
INSERT INTO rollup_person_week (week, assistant, channel, country, user_key)
SELECT toMonday(day) AS week, assistant, channel, country, user_key
FROM rollup_person_day
GROUP BY week, assistant, channel, country, user_key
-- statement-break
INSERT INTO rollup_person_month (month, assistant, channel, country, user_key)
SELECT toStartOfMonth(day) AS month, assistant, channel, country, user_key
FROM rollup_person_day
GROUP BY month, assistant, channel, country, user_key
{{end}}
