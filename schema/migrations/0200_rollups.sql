-- Rollups of events for the query layer (query/README.md explains the
-- design and the measurements behind it). Each is fed by a materialized
-- view on the local events table, so every node aggregates the rows it
-- stores; events are deduplicated before insert, so the views stay exact.
--
-- Distinct users per day, ISO week and month by assistant, channel and
-- country: uniq states (exact up to 65,536 distinct users per state, then an
-- adaptive sample; see query/README.md for the error bound). Small index
-- granularity: a row is a state standing for up to thousands of people.
CREATE TABLE IF NOT EXISTS {{local "rollup_users_day"}} {{.OnCluster}} (
    day       Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = {{engine "AggregatingMergeTree" "rollup_users_day"}}
PARTITION BY toYYYYMM(day)
ORDER BY (assistant, channel, day, country)
SETTINGS index_granularity = 256
-- statement-break
{{distributed "rollup_users_day" "rand()"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_users_day_mv"}} {{.OnCluster}}
TO {{local "rollup_users_day"}} AS
SELECT toDate(event_time) AS day, assistant, channel, country, uniqState(user_key) AS users
FROM {{local "events"}}
GROUP BY day, assistant, channel, country
-- statement-break
CREATE TABLE IF NOT EXISTS {{local "rollup_users_week"}} {{.OnCluster}} (
    week      Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = {{engine "AggregatingMergeTree" "rollup_users_week"}}
PARTITION BY toYYYYMM(week)
ORDER BY (assistant, channel, week, country)
SETTINGS index_granularity = 256
-- statement-break
{{distributed "rollup_users_week" "rand()"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_users_week_mv"}} {{.OnCluster}}
TO {{local "rollup_users_week"}} AS
SELECT toMonday(toDate(event_time)) AS week, assistant, channel, country, uniqState(user_key) AS users
FROM {{local "events"}}
GROUP BY week, assistant, channel, country
-- statement-break
CREATE TABLE IF NOT EXISTS {{local "rollup_users_month"}} {{.OnCluster}} (
    month     Date,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     AggregateFunction(uniq, UInt64)
) ENGINE = {{engine "AggregatingMergeTree" "rollup_users_month"}}
PARTITION BY toYear(month)
ORDER BY (assistant, channel, month, country)
SETTINGS index_granularity = 256
-- statement-break
{{distributed "rollup_users_month" "rand()"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_users_month_mv"}} {{.OnCluster}}
TO {{local "rollup_users_month"}} AS
SELECT toStartOfMonth(toDate(event_time)) AS month, assistant, channel, country, uniqState(user_key) AS users
FROM {{local "events"}}
GROUP BY month, assistant, channel, country
-- statement-break
-- Sums of count per day over every dimension: events and modality_mix of
-- any slice are exact sums over this table.
CREATE TABLE IF NOT EXISTS {{local "rollup_events_day"}} {{.OnCluster}} (
    day        Date,
    assistant  LowCardinality(String),
    channel    LowCardinality(String),
    country    LowCardinality(String),
    modality   LowCardinality(String),
    event_type LowCardinality(String),
    events     UInt64
) ENGINE = {{engine "SummingMergeTree" "rollup_events_day" "events"}}
PARTITION BY toYYYYMM(day)
ORDER BY (assistant, channel, day, country, modality, event_type)
-- statement-break
{{distributed "rollup_events_day" "rand()"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_events_day_mv"}} {{.OnCluster}}
TO {{local "rollup_events_day"}} AS
SELECT toDate(event_time) AS day, assistant, channel, country, modality, event_type, sum(toUInt64(count)) AS events
FROM {{local "events"}}
GROUP BY day, assistant, channel, country, modality, event_type
-- statement-break
-- One row per person, day, assistant, channel and country (after merges):
-- the exact source for distinct counts over odd ranges, new users,
-- migration and retention. Several events per person-day make it several
-- times smaller than events.
CREATE TABLE IF NOT EXISTS {{local "rollup_person_day"}} {{.OnCluster}} (
    day           Date,
    assistant     LowCardinality(String),
    channel       LowCardinality(String),
    country       LowCardinality(String),
    user_key      UInt64,
    events        UInt64,
    linked_events UInt64,
    account_links UInt64
) ENGINE = {{engine "SummingMergeTree" "rollup_person_day"}}
PARTITION BY toYYYYMM(day)
ORDER BY (assistant, channel, day, country, user_key)
-- statement-break
{{distributed "rollup_person_day" "user_key"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_person_day_mv"}} {{.OnCluster}}
TO {{local "rollup_person_day"}} AS
SELECT toDate(event_time) AS day, assistant, channel, country, user_key,
       sum(toUInt64(count)) AS events,
       sum(toUInt64(linked)) AS linked_events,
       countIf(event_type = 'account_linked') AS account_links
FROM {{local "events"}}
GROUP BY day, assistant, channel, country, user_key
