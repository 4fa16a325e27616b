-- Exact daily active users, finalized per day (query/README.md, "Daily
-- finals"). Distinct counts cannot be added up, so the work of a distinct
-- count over a year of days grows with the person-days it covers; these
-- tables hold each day's answer once computed, for every combination
-- (grain) of assistant, channel and country.
--
-- rollup_version_day: events per day. A day's finals carry the sum they
-- were computed at (version); queries use them only while the sum is
-- unchanged. The version stamped on finals is read from the person-day
-- table itself (rollup.Finalize), not from this table: the views of one
-- insert run in no documented order (by name on 18.16, in parallel with
-- parallel_view_processing), so this table may count a block before the
-- person-day table holds it.
CREATE TABLE IF NOT EXISTS {{local "rollup_version_day"}} {{.OnCluster}} (
    day    Date,
    events UInt64
) ENGINE = {{engine "SummingMergeTree" "rollup_version_day" "events"}}
PARTITION BY toYear(day)
ORDER BY day
-- statement-break
{{distributed "rollup_version_day" "rand()"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_version_day_mv"}} {{.OnCluster}}
TO {{local "rollup_version_day"}} AS
SELECT toDate(event_time) AS day, sum(toUInt64(count)) AS events
FROM {{local "events"}}
GROUP BY day
-- statement-break
-- grain is a bit set: 1 assistant, 2 channel, 4 country; a dimension
-- outside the grain is stored as ''. Written by query.Finalize.
CREATE TABLE IF NOT EXISTS {{local "rollup_users_final"}} {{.OnCluster}} (
    day       Date,
    grain     UInt8,
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    users     UInt64,
    version   UInt64
) ENGINE = {{engine "ReplacingMergeTree" "rollup_users_final" "version"}}
PARTITION BY toYear(day)
ORDER BY (grain, day, assistant, channel, country)
-- statement-break
{{distributed "rollup_users_final" "rand()"}}
