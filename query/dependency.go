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
//
// OnlyDependentUsers were active on the assistant in the period only
// through such channels: the people it loses outright if their owners
// close them ("also on" its own channels is DependentUsers less these).
// OnlyOn splits them by owner, for the people whose channels all belong
// to one owner; OnlyPct is OnlyDependentUsers / Users * 100.
type DependencyRow struct {
	Period             time.Time
	Assistant          string
	Users              uint64
	DependentUsers     uint64
	Pct                float64
	OnlyDependentUsers uint64
	OnlyPct            float64
	OnlyOn             []OwnerUsers
	Complete           bool
}

// OwnerUsers: Users of a DependencyRow were active only on channels of
// Owner; Pct is their share of the row's Users.
type OwnerUsers struct {
	Owner string
	Users uint64
	Pct   float64
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

// dependentOwners lists, sorted, the owners of a's dependent channels.
func dependentOwners(o catalog.Owners, a string, filter []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range dependentChannels(o, a, filter) {
		if w := o.Owner(c); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	sort.Strings(out)
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
	switch {
	case r.TZ != "" && fr.ZoneBuilt(r.TZ):
		src = zoned(personDay, r.TZ) // presence is all it reads
	case r.TZ != "":
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
	// The owner of each owned channel ('' for the others): a person whose
	// channels are all dependent ones of a single owner is "only on" it.
	owner := &sqlText{}
	if len(owned) == 0 {
		owner.add("''")
	} else {
		owner.add("multiIf(")
		for _, c := range owned {
			owner.add("channel = ?, ?, ", c, r.Owners.Owner(c))
		}
		owner.add("'')")
	}
	// Per person first (on the assistant in the period: any dependent
	// channel, every channel dependent, and the range of their owners),
	// then counted by whether and to whom they are bound.
	q := &sqlText{}
	q.add("SELECT p, d_assistant, all_dep, if(all_dep = 1 AND o_min = o_max, o_min, '') AS only_owner, " +
		"toUInt64(count()), toUInt64(countIf(any_dep = 1)) FROM (SELECT toString(")
	periodExpr(q, src, r.Interval)
	q.add(") AS p, CAST(assistant AS String) AS d_assistant, user_key, max(toUInt8(")
	q.sub(dep)
	q.add(")) AS any_dep, min(toUInt8(")
	q.sub(dep)
	q.add(")) AS all_dep, min(").sub(owner).add(") AS o_min, max(").sub(owner).add(") AS o_max FROM " + src.table)
	rangeWhere(q, src, Day, r.From, to, slice)
	q.add(" GROUP BY p, d_assistant, user_key) GROUP BY p, d_assistant, all_dep, only_owner ORDER BY p, d_assistant, all_dep, only_owner" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	type key struct{ p, a string }
	type counts struct {
		all, dep, only uint64
		byOwner        map[string]uint64
	}
	got := map[key]*counts{}
	seen := map[string]bool{}
	for rows.Next() {
		var p, a, onlyOwner string
		var allDep uint8
		var n, d uint64
		if err := rows.Scan(&p, &a, &allDep, &onlyOwner, &n, &d); err != nil {
			return res, fmt.Errorf("query: dependency: %w", err)
		}
		c := got[key{p, a}]
		if c == nil {
			c = &counts{byOwner: map[string]uint64{}}
			got[key{p, a}] = c
		}
		c.all += n
		c.dep += d
		if allDep == 1 {
			c.only += n
			if onlyOwner != "" {
				c.byOwner[onlyOwner] += n
			}
		}
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
			c := got[key{p.Format(catalog.DateLayout), a}]
			if c == nil {
				c = &counts{}
			}
			row := DependencyRow{Period: p, Assistant: a, Users: c.all, DependentUsers: c.dep, Pct: Pct(c.dep, c.all),
				OnlyDependentUsers: c.only, OnlyPct: Pct(c.only, c.all), OnlyOn: []OwnerUsers{}, Complete: complete}
			for _, o := range dependentOwners(r.Owners, a, r.Filters.Channels) {
				row.OnlyOn = append(row.OnlyOn, OwnerUsers{Owner: o, Users: c.byOwner[o], Pct: Pct(c.byOwner[o], c.all)})
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}
