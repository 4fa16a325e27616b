package rollup

// Rollups per configured time zone (schema migration 0210; query/README.md,
// "Time zones").
//
// Every configured zone other than UTC has the rollups the UTC charts read,
// keyed by the zone's IANA name and the zone's calendar day. The builder
// feeds them per window: after the window's insert into rollup_feed, one
// insert into rollup_zone_feed per zone with toDate(event_time, zone), the
// zone bound as a constant. A window is recorded only once every zone's
// insert has succeeded.
//
// A zone is registered the first time a build sees it configured, with
// since = the last built window's end: every window after since feeds it.
// What was built before since is backfilled from events, one UTC month of
// event_time per step, and the zone is served (state built) once every
// month holding events is done.
//
// Exactness under the race between the backfill and the windows:
//
//   - The distinct-count rollups (uniq states, person-day presence,
//     first-seen minimum) do not change when a row is counted twice, so
//     the backfill inserts every event of the month into the feed
//     (backfill = 1), whether or not a window after since also carries it.
//   - The event sums would count such a row twice. The backfill writes them
//     itself: the month's sums over events, minus the month's rows queued
//     after since (they are the windows' part, and the queue keeps them
//     while a zone backfills), read in one SELECT while no insert into
//     events runs. Before the SELECT no insert may be running; after it,
//     none may be running and none may have been queued since the SELECT
//     began; otherwise the sums are thrown away and the month is tried
//     again at the next build. Each event is then counted once: by the
//     backfill when it was queued at or before since, by a window after.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// Zone states in rollup_zones.
const (
	zoneBackfilling = "backfilling"
	zoneBuilt       = "built"
	zoneRemoved     = "removed"
)

// zoneTables are the tables holding one row set per zone.
var zoneTables = []string{"rollup_zone_users_day", "rollup_zone_users_week", "rollup_zone_users_month",
	"rollup_zone_events_day", "rollup_zone_person_day", "rollup_zone_first_seen", "rollup_zone_version_day", "rollup_zone_users_final",
	"rollup_zone_person_week", "rollup_zone_person_month"}

// zoneState is a zone's latest row in rollup_zones.
type zoneState struct {
	tz      string
	state   string
	since   time.Time
	through time.Time // first day of the last backfilled month; zero: none
}

// NormalizeZones returns the non-UTC zones of list, each checked with
// time.LoadLocation, without duplicates: what Config.Zones takes.
func NormalizeZones(list []string) ([]string, error) {
	var out []string
	for _, z := range list {
		z = strings.TrimSpace(z)
		if z == "" || z == "UTC" || z == "Etc/UTC" {
			continue
		}
		if strings.EqualFold(z, "local") {
			return nil, fmt.Errorf("time zone %q: want an IANA name such as Europe/Paris", z)
		}
		if _, err := time.LoadLocation(z); err != nil {
			return nil, fmt.Errorf("time zone %q: %w", z, err)
		}
		if !slices.Contains(out, z) {
			out = append(out, z)
		}
	}
	return out, nil
}

// zoneStates reads every zone's latest state.
func (b *Builder) zoneStates(ctx context.Context) (map[string]zoneState, error) {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	rows, err := b.st.Conn.Query(ctx, "SELECT tz, argMax(state, updated), argMax(since, updated), argMax(backfilled_through, updated) FROM rollup_zones GROUP BY tz")
	if err != nil {
		return nil, fmt.Errorf("rollups: read the zones: %w", err)
	}
	defer rows.Close()
	out := map[string]zoneState{}
	for rows.Next() {
		var z zoneState
		var st string
		if err := rows.Scan(&z.tz, &st, &z.since, &z.through); err != nil {
			return nil, err
		}
		z.state = st
		z.since = z.since.UTC()
		if z.through.Year() < 2000 {
			z.through = time.Time{}
		}
		out[z.tz] = z
	}
	return out, rows.Err()
}

