-- A built window is recorded in rollup_windows by the builder, in a
-- statement of its own once the window's insert into rollup_feed has
-- succeeded, no longer by rollup_window_mv inside that insert.
--
-- The view relied on running after every other view of the feed (it was
-- the last by name). No ClickHouse version promises an order: newer ones
-- may run the views of one table in parallel (parallel_view_processing),
-- and when another view failed after the record was written, the window
-- stayed recorded as built while a rollup lacked its rows, for good.
--
-- Upgrade with every instance of a database stopped (the app, load, bench):
-- a builder of an earlier version would build windows that nothing records
-- any more, and build them again.
--
-- On a cluster nothing changes (the views build inside the insert into the
-- events tables, there is no window to record).
{{if not .Cluster}}
DROP TABLE IF EXISTS rollup_window_mv
{{end}}
