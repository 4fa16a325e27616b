package query

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
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
func finalsGrain(tz string, by []Dim, f Filters) (uint8, bool) {
	if tz != "" {
		return 0, false
	}
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
func finalsUsersSQL(g uint8, from, to time.Time, by []Dim, f Filters, val string, exact bool) *sqlText {
	fresh := func(q *sqlText) {
		q.add("(day, version) IN (SELECT day, sum(events) FROM rollup_version_day WHERE day >= toDate(?) AND day <= toDate(?) GROUP BY day)", date(from), date(to))
	}
	q := &sqlText{}
	q.add("SELECT p" + withComma(dimAliases(by)) + ", toFloat64(sum(u)) AS " + val + " FROM (")
	// Finals: one row per grain key and day (any() drops a duplicate
	// written by two finalizers at once).
	q.add("SELECT toString(day) AS p"+withComma(dimCols(by))+", any(users) AS u FROM rollup_users_final WHERE grain = ? AND day >= toDate(?) AND day <= toDate(?) AND ",
		g, date(from), date(to))
	fresh(q)
	filterSQL(q, f)
	q.add(" GROUP BY " + grainCols(g) + withComma(dimAliases(by)) + ", p")
	q.add(" UNION ALL ")
	// States for the days without current finals.
	// PREWHERE: 18.16 does not move an IN (subquery) there by itself, and
	// without it every state of the range is read before the day filter.
	table, users := "rollup_users_day", "uniqMerge(users)"
	if exact {
		table, users = personDay.table, personDay.users
	}
	q.add("SELECT toString(day) AS p"+withComma(dimCols(by))+", "+users+" AS u FROM "+table+" PREWHERE day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
	q.add(" AND day NOT IN (SELECT day FROM rollup_users_final WHERE grain = ? AND day >= toDate(?) AND day <= toDate(?) AND ", g, date(from), date(to))
	fresh(q)
	q.add(") WHERE 1")
	filterSQL(q, f)
	q.add(" GROUP BY p" + withComma(dimAliases(by)))
	q.add(") GROUP BY p" + withComma(dimAliases(by)))
	return q
}

// Finalize computes the finals of up to maxDays days before today (UTC)
// whose finals are missing or out of date, newest first, and returns how
// many it did. Today keeps changing and comes from the states. The
// web process runs it in the background; the query benchmark runs it after
// loading. On a cluster it does nothing (the states answer).
func Finalize(ctx context.Context, s *store.Store, maxDays int) (int, error) {
	if s.Cluster != "" || maxDays <= 0 {
		return 0, nil
	}
	// The sums are read first: the person-days they count are already
	// stored (the sums' view is fed by the person-day table), so finals
	// computed afterwards cover at least what their version says.
	q := &sqlText{}
	q.add("SELECT toString(day), events FROM (SELECT day, sum(events) AS events FROM rollup_version_day GROUP BY day) "+
		"WHERE day < toDate(?) AND (day, events) NOT IN (SELECT day, version FROM rollup_users_final WHERE grain = 0) ORDER BY day DESC LIMIT ?"+settingsClause,
		date(now().UTC()), maxDays)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return 0, err
	}
	var days, versions []string
	for rows.Next() {
		var d string
		var v uint64
		if err := rows.Scan(&d, &v); err != nil {
			rows.Close()
			cancel()
			return 0, fmt.Errorf("query: finalize: %w", err)
		}
		days, versions = append(days, d), append(versions, strconv.FormatUint(v, 10))
	}
	rows.Close()
	cancel()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	const batch = 16
	for i := 0; i < len(days); i += batch {
		end := min(i+batch, len(days))
		ds, vs := days[i:end], versions[i:end]
		q := &sqlText{}
		q.add("INSERT INTO rollup_users_final (day, grain, assistant, channel, country, users, version) " +
			"SELECT day, g, if(bitAnd(g, 1) = 1, CAST(assistant AS String), '') AS fa, " +
			"if(bitAnd(g, 2) = 2, CAST(channel AS String), '') AS fc, if(bitAnd(g, 4) = 4, CAST(country AS String), '') AS fk, " +
			"uniqExact(user_key), toUInt64(transform(toString(day), ")
		q.add("?, ?, '0')) FROM rollup_person_day ARRAY JOIN range(8) AS g WHERE day IN (", ds, vs)
		for j, d := range ds {
			if j > 0 {
				q.add(", ")
			}
			q.add("toDate(?)", d)
		}
		q.add(") GROUP BY day, g, fa, fc, fk" + settingsClause)
		ictx, icancel := context.WithTimeout(ctx, queryTimeout)
		err := s.Conn.Exec(ictx, q.String(), q.args...)
		icancel()
		if err != nil {
			return i, fmt.Errorf("query: finalize %s..%s: %w", ds[len(ds)-1], ds[0], err)
		}
	}
	return len(days), nil
}
