-- First day of each person on each assistant, channel and country, and
-- first day with a linked account: new users, retention cohorts and the
-- migration's linked count need a person's whole history, which on the
-- person-day table means reading all of it. One row per person and slice
-- (after merges), a handful per person.
CREATE TABLE IF NOT EXISTS {{local "rollup_first_seen"}} {{.OnCluster}} (
    assistant LowCardinality(String),
    channel   LowCardinality(String),
    country   LowCardinality(String),
    user_key  UInt64,
    first     AggregateFunction(min, Date),
    -- first day with linked = 1 or an account_linked event; 0000-00-00
    -- when none
    linked    AggregateFunction(minIf, Date, UInt8)
) ENGINE = {{engine "AggregatingMergeTree" "rollup_first_seen"}}
ORDER BY (assistant, channel, country, user_key)
-- statement-break
{{distributed "rollup_first_seen" "user_key"}}
-- statement-break
CREATE MATERIALIZED VIEW IF NOT EXISTS {{local "rollup_first_seen_mv"}} {{.OnCluster}}
TO {{local "rollup_first_seen"}} AS
SELECT assistant, channel, country, user_key, minState(toDate(event_time)) AS first,
       minIfState(toDate(event_time), linked = 1 OR event_type = 'account_linked') AS linked
FROM {{local "events"}}
GROUP BY assistant, channel, country, user_key
