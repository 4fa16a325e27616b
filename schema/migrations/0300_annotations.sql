-- Annotations: dated notes drawn on time charts (launches, policy changes,
-- shutdowns). Every change is a new row with a higher version; a deletion is
-- a row with deleted = 1. Reads take the latest version per id with argMax,
-- which gives the same answer before and after merges, on one server and
-- through a Distributed table (no FINAL needed).
CREATE TABLE IF NOT EXISTS {{local "annotations"}} {{.OnCluster}} (
    id          String,
    start_date  Date,
    end_date    Date,
    title       String,
    text        String,
    link        String,
    assistant   String,
    channel     String,
    kind        String,
    real_world  UInt8,
    created_at  DateTime('UTC'),
    updated_at  DateTime('UTC'),
    deleted     UInt8,
    version     UInt64
) ENGINE = {{engine "ReplacingMergeTree" "annotations" "version"}}
ORDER BY id
-- statement-break
-- On a cluster: every version of one annotation on one shard.
{{distributed "annotations" "cityHash64(id)"}}
