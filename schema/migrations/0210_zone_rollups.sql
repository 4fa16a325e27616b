-- Rollups per configured time zone (ADOPTSCOPE_TIME_ZONES; query/README.md,
-- "Time zones"). The UTC rollups answer questions on UTC days; a question
-- asked on the days of another zone reads these tables, the same rollups
-- with the zone's calendar day, keyed first by the zone's IANA name (tz).
--
-- Single server only: the rollup builder feeds them per window from the
-- queue, one insert into rollup_zone_feed per configured zone, and
-- backfills a zone configured later from events (rollup/zones.go). On a
-- cluster they stay empty and a zone's questions read raw events.
{{if not .Cluster}}
CREATE TABLE IF NOT EXISTS rollup_zone_users_day (
    tz        LowCardinality(String),
    day       Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tz, assistant, channel, day, country)
SETTINGS index_granularity = 256
-- statement-break
CREATE TABLE IF NOT EXISTS rollup_zone_users_week (
    tz        LowCardinality(String),
    week      Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(week)
ORDER BY (tz, assistant, channel, week, country)
SETTINGS index_granularity = 256
-- statement-break
CREATE TABLE IF NOT EXISTS rollup_zone_users_month (
    tz        LowCardinality(String),
    month     Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYear(month)
ORDER BY (tz, assistant, channel, month, country)
SETTINGS index_granularity = 256
-- statement-break
-- Sums of count per zone day: exact, so written once per event (see the
-- builder's backfill for how a zone added later stays exact).
CREATE TABLE IF NOT EXISTS rollup_zone_events_day (
    tz         LowCardinality(String),
    day        Date,
    assistant  LowCardinality(String),
    channel    LowCardinality(String),
    country    LowCardinality(String),
    modality   LowCardinality(String),
    event_type LowCardinality(String),
    events     UInt64
) ENGINE = SummingMergeTree(events)
PARTITION BY toYYYYMM(day)
ORDER BY (tz, assistant, channel, day, country, modality, event_type)
-- statement-break
-- Presence of a person on a zone day, assistant, channel and country: no
-- sums (the zone questions count people only), so a row written twice
-- changes nothing; merges keep one.
CREATE TABLE IF NOT EXISTS rollup_zone_person_day (
    tz        LowCardinality(String),
    day       Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (tz, assistant, channel, day, country, user_key)
-- statement-break
CREATE TABLE IF NOT EXISTS rollup_zone_first_seen (
    tz        LowCardinality(String),
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64,
    first     AggregateFunction(min, Date)
) ENGINE = AggregatingMergeTree
ORDER BY (tz, assistant, channel, country, user_key)
-- statement-break
-- Each zone day's event sum: the version of its finals (below). Written
-- with the event sums (the view on the feed, the backfill).
CREATE TABLE IF NOT EXISTS rollup_zone_version_day (
    tz     LowCardinality(String),
    day    Date,
    events UInt64
) ENGINE = SummingMergeTree(events)
PARTITION BY toYear(day)
ORDER BY (tz, day)
-- statement-break
-- Exact daily active users per zone day and grain, as rollup_users_final
-- (0201) for UTC days. Written by the rollup builder under its lease, so
-- no window is half built while a day's version and people are read.
CREATE TABLE IF NOT EXISTS rollup_zone_users_final (
    tz        LowCardinality(String),
    day       Date,
    grain     UInt8,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     UInt64,
    version   UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY toYear(day)
ORDER BY (tz, grain, day, assistant, channel, country)
-- statement-break
-- The zones and their state, one row per change (the latest counts):
-- backfilling (fed by every window after since; backfilled_through is
-- the last month built from events), built (served), removed (no longer
-- configured: not fed, not served; its rows are deleted before it is
-- backfilled again).
CREATE TABLE IF NOT EXISTS rollup_zones (
    tz                 String,
    state              LowCardinality(String),
    since              DateTime('UTC'),
    backfilled_through Date,
    updated            UInt64 -- Unix nanoseconds of the change (18.16 has no DateTime64)
) ENGINE = ReplacingMergeTree(updated)
ORDER BY tz
-- statement-break
-- What the builder inserts for one zone: the zone, each row's day in it.
-- backfill = 1 for rows read from events to fill a zone added later: the
-- distinct-count views take them, the event sums do not (the backfill
-- writes those itself, exactly).
CREATE TABLE IF NOT EXISTS rollup_zone_feed (
    tz         LowCardinality(String),
    day        Date,
    assistant  LowCardinality(String),
    channel    LowCardinality(String),
    country    LowCardinality(String),
    modality   LowCardinality(String),
    event_type LowCardinality(String),
    user_key   UInt64,
    count      UInt32,
    backfill   UInt8
) ENGINE = Null
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_users_day_mv TO rollup_zone_users_day AS
SELECT tz, day, assistant, channel, country, uniqState(user_key) AS users
FROM rollup_zone_feed
GROUP BY tz, day, assistant, channel, country
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_users_week_mv TO rollup_zone_users_week AS
SELECT tz, toMonday(day) AS week, assistant, channel, country, uniqState(user_key) AS users
FROM rollup_zone_feed
GROUP BY tz, week, assistant, channel, country
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_users_month_mv TO rollup_zone_users_month AS
SELECT tz, toStartOfMonth(day) AS month, assistant, channel, country, uniqState(user_key) AS users
FROM rollup_zone_feed
GROUP BY tz, month, assistant, channel, country
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_events_day_mv TO rollup_zone_events_day AS
SELECT tz, day, assistant, channel, country, modality, event_type, sum(toUInt64(count)) AS events
FROM rollup_zone_feed
WHERE backfill = 0
GROUP BY tz, day, assistant, channel, country, modality, event_type
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_version_day_mv TO rollup_zone_version_day AS
SELECT tz, day, sum(toUInt64(count)) AS events
FROM rollup_zone_feed
WHERE backfill = 0
GROUP BY tz, day
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_person_day_mv TO rollup_zone_person_day AS
SELECT tz, day, assistant, channel, country, user_key
FROM rollup_zone_feed
GROUP BY tz, day, assistant, channel, country, user_key
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS rollup_zone_first_seen_mv TO rollup_zone_first_seen AS
SELECT tz, assistant, channel, country, user_key, minState(day) AS first
FROM rollup_zone_feed
GROUP BY tz, assistant, channel, country, user_key
{{end}}
