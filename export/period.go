package export

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// Range is a date range relative to the day a run is scheduled for.
// Every form covers complete days only and ends at the latest the day
// before the run (the run day is not over yet). For rows by week or month
// the start moves back to the first day of its week or month
// (Export.Period): the dashboard's rule for its presets, so that no first
// row holds part of a period.
//
//	last_7_days      the 7 days before the run day
//	last_28_days     the 28 days before the run day
//	last_90_days     the 90 days before the run day
//	last_12_weeks    the 12 ISO weeks before the run day's week
//	last_12_months   the day a year before the run day to the day before it
//	                 (the dashboard's "Last 12 months", kept rolling)
//	previous_week    the ISO week (Monday to Sunday) before the run day's week
//	previous_month   the calendar month before the run day's month
//	month_to_date    the 1st of the month of the day before the run day, to that day
//	since:YYYY-MM-DD that date to the day before the run day
type Range string

// Ranges lists the fixed forms (since:YYYY-MM-DD is the one open form).
var Ranges = []Range{"last_7_days", "last_28_days", "last_90_days", "last_12_weeks", "last_12_months", "previous_week", "previous_month", "month_to_date"}

// Validate checks r.
func (r Range) Validate() error {
	_, _, err := r.Period(time.Date(2026, 1, 15, 6, 0, 0, 0, time.UTC), time.UTC)
	return err
}

// Period is the inclusive [from, to] date range (midnight UTC dates) of a run
// scheduled at `at`, with days counted in loc.
func (r Range) Period(at time.Time, loc *time.Location) (from, to time.Time, err error) {
	l := at.In(loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	yesterday := day.AddDate(0, 0, -1)
	switch {
	case r == "last_7_days":
		return day.AddDate(0, 0, -7), yesterday, nil
	case r == "last_28_days":
		return day.AddDate(0, 0, -28), yesterday, nil
	case r == "last_90_days":
		return day.AddDate(0, 0, -90), yesterday, nil
	case r == "last_12_weeks":
		wd := (int(day.Weekday()) + 6) % 7 // Monday 0
		monday := day.AddDate(0, 0, -wd)
		return monday.AddDate(0, 0, -7*12), monday.AddDate(0, 0, -1), nil
	case r == "last_12_months":
		return day.AddDate(-1, 0, 0), yesterday, nil
	case r == "previous_week":
		wd := (int(day.Weekday()) + 6) % 7 // Monday 0
		monday := day.AddDate(0, 0, -wd)
		return monday.AddDate(0, 0, -7), monday.AddDate(0, 0, -1), nil
	case r == "previous_month":
		first := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		return first.AddDate(0, -1, 0), first.AddDate(0, 0, -1), nil
	case r == "month_to_date":
		return time.Date(yesterday.Year(), yesterday.Month(), 1, 0, 0, 0, 0, time.UTC), yesterday, nil
	case strings.HasPrefix(string(r), "since:"):
		d, perr := time.Parse(catalog.DateLayout, strings.TrimPrefix(string(r), "since:"))
		if perr != nil {
			return from, to, fmt.Errorf("range %q: want since:YYYY-MM-DD, for example since:2026-01-01", r)
		}
		if !catalog.InDateBounds(d) {
			return from, to, fmt.Errorf("range %q: want since:YYYY-MM-DD with a date %s", r, catalog.DateBounds)
		}
		if d.After(yesterday) {
			// A range that starts later than it ends is reported, not
			// silently turned round.
			return d, d, nil
		}
		return d, yesterday, nil
	}
	return from, to, fmt.Errorf("range %q: want one of %s or since:YYYY-MM-DD", r, joinRanges())
}

// Period is the inclusive [from, to] date range of a run of e scheduled at
// `at`: e.Range counted in the days of e's time zone, and, for a series or
// retention by week or month, widened to start on the first day of the
// week or month holding its first day. That is the rule the dashboard
// applies to its presets (query.ParseSlice), so a range that starts inside
// a period never leaves a partial first row: the first row of a weekly
// last_12_months export is a whole week, the chart's value for that week.
// The end stays the day before the run; the last period, still going, is
// marked incomplete.
func (e Export) Period(at time.Time) (from, to time.Time, err error) {
	loc := e.Sched().Location()
	if loc == nil {
		loc = time.UTC
	}
	from, to, err = e.Range.Period(at, loc)
	if err != nil {
		return from, to, err
	}
	if iv := e.Interval(); iv == query.Week || iv == query.Month {
		from = query.PeriodStart(from, iv)
	}
	return from, to, nil
}

// Interval is what a run's rows are cut into: the query's interval for a
// series (default day), retention or lifecycle (default week); day for a migration,
// whose rows are outcomes.
func (e Export) Interval() query.Interval {
	q, _ := url.ParseQuery(e.Query)
	iv := query.Interval(q.Get("interval"))
	switch e.Kind {
	case "", query.EndpointSeries:
		if iv == "" {
			return query.Day
		}
	case query.EndpointRetention, query.EndpointLifecycle:
		if iv == "" {
			return query.Week
		}
	default:
		return query.Day
	}
	return iv
}

// RangeOf is the export range that keeps a query's range rolling when it
// is scheduled: a preset becomes its rolling range (7d last_7_days, 28d
// last_28_days, 90d last_90_days, 12m last_12_months); all and fixed dates
// [from, to] become since:from, or last_7_days and last_28_days when they
// span no more (a chart of last week stays last week).
func RangeOf(p query.Preset, from, to time.Time) Range {
	switch p {
	case query.Range7d:
		return "last_7_days"
	case query.Range28d:
		return "last_28_days"
	case query.Range90d:
		return "last_90_days"
	case query.Range12m:
		return "last_12_months"
	case query.RangeAll:
		return Range("since:" + from.Format(catalog.DateLayout))
	}
	switch days := int(to.Sub(from).Hours()/24) + 1; {
	case from.IsZero() || to.IsZero():
		return "last_28_days"
	case days <= 7:
		return "last_7_days"
	case days <= 28:
		return "last_28_days"
	}
	return Range("since:" + from.Format(catalog.DateLayout))
}

func joinRanges() string {
	var s []string
	for _, r := range Ranges {
		s = append(s, string(r))
	}
	return strings.Join(s, ", ")
}
