-- Each month's weights of a panel's members (panel/), computed in Go from
-- panel_members and panel_targets and kept here so that an estimate is a
-- sum in ClickHouse: weight is the raked weight, replicates the member's
-- weight in each bootstrap replicate. A recomputation writes a new run
-- (version); estimates read the rows of the month's latest run only.
CREATE TABLE IF NOT EXISTS {{local "panel_weights"}} {{.OnCluster}} (
    panel      LowCardinality(String),
    month      Date,
    user_key   UInt64,
    weight     Float64,
    replicates Array(Float32),
    version    UInt64
) ENGINE = {{engine "ReplacingMergeTree" "panel_weights" "version"}}
PARTITION BY toYYYYMM(month)
ORDER BY (panel, month, user_key, version)
-- statement-break
{{distributed "panel_weights" "user_key"}}
-- statement-break
-- One row per computation of a month's weights: the inputs it saw (the
-- newest member and target versions), so a change of either is noticed.
CREATE TABLE IF NOT EXISTS {{local "panel_weight_runs"}} {{.OnCluster}} (
    panel       LowCardinality(String),
    month       Date,
    inputs      String,
    members     UInt32,
    n_eff       Float64,
    converged   UInt8,
    computed_at DateTime('UTC'),
    version     UInt64
) ENGINE = {{engine "ReplacingMergeTree" "panel_weight_runs" "version"}}
ORDER BY (panel, month)
-- statement-break
{{distributed "panel_weight_runs" "cityHash64(panel)"}}
