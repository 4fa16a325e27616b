-- Consumer panels (panel/): who is a member, with the attributes the
-- panel is weighted by, and the population's margins per month. A member
-- or a target sent again is a new row with a higher version; readers take
-- the newest per key (LIMIT 1 BY), so the tables work the same on a
-- cluster. user_key is the member's user id keyed exactly as ingest keys
-- events, so a member's events are found by it. Members are sharded by
-- user_key like the person-level rollups, so each shard holds its own
-- people's memberships.
CREATE TABLE IF NOT EXISTS {{local "panel_members"}} {{.OnCluster}} (
    panel     LowCardinality(String),
    user_key  UInt64,
    country   LowCardinality(String),
    platform  LowCardinality(String),
    age_band  LowCardinality(String),
    gender    LowCardinality(String),
    -- membership by day: joined and left (0000-00-00: open)
    joined    Date,
    left      Date,
    version   UInt64
) ENGINE = {{engine "ReplacingMergeTree" "panel_members" "version"}}
ORDER BY (panel, user_key)
-- statement-break
{{distributed "panel_members" "user_key"}}
-- statement-break
-- Population targets: people per category of a dimension in a month. A
-- month without targets uses the latest earlier month's.
CREATE TABLE IF NOT EXISTS {{local "panel_targets"}} {{.OnCluster}} (
    panel      LowCardinality(String),
    month      Date,
    dimension  LowCardinality(String),
    category   String,
    population Float64,
    version    UInt64
) ENGINE = {{engine "ReplacingMergeTree" "panel_targets" "version"}}
ORDER BY (panel, month, dimension, category)
-- statement-break
{{distributed "panel_targets" "cityHash64(panel)"}}