func (b *Builder) writeZone(ctx context.Context, z zoneState) error {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	through := "1970-01-01"
	if !z.through.IsZero() {
		through = z.through.Format("2006-01-02")
	}
	if err := b.st.Conn.Exec(ctx, "INSERT INTO rollup_zones (tz, state, since, backfilled_through, updated) SELECT ?, ?, ?, toDate(?), ?",
		z.tz, z.state, z.since, through, uint64(time.Now().UnixNano())); err != nil {
		return fmt.Errorf("rollups: record the state of zone %s: %w", z.tz, err)
	}
	return nil
}

// syncZones registers configured zones that are new (or were removed),
// marks zones no longer configured as removed, and returns the zones the
// windows feed: every zone registered and not removed, whatever this
// process's configuration (a process started without the zones, such as a
// load, must not leave gaps in them). end is the last built window's end:
// a new zone's since. With Config.Zones nil, registrations are left as
// they are.
func (b *Builder) syncZones(ctx context.Context, end time.Time) ([]zoneState, error) {
	states, err := b.zoneStates(ctx)
	if err != nil {
		return nil, err
	}
	if b.cfg.Zones != nil {
		for tz, z := range states {
			if z.state != zoneRemoved && !slices.Contains(b.cfg.Zones, tz) {
				z.state = zoneRemoved
				if err := b.writeZone(ctx, z); err != nil {
					return nil, err
				}
				states[tz] = z
				b.log.Info("rollups: zone no longer configured; not fed or served any more", "tz", tz)
			}
		}
		for _, tz := range b.cfg.Zones {
			z, ok := states[tz]
			if ok && z.state != zoneRemoved {
				continue
			}
			if err := b.serverKnows(ctx, tz); err != nil {
				b.log.Error("rollups: the ClickHouse server does not know this time zone; its questions read raw events", "tz", tz, "error", err)
				continue
			}
			if ok {
				// Removed earlier: its rows are stale; delete them first.
				if err := b.deleteZone(ctx, tz); err != nil {
					return nil, err
				}
			}
			z = zoneState{tz: tz, state: zoneBackfilling, since: end}
			if err := b.writeZone(ctx, z); err != nil {
				return nil, err
			}
			states[tz] = z
			b.log.Info("rollups: zone added; fed from the next window, backfilling what came before", "tz", tz, "since", end)
		}
	}
	var fed []zoneState
	for _, z := range states {
		if z.state != zoneRemoved {
			fed = append(fed, z)
		}
	}
	slices.SortFunc(fed, func(a, b zoneState) int { return strings.Compare(a.tz, b.tz) })
	return fed, nil
}

func (b *Builder) serverKnows(ctx context.Context, tz string) error {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	var d time.Time
	return b.st.Conn.QueryRow(ctx, "SELECT toDate(now(), ?)", tz).Scan(&d)
}

