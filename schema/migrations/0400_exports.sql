-- Scheduled export definitions. A change (including deletion) inserts a new
-- row with a higher version; readers take the newest row per id
-- (ORDER BY version DESC LIMIT 1 BY id), so no ALTER is needed and the
-- table works the same on a cluster. Small: a few hundred rows at most.
CREATE TABLE IF NOT EXISTS {{local "exports"}} {{.OnCluster}} (
    id             String,
    name           String,
    kind           String,
    query          String,
    range          String,
    schedule       String,
    timezone       String,
    bom            UInt8,
    delimiter      String,
    skip_empty     UInt8,
    folder         String,
    webhook_url    String,
    webhook_secret String,
    keep           UInt32,
    created_at     DateTime('UTC'),
    deleted        UInt8,
    version        UInt64
) ENGINE = {{engine "ReplacingMergeTree" "exports" "version"}}
ORDER BY id
-- statement-break
{{distributed "exports" "cityHash64(id)"}}
-- statement-break
-- One row per state change of a run (running, heartbeat, success, failed,
-- skipped); readers take the newest version per run_id.
CREATE TABLE IF NOT EXISTS {{local "export_runs"}} {{.OnCluster}} (
    run_id       String,
    export_id    String,
    export_name  String,
    scheduled_at DateTime('UTC'),
    attempt      UInt16,
    trigger      String,
    claimer      String,
    status       String,
    started_at   DateTime('UTC'),
    finished_at  DateTime('UTC'),
    heartbeat_at DateTime('UTC'),
    period_from  Date,
    period_to    Date,
    rows         UInt64,
    bytes        UInt64,
    file         String,
    synthetic    UInt8,
    webhook      String,
    error        String,
    version      UInt64
) ENGINE = {{engine "ReplacingMergeTree" "export_runs" "version"}}
PARTITION BY toYYYYMM(scheduled_at)
ORDER BY (export_id, scheduled_at, run_id)
-- statement-break
{{distributed "export_runs" "cityHash64(export_id)"}}
-- statement-break
-- Claims of scheduled runs: every scheduler that wants to run
-- (export_id, scheduled_at, attempt) inserts a row, waits, then reads the
-- rows back; the earliest claim (server time, then claimer id) wins. Plain
-- MergeTree on purpose: every claim row must stay visible. See
-- export/README.md for the mechanism and its limits.
CREATE TABLE IF NOT EXISTS {{local "export_claims"}} {{.OnCluster}} (
    export_id    String,
    scheduled_at DateTime('UTC'),
    attempt      UInt16,
    claimer      String,
    claimed_at   DateTime('UTC')
) ENGINE = {{engine "MergeTree" "export_claims"}}
PARTITION BY toYYYYMM(scheduled_at)
ORDER BY (export_id, scheduled_at, attempt)
-- statement-break
{{distributed "export_claims" "cityHash64(export_id)"}}
