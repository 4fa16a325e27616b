package query

import (
	"time"
)

// Daily finals (README.md): each day's exact distinct people for every
// grain (combination of assistant, channel, country), computed once from
// the person-day rollup and stamped with the day's event sum at that time.
// A query uses a day's finals only while rollup_version_day still holds that
// sum; other days (today, a day that received late events) come from the
// uniq states, until the next Finalize.

// Grain bits.
const (
	grainAssistant = 1
	grainChannel   = 2
	grainCountry   = 4
)

var grainBits = map[Dim]uint8{DimAssistant: grainAssistant, DimChannel: grainChannel, DimCountry: grainCountry}

// finalsGrain returns the grain that answers distinct people grouped by by
// under filters f, exactly, by picking rows: every filtered dimension
// outside by must be held to one value (two values would need a union of
// people, which finals cannot give).
func finalsGrain(by []Dim, f Filters) (uint8, bool) {
	var g uint8
	for _, d := range by {
		b, ok := grainBits[d]
		if !ok {
			return 0, false
		}
		g |= b
	}
	for _, d := range Dims {
		vals := f.Values(d)
		if len(vals) == 0 {
			continue
		}
		b, ok := grainBits[d]
		if !ok {
			return 0, false
		}
		if g&b == 0 && len(vals) != 1 {
			return 0, false
		}
		g |= b
	}
	return g, true
}

// grainCols lists the table columns of a grain.
func grainCols(g uint8) string {
	out := "day"
	for _, d := range rollupDims {
		if g&grainBits[d] != 0 {
			out += ", " + string(d)
		}
	}
	return out
}

// finalsUsersSQL: p, dims…, val of daily distinct people over [from, to]:
// finals for the days that have current ones, uniq states for the rest.
//
// With exact, the other days come from the person-day table instead
// (uniqExact), so the whole answer is exact.
//
// With a zone (tz not ""), the zone's tables: its finals, versions,
// states and person-days (rollup/zones.go).
func finalsUsersSQL(g uint8, tz string, from, to time.Time, by []Dim, f Filters, val string, exact bool) *sqlText {
	prefix, zone := "rollup_", func(*sqlText) {}
	if tz != "" {
		prefix, zone = "rollup_zone_", func(q *sqlText) { q.add("tz = ? AND ", tz) }
	}
	fresh := func(q *sqlText) {
		q.add("(day, version) IN (SELECT day, sum(events) FROM " + prefix + "version_day WHERE ")
		zone(q)
		q.add("day >= toDate(?) AND day <= toDate(?) GROUP BY day)", date(from), date(to))
	}
	q := &sqlText{}
	q.add("SELECT p" + withComma(dimAliases(by)) + ", toFloat64(sum(u)) AS " + val + " FROM (")
	// Finals: one row per grain key and day (any() drops a duplicate
	// written by two finalizers at once).
	q.add("SELECT toString(day) AS p" + withComma(dimCols(by)) + ", any(users) AS u FROM " + prefix + "users_final WHERE ")
	zone(q)
	q.add("grain = ? AND day >= toDate(?) AND day <= toDate(?) AND ", g, date(from), date(to))
	fresh(q)
	filterSQL(q, f)
	q.add(" GROUP BY " + grainCols(g) + withComma(dimAliases(by)) + ", p")
	q.add(" UNION ALL ")
	// States for the days without current finals.
	// PREWHERE: 18.16 does not move an IN (subquery) there by itself, and
	// without it every state of the range is read before the day filter.
	table, users := prefix+"users_day", "uniqMerge(users)"
	if exact {
		table, users = prefix+"person_day", personDay.users
	}
	q.add("SELECT toString(day) AS p" + withComma(dimCols(by)) + ", " + users + " AS u FROM " + table + " PREWHERE ")
	zone(q)
	q.add("day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
	q.add(" AND day NOT IN (SELECT day FROM " + prefix + "users_final WHERE ")
	zone(q)
	q.add("grain = ? AND day >= toDate(?) AND day <= toDate(?) AND ", g, date(from), date(to))
	fresh(q)
	q.add(") WHERE 1")
	filterSQL(q, f)
	q.add(" GROUP BY p" + withComma(dimAliases(by)))
	q.add(") GROUP BY p" + withComma(dimAliases(by)))
	return q
}