// deleteZone deletes a zone's rows from every zone table and waits for
// the deletions to finish.
func (b *Builder) deleteZone(ctx context.Context, tz string) error {
	ctx, cancel := b.callCtx(ctx)
	defer cancel()
	for _, t := range zoneTables {
		if err := b.st.Conn.Exec(ctx, "ALTER TABLE "+t+" DELETE WHERE tz = ?", tz); err != nil {
			return fmt.Errorf("rollups: delete the stale rows of zone %s from %s: %w", tz, t, err)
		}
	}
	for {
		var n uint64
		if err := b.st.Conn.QueryRow(ctx, "SELECT count() FROM system.mutations WHERE database = ? AND startsWith(table, 'rollup_zone_') AND is_done = 0", b.st.Database).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// feedZones inserts the queue's rows of (from, to] into the zone feed, one
// insert per zone fed since before from.
func (b *Builder) feedZones(ctx context.Context, zones []zoneState, from, to time.Time) error {
	for _, z := range zones {
		if from.Before(z.since) {
			continue // cannot happen: zones are registered before the windows after since
		}
		// A query id of its own (the window's with the zone): the
		// previous statement's may still be listed as running.
		zctx := clickhouse.Context(ctx, clickhouse.WithQueryID(fmt.Sprintf("adoptscope-rollup-%s-%d-%s", b.holder, to.Unix(), strings.ReplaceAll(z.tz, "/", "_"))))
		if err := b.st.Conn.Exec(zctx, `INSERT INTO rollup_zone_feed (tz, day, assistant, channel, country, modality, event_type, user_key, count, backfill)
SELECT ?, toDate(event_time, ?), assistant, channel, country, modality, event_type, user_key, count, 0
FROM rollup_queue WHERE ingested_at > ? AND ingested_at <= ?`, z.tz, z.tz, from, to); err != nil {
			return fmt.Errorf("zone %s: %w", z.tz, err)
		}
	}
	return nil
}

// queueKeep is the end up to which the queue's built hours may be
// dropped: a backfilling zone needs the rows queued after its since.
func queueKeep(zones []zoneState, end time.Time) time.Time {
	for _, z := range zones {
		if z.state == zoneBackfilling && z.since.Before(end) {
			end = z.since
		}
	}
	return end
}

// backfillZones backfills the backfilling zones month by month until done
// or until budget has passed. It reports whether every zone is built.
func (b *Builder) backfillZones(ctx context.Context, zones []zoneState, budget time.Duration) (bool, error) {
	start := time.Now()
	done := true
	for i := range zones {
		z := &zones[i]
		for z.state == zoneBackfilling {
			if time.Since(start) > budget {
				return false, nil
			}
			ok, err := b.backfillStep(ctx, z)
			if err != nil {
				return false, err
			}
			if !ok {
				// Inserts overlapped the sums: next build.
				done = false
				break
			}
		}
	}
	return done, nil
}

// backfillStep backfills the next month of z, or marks z built when no
// month is left. ok is false when the month must be tried again.
func (b *Builder) backfillStep(ctx context.Context, z *zoneState) (ok bool, _ error) {
	cctx, cancel := b.callCtx(ctx)
	defer cancel()
	after := "1970-01-01"
	if !z.through.IsZero() {
		after = z.through.AddDate(0, 1, 0).Format("2006-01-02")
	}
	var month time.Time
	var n uint64
	if err := b.st.Conn.QueryRow(cctx, "SELECT count(), min(toDate(event_time)) FROM events WHERE event_time >= toDateTime(?, 'UTC')", after+" 00:00:00").Scan(&n, &month); err != nil {
		return false, fmt.Errorf("rollups: zone %s: find the next month to backfill: %w", z.tz, err)
	}
	if n == 0 {
		z.state = zoneBuilt
		if err := b.writeZone(ctx, *z); err != nil {
			return false, err
		}
		b.log.Info("rollups: zone backfilled; served from its rollups", "tz", z.tz)
		return true, nil
	}
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	next := month.AddDate(0, 1, 0)
	ms, me := month.Format("2006-01-02"), next.Format("2006-01-02")
	t0 := time.Now()

	// The sums first: nothing is written unless no insert overlapped.
	// (Conditions on event_time, the partition key's column: 18.16 does
	// not prune partitions by event_date.)
	sums, ok, err := b.backfillSums(cctx, z, ms, me)
	if err != nil || !ok {
		return false, err
	}
	// The distinct counts: every event of the month (a row a window also
	// carries counts once all the same).
	if err := b.st.Conn.Exec(cctx, `INSERT INTO rollup_zone_feed (tz, day, assistant, channel, country, modality, event_type, user_key, count, backfill)
SELECT ?, toDate(event_time, ?), assistant, channel, country, modality, event_type, user_key, count, 1
FROM events WHERE event_time >= toDateTime(?, 'UTC') AND event_time < toDateTime(?, 'UTC')`, z.tz, z.tz, ms+" 00:00:00", me+" 00:00:00"); err != nil {
		return false, fmt.Errorf("rollups: zone %s: backfill %s: %w", z.tz, month.Format("2006-01"), err)
	}
	if err := b.insertSums(cctx, z.tz, sums); err != nil {
		return false, err
	}
	z.through = month
	if err := b.writeZone(ctx, *z); err != nil {
		b.log.Error("rollups: a backfilled month could not be recorded; it is backfilled again and its event sums count twice", "tz", z.tz, "month", month.Format("2006-01"))
		return false, err
	}
	b.zoneMonths.Inc()
	b.log.Info("rollups: zone backfill", "tz", z.tz, "month", month.Format("2006-01"), "seconds", time.Since(t0).Seconds())
	return true, nil
}

type zoneSum struct {
	day                                              time.Time
	assistant, channel, country, modality, eventType string
	events                                           int64
}

// backfillSums reads the month's event sums on the zone's days that no
// window after z.since carries. ok is false when an insert into events
// may have overlapped the read.
func (b *Builder) backfillSums(ctx context.Context, z *zoneState, ms, me string) (_ []zoneSum, ok bool, _ error) {
	_, busy, err := b.horizon(ctx)
	if err != nil || busy {
		return nil, false, err
	}
	t1, err := b.serverNow(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, err := b.st.Conn.Query(ctx, `SELECT day, assistant, channel, country, modality, event_type, sum(e) AS events FROM (
SELECT toDate(event_time, ?) AS day, assistant, channel, country, modality, event_type, toInt64(count) AS e
FROM events WHERE event_time >= toDateTime(?, 'UTC') AND event_time < toDateTime(?, 'UTC')
UNION ALL
SELECT toDate(event_time, ?) AS day, assistant, channel, country, modality, event_type, -toInt64(count) AS e
FROM rollup_queue WHERE ingested_at > ? AND ingested_at < ? AND toDate(event_time) >= toDate(?) AND toDate(event_time) < toDate(?))
GROUP BY day, assistant, channel, country, modality, event_type HAVING events != 0`,
		z.tz, ms+" 00:00:00", me+" 00:00:00", z.tz, z.since, t1, ms, me)
	if err != nil {
		return nil, false, fmt.Errorf("rollups: zone %s: backfill the event sums: %w", z.tz, err)
	}
	var out []zoneSum
	for rows.Next() {
		var s zoneSum
		if err := rows.Scan(&s.day, &s.assistant, &s.channel, &s.country, &s.modality, &s.eventType, &s.events); err != nil {
			rows.Close()
			return nil, false, err
		}
		out = append(out, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Did an insert overlap the read? One running now, or one queued
	// since t1 (started during the read, or in t1's second).
	_, busy, err = b.horizon(ctx)
	if err != nil || busy {
		return nil, false, err
	}
	var later uint64
	if err := b.st.Conn.QueryRow(ctx, "SELECT count() FROM rollup_queue WHERE ingested_at >= ?", t1).Scan(&later); err != nil {
		return nil, false, err
	}
	if later > 0 {
		b.log.Debug("rollups: inserts overlapped a zone backfill's sums; tried again at the next build", "tz", z.tz, "month", ms)
		return nil, false, nil
	}
	for _, s := range out {
		if s.events < 0 {
			return nil, false, fmt.Errorf("rollups: zone %s: backfill of %s: negative event sum on %s (queued rows missing from events)", z.tz, ms, s.day.Format("2006-01-02"))
		}
	}
	return out, true, nil
}

func (b *Builder) insertSums(ctx context.Context, tz string, sums []zoneSum) error {
	if len(sums) == 0 {
		return nil
	}
	batch, err := b.st.Conn.PrepareBatch(ctx, "INSERT INTO rollup_zone_events_day (tz, day, assistant, channel, country, modality, event_type, events)")
	if err != nil {
		return err
	}
	for _, s := range sums {
		if err := batch.Append(tz, s.day, s.assistant, s.channel, s.country, s.modality, s.eventType, uint64(s.events)); err != nil {
			return err
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("rollups: zone %s: write the backfilled event sums: %w", tz, err)
	}
	days := map[time.Time]uint64{}
	for _, s := range sums {
		days[s.day] += uint64(s.events)
	}
	vb, err := b.st.Conn.PrepareBatch(ctx, "INSERT INTO rollup_zone_version_day (tz, day, events)")
	if err != nil {
		return err
	}
	for d, n := range days {
		if err := vb.Append(tz, d, n); err != nil {
			return err
		}
	}
	if err := vb.Send(); err != nil {
		return fmt.Errorf("rollups: zone %s: write the backfilled day sums: %w", tz, err)
	}
	return nil
}

// finalizeZones computes the daily finals of built zones (as Finalize does
// for UTC days, query/README.md "Daily finals"): each zone day before the
// zone's today whose finals are missing or out of date, newest first, at
// most maxDays per zone. It runs under the lease, after the windows: the
// version (the zone day's event sum) and the people are read with no
// window half built. It reports whether no day was left.
func (b *Builder) finalizeZones(ctx context.Context, zones []zoneState, maxDays int) (bool, error) {
	done := true
	for _, z := range zones {
		if z.state != zoneBuilt {
			continue
		}
		cctx, cancel := b.callCtx(ctx)
		rows, err := b.st.Conn.Query(cctx, "SELECT toString(day), events FROM (SELECT day, sum(events) AS events FROM rollup_zone_version_day WHERE tz = ? GROUP BY day) "+
			"WHERE day < toDate(now(), ?) AND (day, events) NOT IN (SELECT day, version FROM rollup_zone_users_final WHERE tz = ? AND grain = 0) ORDER BY day DESC LIMIT ?",
			z.tz, z.tz, z.tz, maxDays+1)
		if err != nil {
			cancel()
			return false, fmt.Errorf("rollups: zone %s: days to finalize: %w", z.tz, err)
		}
		var days, versions []string
		for rows.Next() {
			var d string
			var v uint64
			if err := rows.Scan(&d, &v); err != nil {
				rows.Close()
				cancel()
				return false, err
			}
			days, versions = append(days, d), append(versions, fmt.Sprint(v))
		}
		rows.Close()
		cancel()
		if err := rows.Err(); err != nil {
			return false, err
		}
		if len(days) > maxDays {
			days, versions, done = days[:maxDays], versions[:maxDays], false
		}
		const batch = 16
		for i := 0; i < len(days); i += batch {
			end := min(i+batch, len(days))
			ds := days[i:end]
			args := []any{z.tz, ds, versions[i:end], z.tz}
			for _, d := range ds {
				args = append(args, d)
			}
			dayArgs := strings.TrimSuffix(strings.Repeat("toDate(?), ", len(ds)), ", ")
			ictx, icancel := b.callCtx(ctx)
			err := b.st.Conn.Exec(ictx, "INSERT INTO rollup_zone_users_final (tz, day, grain, assistant, channel, country, users, version) "+
				"SELECT ?, day, g, if(bitAnd(g, 1) = 1, CAST(assistant AS String), '') AS fa, "+
				"if(bitAnd(g, 2) = 2, CAST(channel AS String), '') AS fc, if(bitAnd(g, 4) = 4, CAST(country AS String), '') AS fk, "+
				"uniqExact(user_key), toUInt64(transform(toString(day), ?, ?, '0')) FROM rollup_zone_person_day ARRAY JOIN range(8) AS g "+
				"WHERE tz = ? AND day IN ("+dayArgs+") GROUP BY day, g, fa, fc, fk", args...)
			icancel()
			if err != nil {
				return false, fmt.Errorf("rollups: zone %s: finalize %s..%s: %w", z.tz, ds[len(ds)-1], ds[0], err)
			}
		}
	}
	return done, nil
}
