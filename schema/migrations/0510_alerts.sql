-- Alert rules (package alert). A change, a snooze or a deletion inserts a
-- new row with a higher version; readers take the newest row per id, like
-- exports. Small: a few hundred rows at most.
CREATE TABLE IF NOT EXISTS {{local "alert_rules"}} {{.OnCluster}} (
    id           String,
    name         String,
    metric       String,
    period_len   String,
    timezone     String,
    assistant    String,
    channel      String,
    country      String,
    condition    String,
    direction    String,
    value        Float64,
    destinations String,
    snooze_until Date,
    created_at   DateTime('UTC'),
    deleted      UInt8,
    version      UInt64
) ENGINE = {{engine "ReplacingMergeTree" "alert_rules" "version"}}
ORDER BY id
-- statement-break
{{distributed "alert_rules" "cityHash64(id)"}}
-- statement-break
-- What a rule did: one event per change of state (firing, resolved) or
-- test send, with its deliveries (JSON: destination, status, attempts,
-- error). An event is written when it is decided and again when its
-- deliveries end; readers take the newest version per event id.
CREATE TABLE IF NOT EXISTS {{local "alert_events"}} {{.OnCluster}} (
    id          String,
    rule_id     String,
    period      Date,
    state       String,
    value       Float64,
    comparison  Float64,
    detail      String,
    test        UInt8,
    sent_at     DateTime('UTC'),
    deliveries  String,
    version     UInt64
) ENGINE = {{engine "ReplacingMergeTree" "alert_events" "version"}}
ORDER BY (rule_id, id)
-- statement-break
{{distributed "alert_events" "cityHash64(rule_id)"}}
