package query

import (
	"context"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// RetentionRow: of the CohortSize people first seen on the slice in period
// Cohort, Users were active on the slice in period Period (Offset periods
// later; Offset 0 is the cohort itself, so Users = CohortSize there).
type RetentionRow struct {
	Cohort     time.Time
	Period     time.Time
	Offset     int
	CohortSize uint64
	Users      uint64
	RatePct    float64 // Users / CohortSize * 100, 2 decimals; 0 for an empty cohort
	// ObservedDays are the days of Period inside the range and on or
	// before the last complete day (UTC); Complete is true when that is
	// the whole period. An incomplete period's rate is a floor, not a
	// drop.
	ObservedDays int
	Complete     bool
}

// RetentionResult is a retention triangle: every cohort period of [From,
// To] with every later period up to To, zeros included.
type RetentionResult struct {
	Interval Interval
	From, To time.Time
	Filters  Filters
	// TZ is the zone of the days ("" for UTC); Source the table the
	// activity was read from.
	TZ, Source string
	Rows       []RetentionRow
	// Freshness: periods after the last stored event's day or after today
	// are not in Rows.
	Freshness DataFreshness
	// LeftCensored are the left-censored cohorts in the range, in order:
	// the period holding the data's first day and, when the data starts
	// after that period's first day (it was seen only in part), the next
	// period too. Their people are everyone active when the data starts,
	// most of them first seen before it, not new people. Average leaves
	// them out.
	LeftCensored []time.Time
	// Average is the retention curve of the other cohorts: per offset, the
	// people active again over the cohorts' people, complete periods only
	// (each cohort weighted by its size). Offsets no complete cell reaches
	// are left out.
	Average []RetentionAverage
}

// RetentionAverage is the average retention Offset periods after the
// first: Users of the People of Cohorts cohorts, RatePct = Users / People
// × 100 (2 decimals).
type RetentionAverage struct {
	Offset  int
	Cohorts int
	People  uint64
	Users   uint64
	RatePct float64
}

// IsLeftCensored reports whether cohort is left-censored.
func (res RetentionResult) IsLeftCensored(cohort time.Time) bool {
	for _, c := range res.LeftCensored {
		if cohort.Equal(c) {
			return true
		}
	}
	return false
}

// leftCensored are the cohort periods that hold people active before the
// data starts on first: its period, and the next one when first is not
// its period's first day.
func leftCensored(iv Interval, first time.Time) []time.Time {
	c := periodStart(first, iv)
	out := []time.Time{c}
	if !c.Equal(first) {
		out = append(out, nextPeriod(c, iv))
	}
	return out
}

// Retention answers r from the first-seen and person-day rollups (exact). A person's
// first-seen day is their first event on the slice ever (not only within
// the range); cohorts are the people whose first-seen day is in [From, To],
// and activity counts in [From, To].
func Retention(ctx context.Context, s *store.Store, r RetentionRequest) (RetentionResult, error) {
	res := RetentionResult{Interval: r.Interval, From: r.From, To: r.To, Filters: r.Filters}
	if r.Interval != Week && r.Interval != Month {
		return res, &ParamError{Param: "interval", Value: string(r.Interval), Allowed: "want week or month"}
	}
	fr, err := Freshness(ctx, s, r.Now)
	if err != nil {
		return res, err
	}
	res.Freshness = fr
	pres := presenceIn(r.TZ, &fr)
	loc := pres.loc()
	res.TZ = r.TZ
	lastComplete := fr.LastCompleteDay(loc)
	if last := fr.LastDay(loc); last.Before(r.To) {
		r.To = last // periods that have not begun do not exist yet
	}
	if r.To.Before(r.From) {
		return res, nil
	}
	p := func(day string) string { return periodOf(r.Interval, day) }
	q := &sqlText{}
	// The cohort: people whose first day on the slice is in the range.
	cohort := func(q *sqlText, cols string) {
		q.add("SELECT " + cols + " FROM ")
		pres.firstSeen(q, r.Filters)
		q.add(" WHERE first >= toDate(?) AND first <= toDate(?)", date(r.From), date(r.To))
	}
	q.add("SELECT toString(cohort), toString(period), count() FROM (")
	cohort(q, "user_key, "+p("first")+" AS cohort")
	// Activity of cohort members only: most people active in the range
	// are older than it, and leaving them out early saves most of the work.
	// Aliased subqueries: the new analyzer (mandatory from 26.9) refuses
	// a JOIN of unaliased ones.
	// Whole periods of activity come from the person-week or
	// person-month table.
	res.Source = pres.Source(r.Interval, r.From, r.To)
	q.add(") AS cohorts ALL INNER JOIN (SELECT DISTINCT user_key, " + p("day") + " AS period FROM ")
	pres.rows(q, r.Interval, r.From, r.To, r.Filters, func(q *sqlText) {
		q.add(" AND user_key IN (")
		cohort(q, "user_key")
		q.add(")")
	})
	q.add(") AS activity USING user_key GROUP BY cohort, period ORDER BY cohort, period SETTINGS max_execution_time = 60, distributed_product_mode = 'local'")

	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	counts := map[[2]string]uint64{}
	for rows.Next() {
		var c, pp string
		var n uint64
		if err := rows.Scan(&c, &pp, &n); err != nil {
			return res, fmt.Errorf("query: retention: %w", err)
		}
		counts[[2]string{c, pp}] = n
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	periods := periodsOf(r.Interval, r.From, r.To)
	if !fr.FirstEvent.IsZero() && len(periods) > 0 {
		for _, c := range leftCensored(r.Interval, fr.FirstDay(loc)) {
			if !c.Before(periods[0]) && !c.After(periods[len(periods)-1]) {
				res.LeftCensored = append(res.LeftCensored, c)
			}
		}
	}
	for i, c := range periods {
		cl := c.Format(catalog.DateLayout)
		size := counts[[2]string{cl, cl}]
		for j := i; j < len(periods); j++ {
			n := counts[[2]string{cl, periods[j].Format(catalog.DateLayout)}]
			row := RetentionRow{Cohort: c, Period: periods[j], Offset: j - i, CohortSize: size, Users: n}
			end := nextPeriod(periods[j], r.Interval).AddDate(0, 0, -1)
			row.ObservedDays = daysInPeriod(periods[j], r.Interval, res.From, earliest(res.To, lastComplete))
			row.Complete = !periods[j].Before(res.From) && !end.After(res.To) && !end.After(lastComplete)
			if size > 0 {
				row.RatePct = round(float64(n)/float64(size)*100, 2)
			}
			res.Rows = append(res.Rows, row)
		}
	}
	res.Average = retentionAverage(res)
	return res, nil
}

// retentionAverage pools the complete cells of every cohort but the
// left-censored one, per offset.
func retentionAverage(res RetentionResult) []RetentionAverage {
	var out []RetentionAverage
	for _, row := range res.Rows {
		if !row.Complete || row.CohortSize == 0 || res.IsLeftCensored(row.Cohort) {
			continue
		}
		for len(out) <= row.Offset {
			out = append(out, RetentionAverage{Offset: len(out)})
		}
		a := &out[row.Offset]
		a.Cohorts++
		a.People += row.CohortSize
		a.Users += row.Users
	}
	kept := out[:0]
	for _, a := range out {
		if a.People == 0 {
			continue
		}
		a.RatePct = round(float64(a.Users)/float64(a.People)*100, 2)
		kept = append(kept, a)
	}
	return kept
}

// StreamRetention calls fn for each row of Retention's answer, in order.
func StreamRetention(ctx context.Context, s *store.Store, r RetentionRequest, fn func(RetentionRow) error) error {
	res, err := Retention(ctx, s, r)
	if err != nil {
		return err
	}
	for _, row := range res.Rows {
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

// earliest is the earlier of two dates.
func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
