package query

import (
	"time"
)

// presence is where a per-person question finds who was active when: the
// person-level store (query/README.md, "Person-level store"). Rows are
// (day, assistant, channel, country, user_key): one per person and day on
// the person-day table, one per person and whole week or month on the
// person-week and person-month tables (day = the period's first day), so a
// question over whole periods reads people × periods rows, not person-days.
//
// UTC reads the plain rollups; a zone with rollups of its own (configured
// and built) reads the zone's tables, on the zone's calendar; any other zone
// reads raw events (exact, a scan of the range).
type presence struct {
	tz   string // "" for UTC
	zone bool   // the zone's own rollup tables
	raw  bool   // raw events: a zone without rollups
}

// presenceIn is the presence store of zone tz ("" for UTC) as fr knows it.
func presenceIn(tz string, fr *DataFreshness) presence {
	switch {
	case tz == "":
		return presence{}
	case fr != nil && fr.ZoneBuilt(tz):
		return presence{tz: tz, zone: true}
	}
	return presence{tz: tz, raw: true}
}

// loc is the presence's zone (UTC when it is not a known zone).
func (p presence) loc() *time.Location {
	if p.tz == "" {
		return time.UTC
	}
	if l, err := time.LoadLocation(p.tz); err == nil {
		return l
	}
	return time.UTC
}

// table names a person-level rollup ("person_day", "first_seen", …) in
// the presence's zone.
func (p presence) table(base string) string {
	if p.zone {
		return "rollup_zone_" + base
	}
	return "rollup_" + base
}

// Source names what a question over [from, to] at grain reads: the first
// table of the rows presence.rows appends.
func (p presence) Source(grain Interval, from, to time.Time) string {
	if p.raw {
		return "events"
	}
	if ws, we, ok := wholePeriods(grain, from, to); ok && !ws.After(we) {
		return p.table("person_" + string(grain))
	}
	return p.table("person_day")
}

// wholePeriods are the first and last starts of the periods of grain
// (week or month) that lie wholly inside [from, to]; ok is false for
// another grain.
func wholePeriods(grain Interval, from, to time.Time) (first, last time.Time, ok bool) {
	if grain != Week && grain != Month {
		return time.Time{}, time.Time{}, false
	}
	first = periodStart(from, grain)
	if first.Before(from) {
		first = nextPeriod(first, grain)
	}
	last = periodStart(to, grain)
	if nextPeriod(last, grain).AddDate(0, 0, -1).After(to) {
		last = last.AddDate(0, 0, -1)
		last = periodStart(last, grain)
	}
	return first, last, true
}

// rows appends a subquery, in parentheses, whose rows are (day, assistant,
// channel, country, user_key) of the people active in [from, to] on the
// slice f: the periods of grain wholly inside the range from the
// person-week or person-month table (day is then the period's first day),
// the days outside them from the person-day table. A caller groups the rows
// by a period of grain or coarser (a period of the range as a whole, or
// one of grain), never by day when grain is week or month. Rows repeat
// (unmerged parts, days of one period): count people with uniqExact or
// GROUP BY user_key. Each extra appends one more condition (" AND …") to
// every part, where it prunes best.
func (p presence) rows(q *sqlText, grain Interval, from, to time.Time, f Filters, extra ...func(*sqlText)) {
	filter := func() {
		filterSQL(q, f)
		for _, e := range extra {
			e(q)
		}
	}
	q.add("(")
	if p.raw {
		q.add("SELECT toDate(event_time, ?) AS day, assistant, channel, country, user_key FROM events WHERE ", p.tz)
		// Prune by the stored UTC date first: a zone shifts a day by less
		// than a day either way.
		q.add("event_date >= toDate(?) AND event_date <= toDate(?) AND toDate(event_time, ?) >= toDate(?) AND toDate(event_time, ?) <= toDate(?)",
			date(from.AddDate(0, 0, -1)), date(to.AddDate(0, 0, 1)), p.tz, date(from), p.tz, date(to))
		filter()
		q.add(")")
		return
	}
	days := func(from, to time.Time) {
		q.add("SELECT day, assistant, channel, country, user_key FROM " + p.table("person_day") + " WHERE ")
		if p.zone {
			q.add("tz = ? AND ", p.tz)
		}
		q.add("day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
		filter()
	}
	ws, we, ok := wholePeriods(grain, from, to)
	if !ok || ws.After(we) {
		days(from, to)
		q.add(")")
		return
	}
	col := string(grain)
	q.add("SELECT " + col + " AS day, assistant, channel, country, user_key FROM " + p.table("person_"+col) + " WHERE ")
	if p.zone {
		q.add("tz = ? AND ", p.tz)
	}
	q.add(col+" >= toDate(?) AND "+col+" <= toDate(?)", date(ws), date(we))
	filter()
	if from.Before(ws) {
		q.add(" UNION ALL ")
		days(from, ws.AddDate(0, 0, -1))
	}
	if end := nextPeriod(we, grain).AddDate(0, 0, -1); to.After(end) {
		q.add(" UNION ALL ")
		days(end.AddDate(0, 0, 1), to)
	}
	q.add(")")
}

// firstSeen appends a subquery, in parentheses, of (user_key, first): each
// person's first day on the slice f, ever, in the presence's zone.
func (p presence) firstSeen(q *sqlText, f Filters) {
	if p.raw {
		q.add("(SELECT user_key, min(toDate(event_time, ?)) AS first FROM events WHERE 1", p.tz)
		filterSQL(q, f)
		q.add(" GROUP BY user_key)")
		return
	}
	q.add("(SELECT user_key, minMerge(first) AS first FROM " + p.table("first_seen") + " WHERE 1")
	if p.zone {
		q.add(" AND tz = ?", p.tz)
	}
	filterSQL(q, f)
	q.add(" GROUP BY user_key)")
}

// firstSeenBy appends a subquery, in parentheses, of (user_key, d_<by>…,
// fday): each person's first day on the slice f, ever, per group of by, in
// the presence's zone.
func (p presence) firstSeenBy(q *sqlText, f Filters, by []Dim) {
	cols, aliases := withComma(dimCols(by)), withComma(dimAliases(by))
	if p.raw {
		q.add("(SELECT user_key"+cols+", min(toDate(event_time, ?)) AS fday FROM events WHERE 1", p.tz)
		filterSQL(q, f)
		q.add(" GROUP BY user_key" + aliases + ")")
		return
	}
	q.add("(SELECT user_key" + cols + ", minMerge(first) AS fday FROM " + p.table("first_seen") + " WHERE 1")
	if p.zone {
		q.add(" AND tz = ?", p.tz)
	}
	filterSQL(q, f)
	q.add(" GROUP BY user_key" + aliases + ")")
}

// zoneName is the zone as answers name it: "UTC" for "".
func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}
