-- Breaks (level changes) found in the daily active people of each
-- assistant × channel series (package breaks), kept as suggested
-- annotations of kind "detected". Every change of state (suggested,
-- accepted into a real annotation, dismissed by an admin, withdrawn when a
-- later run no longer finds it) is a new row with a higher version; reads
-- take the latest version per id with argMax, like annotations. Dismissed
-- rows are kept for good: a later run that finds the same break (same
-- series and direction, its day inside the dismissed one's date range)
-- does not suggest it again.
CREATE TABLE IF NOT EXISTS {{local "detected_breaks"}} {{.OnCluster}} (
    id            String,
    assistant     String,
    channel       String,
    metric        String,
    day           Date,
    range_start   Date,
    range_end     Date,
    level_before  Float64,
    level_after   Float64,
    status        String,
    annotation_id String,
    detected_at   DateTime('UTC'),
    updated_at    DateTime('UTC'),
    version       UInt64
) ENGINE = {{engine "ReplacingMergeTree" "detected_breaks" "version"}}
ORDER BY id
-- statement-break
{{distributed "detected_breaks" "cityHash64(id)"}}
