package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// DataFreshness says how far the stored data reaches: what "data through"
// means on every page and which periods are complete.
//
// A day is complete once it is over by the clock (Now less the charts'
// lag) and it is not after the last stored event's day. Periods that start
// after the last stored event, or after today, do not exist yet: series,
// retention and migration leave them out instead of showing zeros.
type DataFreshness struct {
	// Now is the clock the answer was computed with.
	Now time.Time
	// DataThrough is the time of the last stored event, at most Now
	// (events may be stamped up to 24 h ahead). Zero when nothing is
	// stored.
	DataThrough time.Time
	// ChartsBehind is how far the rollups the charts read trail ingest:
	// the age of the oldest stored event not built into them yet (0 when
	// caught up, and always 0 on a cluster, where rollups are built inside
	// the insert).
	ChartsBehind time.Duration
	// FirstEvent is the time of the first stored event ("since launch");
	// zero when nothing is stored.
	FirstEvent time.Time
	// Zones are the time zones whose own rollups are built and served
	// (ADOPTSCOPE_TIME_ZONES, backfill done); a question in another zone
	// reads raw events.
	Zones []string
}

// ZoneBuilt reports whether tz ("" is UTC) has rollups of its own.
func (f DataFreshness) ZoneBuilt(tz string) bool {
	return slices.Contains(f.Zones, tz)
}

// Empty reports whether nothing is stored.
func (f DataFreshness) Empty() bool { return f.DataThrough.IsZero() }

// DataEndDay is the day of DataThrough in loc (a midnight-UTC date, like
// every date of the package); zero when nothing is stored.
func (f DataFreshness) DataEndDay(loc *time.Location) time.Time {
	if f.Empty() {
		return time.Time{}
	}
	return dayIn(f.DataThrough, loc)
}

// Today is the current day in loc, counted from Now less the charts' lag:
// a day the rollups have not caught up with is not over for the charts.
func (f DataFreshness) Today(loc *time.Location) time.Time {
	return dayIn(f.Now.Add(-f.ChartsBehind), loc)
}

// LastCompleteDay is the last complete day in loc: the day before Today,
// or the last stored event's day when the data ends earlier. Zero when
// nothing is stored.
func (f DataFreshness) LastCompleteDay(loc *time.Location) time.Time {
	if f.Empty() {
		return time.Time{}
	}
	last := f.Today(loc).AddDate(0, 0, -1)
	if end := f.DataEndDay(loc); end.Before(last) {
		last = end
	}
	return last
}

// LastDay is the last day that exists in loc: today, or the last stored
// event's day when the data ends earlier. Zero when nothing is stored.
func (f DataFreshness) LastDay(loc *time.Location) time.Time {
	if f.Empty() {
		return time.Time{}
	}
	last := f.Today(loc)
	if end := f.DataEndDay(loc); end.Before(last) {
		last = end
	}
	return last
}

// FirstDay is the day of the first stored event in loc ("since launch"):
// catalog.DefaultLaunch when nothing is stored.
func (f DataFreshness) FirstDay(loc *time.Location) time.Time {
	if f.FirstEvent.IsZero() {
		return catalog.DefaultLaunch
	}
	return dayIn(f.FirstEvent, loc)
}

// dayIn is t's calendar date in loc, as a midnight-UTC date.
func dayIn(t time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// location loads a request's zone ("" is UTC). Zones reach here parsed by
// parseTZ, so an error is a programming error or a missing zone database.
func location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, &ParamError{Param: "tz", Value: tz, Allowed: "unknown time zone: want an IANA name such as Europe/Paris, or UTC"}
	}
	return loc, nil
}

// clock is now, or the package's clock when now is zero.
func clock(t time.Time) time.Time {
	if t.IsZero() {
		return now()
	}
	return t
}

// Freshness reads how far the stored data reaches at the clock now (zero:
// the current time): the last stored event up to now, the first one, and
// how far the charts' rollups trail ingest. Three small queries: the first
// and last day come from the per-day version table (one row a day), the
// last event's time from the last two days of events only, the lag from
// the rollup queue past the last built window.
func Freshness(ctx context.Context, s *store.Store, now time.Time) (DataFreshness, error) {
	f := DataFreshness{Now: clock(now).UTC()}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	nowText := f.Now.Format("2006-01-02 15:04:05")
	var first, last time.Time
	var days uint64
	// rollup_version_day holds each day's event sum, written with every
	// event; its days bound the events table without reading it.
	if err := s.Conn.QueryRow(ctx, "SELECT count(), min(day), max(day) FROM (SELECT day FROM rollup_version_day WHERE day <= toDate(?) GROUP BY day HAVING sum(events) > 0) SETTINGS max_execution_time = 10",
		f.Now.Format(catalog.DateLayout)).Scan(&days, &first, &last); err != nil {
		return f, fmt.Errorf("query: read the stored days: %w", err)
	}
	if days == 0 {
		return f, nil
	}
	var lastEv, firstEv time.Time
	var n uint64
	if err := s.Conn.QueryRow(ctx, "SELECT count(), max(event_time) FROM events WHERE event_time >= toDateTime(?, 'UTC') AND event_time <= toDateTime(?, 'UTC') SETTINGS max_execution_time = 10",
		last.AddDate(0, 0, -1).Format(catalog.DateLayout)+" 00:00:00", nowText).Scan(&n, &lastEv); err != nil {
		return f, fmt.Errorf("query: read the last stored event: %w", err)
	}
	if n == 0 {
		// Only events stamped later than now on the last day: the data
		// reaches the start of that day at least.
		lastEv = last
	}
	if err := s.Conn.QueryRow(ctx, "SELECT min(event_time) FROM events WHERE event_time >= toDateTime(?, 'UTC') AND event_time < toDateTime(?, 'UTC') + 86400 SETTINGS max_execution_time = 10",
		first.Format(catalog.DateLayout)+" 00:00:00", first.Format(catalog.DateLayout)+" 00:00:00").Scan(&firstEv); err != nil {
		return f, fmt.Errorf("query: read the first stored event: %w", err)
	}
	if firstEv.IsZero() || firstEv.Year() < 2000 {
		firstEv = first
	}
	f.DataThrough, f.FirstEvent = lastEv.UTC(), firstEv.UTC()
	if s.Cluster == "" {
		var pending uint64
		var oldest time.Time
		if err := s.Conn.QueryRow(ctx, "SELECT count(), min(ingested_at) FROM rollup_queue WHERE ingested_at > (SELECT max(window_end) FROM rollup_windows) SETTINGS max_execution_time = 10").Scan(&pending, &oldest); err != nil {
			return f, fmt.Errorf("query: read the rollups' lag: %w", err)
		}
		if pending > 0 && oldest.Before(f.Now) {
			f.ChartsBehind = f.Now.Sub(oldest).Truncate(time.Second)
		}
		zs, err := builtZones(ctx, s)
		if err != nil {
			return f, err
		}
		f.Zones = zs
	}
	return f, nil
}

// builtZones lists the zones whose rollups are built (rollup/zones.go).
func builtZones(ctx context.Context, s *store.Store) ([]string, error) {
	rows, err := s.Conn.Query(ctx, "SELECT tz FROM rollup_zones GROUP BY tz HAVING argMax(state, updated) = 'built' ORDER BY tz SETTINGS max_execution_time = 10")
	if err != nil {
		return nil, fmt.Errorf("query: read the built time zones: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var z string
		if err := rows.Scan(&z); err != nil {
			return nil, err
		}
		out = append(out, z)
	}
	return out, rows.Err()
}
