package query

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// DependencyRequest asks, per period and assistant, how many of the
// assistant's people reached it through channels its maker does not
// control (catalog.Owners).
type DependencyRequest struct {
	Interval Interval
	From, To time.Time
	// Filters: assistant chooses the assistants shown; channel narrows the
	// channels counted as a dependency (the whole is always every channel
	// of the assistant); country restricts the people counted. Modality and
	// event type are not taken.
	Filters Filters
	TZ      string
	Partial bool
	// Owners is the owners table; the zero value is catalog.DefaultOwners.
	Owners catalog.Owners
	Now    time.Time
}

// DependencyRow: of the Users active on Assistant in Period (any channel),
// DependentUsers were active on a channel its maker does not control; Pct
// is DependentUsers / Users * 100, 2 decimals.
type DependencyRow struct {
	Period         time.Time
	Assistant      string
	Users          uint64
	DependentUsers uint64
	Pct            float64
	Complete       bool
}

// DependencyAssistant says, for one assistant of the answer, who makes it
// and which channels count as its dependency.
type DependencyAssistant struct {
	Assistant string
	Maker     string   // "" when the owners table does not name one
	Channels  []string // the channels its maker does not control, sorted
}

// DependencyResult is the answer: every period of the range (up to the
// data's last day) for every assistant with events in it.
type DependencyResult struct {
	Interval        Interval
	From, To        time.Time
	TZ              string
	Partial         bool
	Assistants      []DependencyAssistant
	Rows            []DependencyRow
	Freshness       DataFreshness
	LastCompleteDay time.Time
}

// ParseDependency reads a DependencyRequest: interval, from, to, assistant,
// channel, country, tz, partial (the parameters of a series).
func ParseDependency(v url.Values) (DependencyRequest, error) {
	return ParseDependencySince(v, time.Time{})
}

// ParseDependencySince is ParseDependency with the first day with data,
// where range=all starts (zero: catalog.DefaultLaunch).
func ParseDependencySince(v url.Values, first time.Time) (DependencyRequest, error) {
	var r DependencyRequest
	sl, errs := ParseSlice(v, SliceOptions{Days: 28, Dims: sliceDims, Read: ReadTZ | ReadPartial, First: first})
	if len(errs) > 0 {
		return r, errs.First()
	}
	r.Interval, r.From, r.To, r.Filters, r.TZ, r.Partial = sl.Interval, sl.From, sl.To, sl.Filters, sl.TZ, sl.Partial
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return r, &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "dependency slices by assistant, channel and country only"}
		}
	}
	return r, nil
}

// dependentChannels: the owned channels (narrowed by the channel filter)
// whose owner is not a's maker.
func dependentChannels(o catalog.Owners, a string, filter []string) []string {
	var out []string
	for _, c := range o.OwnedChannels() {
		if len(filter) > 0 && !contains(filter, c) {
			continue
		}
		if !o.Controls(a, c) {
			out = append(out, c)
		}
	}
	return out
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// Dependency answers r exactly, from the person-day table (raw events with
// a time zone), in one query: per period and assistant, distinct people
// and distinct people on dependent channels.
func Dependency(ctx context.Context, s *store.Store, r DependencyRequest) (DependencyResult, error) {
	if r.Interval == "" {
		r.Interval = Day
	}
	if r.Owners.Channels == nil {
		r.Owners = catalog.DefaultOwners()
	}
	res := DependencyResult{Interval: r.Interval, From: r.From, To: r.To, TZ: r.TZ, Partial: r.Partial}
	loc, err := location(r.TZ)
	if err != nil {
		return res, err
	}
	fr, err := Freshness(ctx, s, r.Now)
	if err != nil {
		return res, err
	}
	res.Freshness, res.LastCompleteDay = fr, fr.LastCompleteDay(loc)
	to := r.To
	if last := fr.LastDay(loc); last.Before(to) {
		to = last
	}
	if to.Before(r.From) {
		return res, nil
	}

	src := personDay
	if r.TZ != "" {
		src = rawSource(r.TZ)
	}
	// The whole is every channel: the channel filter only narrows the
	// dependent part.
	slice := r.Filters
	slice.Channels = nil
	owned := r.Owners.OwnedChannels()
	if len(r.Filters.Channels) > 0 {
		var keep []string
		for _, c := range owned {
			if contains(r.Filters.Channels, c) {
				keep = append(keep, c)
			}
		}
		owned = keep
	}
	dep := &sqlText{}
	if len(owned) == 0 {
		dep.add("0")
	} else {
		dep.in("channel", owned)
		// A maker's own platform channels are not a dependency of its
		// assistants.
		byMaker := map[string][]string{}
		for a, m := range r.Owners.Makers {
			byMaker[m] = append(byMaker[m], a)
		}
		makers := make([]string, 0, len(byMaker))
		for m := range byMaker {
			makers = append(makers, m)
		}
		sort.Strings(makers)
		for _, m := range makers {
			var own []string
			for _, c := range owned {
				if r.Owners.Owner(c) == m {
					own = append(own, c)
				}
			}
			if len(own) == 0 {
				continue
			}
			as := byMaker[m]
			sort.Strings(as)
			dep.add(" AND NOT (")
			dep.in("assistant", as)
			dep.add(" AND ")
			dep.in("channel", own)
			dep.add(")")
		}
	}
	q := &sqlText{}
	q.add("SELECT toString(")
	periodExpr(q, src, r.Interval)
	q.add(") AS p, CAST(assistant AS String) AS d_assistant, toUInt64(uniqExact(user_key)), toUInt64(uniqExactIf(user_key, ")
	q.sub(dep)
	q.add(")) FROM " + src.table)
	rangeWhere(q, src, Day, r.From, to, slice)
	q.add(" GROUP BY p, d_assistant ORDER BY p, d_assistant" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	type key struct{ p, a string }
	got := map[key][2]uint64{}
	seen := map[string]bool{}
	for rows.Next() {
		var p, a string
		var all, d uint64
		if err := rows.Scan(&p, &a, &all, &d); err != nil {
			return res, fmt.Errorf("query: dependency: %w", err)
		}
		got[key{p, a}] = [2]uint64{all, d}
		seen[a] = true
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	var assistants []string
	for a := range seen {
		assistants = append(assistants, a)
	}
	sort.Strings(assistants)
	for _, a := range assistants {
		res.Assistants = append(res.Assistants, DependencyAssistant{Assistant: a, Maker: r.Owners.Maker(a),
			Channels: dependentChannels(r.Owners, a, r.Filters.Channels)})
	}
	for _, p := range periodsOf(r.Interval, r.From, to) {
		end := nextPeriod(p, r.Interval).AddDate(0, 0, -1)
		complete := !p.Before(r.From) && !end.After(r.To) && !end.After(res.LastCompleteDay)
		if !complete && !r.Partial {
			continue // a percentage of an unfinished period misleads
		}
		for _, a := range assistants {
			v := got[key{p.Format(catalog.DateLayout), a}]
			row := DependencyRow{Period: p, Assistant: a, Users: v[0], DependentUsers: v[1], Complete: complete}
			row.Pct = Pct(v[1], v[0])
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}
