package query

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Migration outcomes.
const (
	OutcomeStayed = "stayed"
	// OutcomeMoved: moved to an (assistant, channel) that is new to them:
	// never active there before the date.
	OutcomeMoved = "moved"
	// OutcomeAlreadyThere: moved to an (assistant, channel) where they had
	// been active before the date (any time before it, not only in the
	// cohort window): not a move caused by the change.
	OutcomeAlreadyThere = "already_there"
	OutcomeInactive     = "inactive"
	// OutcomeNotSeenYet replaces inactive while the after window is not
	// over: no event in the days observed so far. Nobody is called inactive
	// for days that have not happened.
	OutcomeNotSeenYet = "not_seen_yet"
)

// Launch origins: where the people acquired by a launch were active in the
// before window.
const (
	OriginActiveBefore = "active_before" // on the (assistant, channel) given
	OriginNew          = "new"           // no event anywhere in the window
)

// DefaultBaselineWeeks: the baseline date is the same weekday this many
// weeks before the date.
const DefaultBaselineWeeks = 8

// MigrationOutcome is one outcome and the number of cohort members with it.
// Assistant and Channel are set for moved and already_there only. Linked
// counts the members among Users who had linked their account before the
// date (Users-Linked did not).
type MigrationOutcome struct {
	Outcome   string
	Assistant string
	Channel   string
	Users     uint64
	Linked    uint64
}

// Unlinked is Users - Linked.
func (o MigrationOutcome) Unlinked() uint64 { return o.Users - o.Linked }

// MigrationResult: the cohort is everyone active on (Assistant, Channel) in
// [Date-BeforeDays, Date). Each member has exactly one outcome, so the
// outcomes add up to Cohort:
//   - stayed: active on the source in [Date, Date+AfterDays);
//   - moved / already_there: otherwise, to the (assistant, channel) with
//     the largest sum of count in that window, ties broken by assistant
//     then channel alphabetically; already_there when the member had been
//     active there before Date, moved when it is new to them;
//   - inactive: no event in the window; not_seen_yet instead while the
//     window is not over (ObservedDays < AfterDays).
//
// Linked counts the members who, before Date, had an event on the source
// assistant (any channel) with linked=1 or of type account_linked; every
// outcome says how many of its members are linked.
type MigrationResult struct {
	Assistant, Channel    string
	Date                  time.Time
	BeforeDays, AfterDays int
	Cohort                uint64
	Linked                uint64
	// Outcomes: stayed, moved and already_there (most users first; a
	// destination seen only in the baseline is listed with 0 users), then
	// inactive or not_seen_yet.
	Outcomes []MigrationOutcome
	// ObservedDays are the days of [Date, Date+AfterDays) that are
	// complete (on or before the last complete day, UTC); Complete is
	// ObservedDays == AfterDays. CohortObservedDays is the same for the
	// cohort window [Date-BeforeDays, Date).
	ObservedDays       int
	Complete           bool
	CohortObservedDays int
	// Baseline is the same cohort definition at an ordinary date (nil with
	// baseline=none): what the outcomes look like without the change.
	Baseline *MigrationBaseline
	// Launch is set when the cohort is empty (nobody was there before the
	// date: a launch): the people acquired there and where they came from.
	Launch    *MigrationLaunch
	Freshness DataFreshness
}

// MigrationBaseline is the migration of the cohort defined the same way at
// Date (same source, same window lengths).
type MigrationBaseline struct {
	Date         time.Time
	Cohort       uint64
	Linked       uint64
	Outcomes     []MigrationOutcome
	ObservedDays int
	Complete     bool
}

// MigrationLaunch: Acquired people were first seen on the source (ever) in
// [Date, Date+AfterDays); Origins says where each was most active (largest
// sum of count) in [Date-BeforeDays, Date): active_before with the
// assistant and channel, or new (no event at all in that window). Origins
// add up to Acquired.
type MigrationLaunch struct {
	Acquired uint64
	Origins  []MigrationOutcome // Outcome is OriginActiveBefore or OriginNew; Linked is 0
}

// Pct is users as a percentage of cohort, 2 decimals (0 for an empty
// cohort).
func Pct(users, cohort uint64) float64 {
	if cohort == 0 {
		return 0
	}
	return round(float64(users)/float64(cohort)*100, 2)
}

// migrationSettings let the IN subqueries run shard by shard on a cluster:
// every row of a person lives on one shard.
const migrationSettings = " SETTINGS max_execution_time = 60, distributed_product_mode = 'local'"

// Migration answers r from the person-day and first-seen rollups (exact).
func Migration(ctx context.Context, s *store.Store, r MigrationRequest) (MigrationResult, error) {
	res := MigrationResult{Assistant: r.Assistant, Channel: r.Channel, Date: r.Date, BeforeDays: r.BeforeDays, AfterDays: r.AfterDays}
	fr, err := Freshness(ctx, s, r.Now)
	if err != nil {
		return res, err
	}
	res.Freshness = fr
	last := fr.LastCompleteDay(time.UTC)
	res.ObservedDays = observedDays(r.Date, r.AfterDays, last)
	res.Complete = res.ObservedDays == r.AfterDays
	res.CohortObservedDays = observedDays(r.Date.AddDate(0, 0, -r.BeforeDays), r.BeforeDays, last)

	// The baseline's cohort is computed beside the date's: the two are
	// independent, and much of each query is single-threaded on the
	// server (building IN sets, LIMIT BY), so together they take little
	// more than one.
	var b *MigrationBaseline
	baselineDone := make(chan error, 1)
	if !r.NoBaseline {
		bd := r.Baseline
		if bd.IsZero() {
			bd = r.Date.AddDate(0, 0, -7*DefaultBaselineWeeks)
		}
		b = &MigrationBaseline{Date: bd, ObservedDays: observedDays(bd, r.AfterDays, last)}
		b.Complete = b.ObservedDays == r.AfterDays
		go func() {
			var err error
			b.Cohort, b.Linked, b.Outcomes, err = migrationOutcomes(ctx, s, r.Assistant, r.Channel, bd, r.BeforeDays, r.AfterDays, b.Complete)
			baselineDone <- err
		}()
	} else {
		baselineDone <- nil
	}
	res.Cohort, res.Linked, res.Outcomes, err = migrationOutcomes(ctx, s, r.Assistant, r.Channel, r.Date, r.BeforeDays, r.AfterDays, res.Complete)
	if berr := <-baselineDone; err == nil {
		err = berr
	}
	if err != nil {
		return res, err
	}
	if b != nil {
		res.Baseline = b
		res.Outcomes = withBaselineDestinations(res.Outcomes, b.Outcomes)
	}
	if res.Cohort == 0 {
		if res.Launch, err = migrationLaunch(ctx, s, r); err != nil {
			return res, err
		}
	}
	return res, nil
}

// observedDays counts the days of [start, start+n) on or before last.
func observedDays(start time.Time, n int, last time.Time) int {
	if last.IsZero() || last.Before(start) {
		return 0
	}
	d := int(last.Sub(start).Hours()/24) + 1
	return min(d, n)
}

// OutcomeKey matches an outcome of the result with the same outcome of the
// baseline: inactive and not_seen_yet are one key.
func OutcomeKey(o MigrationOutcome) string {
	out := o.Outcome
	if out == OutcomeNotSeenYet {
		out = OutcomeInactive
	}
	return out + "\x00" + o.Assistant + "\x00" + o.Channel
}

// withBaselineDestinations adds, with 0 users, the destinations only the
// baseline has, before the last (inactive) outcome, so that a table lists
// every row of both.
func withBaselineDestinations(outs, base []MigrationOutcome) []MigrationOutcome {
	have := map[string]bool{}
	for _, o := range outs {
		have[OutcomeKey(o)] = true
	}
	var extra []MigrationOutcome
	for _, o := range base {
		if (o.Outcome == OutcomeMoved || o.Outcome == OutcomeAlreadyThere) && !have[OutcomeKey(o)] {
			extra = append(extra, MigrationOutcome{Outcome: o.Outcome, Assistant: o.Assistant, Channel: o.Channel})
		}
	}
	if len(extra) == 0 {
		return outs
	}
	n := len(outs) - 1 // the inactive outcome stays last
	out := append(append(append([]MigrationOutcome(nil), outs[:n]...), extra...), outs[n])
	return out
}

// migrationOutcomes computes the cohort of (a, c) before date and each
// member's outcome; complete says whether the after window is over.
func migrationOutcomes(ctx context.Context, s *store.Store, a, c string, at time.Time, beforeDays, afterDays int, complete bool) (cohort, linked uint64, outcomes []MigrationOutcome, err error) {
	start, end := at.AddDate(0, 0, -beforeDays), at.AddDate(0, 0, afterDays)
	cohortSQL := func(q *sqlText) {
		q.add("SELECT user_key FROM rollup_person_day WHERE assistant = ? AND channel = ? AND day >= toDate(?) AND day < toDate(?)",
			a, c, date(start), date(at))
	}
	// Members who linked their account of assistant a before the date.
	linkedSQL := func(q *sqlText) {
		q.add("SELECT user_key FROM rollup_first_seen WHERE assistant = ? GROUP BY user_key "+
			"HAVING minIfMerge(linked) > toDate('1970-01-01') AND minIfMerge(linked) < toDate(?)", a, date(at))
	}

	// The cohort's size runs beside the outcomes (see Migration); the
	// context ends it if the outcomes fail first.
	type size struct {
		cohort, linked uint64
		err            error
	}
	sizeDone := make(chan size, 1)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		q := &sqlText{}
		q.add("SELECT count(), countIf(user_key IN (")
		linkedSQL(q)
		q.add(")) FROM (SELECT DISTINCT user_key FROM (")
		cohortSQL(q)
		q.add("))" + migrationSettings)
		var z size
		z.err = scanOne(sctx, s, q, &z.cohort, &z.linked)
		sizeDone <- z
	}()

	// One row per member active in the window: the source first if they
	// stayed, else their largest (assistant, channel); then whether they
	// were there before the date (first seen there earlier) and linked.
	q := &sqlText{}
	q.add("SELECT a, c, stayed, already, is_linked, count() FROM (SELECT a, c, stayed, (user_key, a, c) IN (" +
		"SELECT user_key, CAST(assistant AS String) AS fa, CAST(channel AS String) AS fc FROM rollup_first_seen WHERE user_key IN (")
	cohortSQL(q)
	q.add(") GROUP BY user_key, fa, fc HAVING minMerge(first) < toDate(?)) AS already, user_key IN (", date(at))
	linkedSQL(q)
	q.add(") AS is_linked FROM (SELECT user_key, a, c, stayed FROM (" +
		"SELECT user_key, CAST(assistant AS String) AS a, CAST(channel AS String) AS c, sum(events) AS ev, ")
	q.add("(a = ? AND c = ?) AS stayed FROM rollup_person_day WHERE day >= toDate(?) AND day < toDate(?) AND user_key IN (",
		a, c, date(at), date(end))
	cohortSQL(q)
	q.add(") GROUP BY user_key, a, c) ORDER BY user_key, stayed DESC, ev DESC, a, c LIMIT 1 BY user_key)) GROUP BY a, c, stayed, already, is_linked" + migrationSettings)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return 0, 0, nil, err
	}
	defer cancel()
	defer rows.Close()
	stayed := MigrationOutcome{Outcome: OutcomeStayed}
	var active, activeLinked uint64
	moved := map[string]*MigrationOutcome{}
	for rows.Next() {
		var da, dc string
		var st, already, isLinked uint8
		var n uint64
		if err := rows.Scan(&da, &dc, &st, &already, &isLinked, &n); err != nil {
			return 0, 0, nil, fmt.Errorf("query: migration outcomes: %w", err)
		}
		active += n
		o := &stayed
		if st != 1 {
			out := OutcomeMoved
			if already == 1 {
				out = OutcomeAlreadyThere
			}
			k := out + "\x00" + da + "\x00" + dc
			if moved[k] == nil {
				moved[k] = &MigrationOutcome{Outcome: out, Assistant: da, Channel: dc}
			}
			o = moved[k]
		}
		o.Users += n
		if isLinked == 1 {
			o.Linked += n
			activeLinked += n
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, nil, err
	}
	var list []MigrationOutcome
	for _, o := range moved {
		list = append(list, *o)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Users != list[j].Users {
			return list[i].Users > list[j].Users
		}
		if list[i].Assistant != list[j].Assistant {
			return list[i].Assistant < list[j].Assistant
		}
		if list[i].Channel != list[j].Channel {
			return list[i].Channel < list[j].Channel
		}
		return list[i].Outcome > list[j].Outcome // moved before already_there
	})
	z := <-sizeDone
	if z.err != nil {
		return 0, 0, nil, fmt.Errorf("query: migration cohort: %w", z.err)
	}
	cohort, linked = z.cohort, z.linked
	quiet := MigrationOutcome{Outcome: OutcomeInactive}
	if !complete {
		quiet.Outcome = OutcomeNotSeenYet
	}
	if cohort > active {
		quiet.Users = cohort - active
	}
	if linked > activeLinked {
		quiet.Linked = linked - activeLinked
	}
	outcomes = append(outcomes, stayed)
	outcomes = append(outcomes, list...)
	outcomes = append(outcomes, quiet)
	return cohort, linked, outcomes, nil
}

// migrationLaunch: the people first seen on the source in the after
// window, by where they were most active in the before window.
func migrationLaunch(ctx context.Context, s *store.Store, r MigrationRequest) (*MigrationLaunch, error) {
	start, end := r.Date.AddDate(0, 0, -r.BeforeDays), r.Date.AddDate(0, 0, r.AfterDays)
	acquired := func(q *sqlText) {
		q.add("SELECT user_key FROM rollup_first_seen WHERE assistant = ? AND channel = ? GROUP BY user_key HAVING minMerge(first) >= toDate(?) AND minMerge(first) < toDate(?)",
			r.Assistant, r.Channel, date(r.Date), date(end))
	}
	l := &MigrationLaunch{}
	q := &sqlText{}
	q.add("SELECT count() FROM (")
	acquired(q)
	q.add(")" + migrationSettings)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		if err := rows.Scan(&l.Acquired); err != nil {
			rows.Close()
			cancel()
			return nil, fmt.Errorf("query: launch: %w", err)
		}
	}
	rows.Close()
	cancel()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	q = &sqlText{}
	q.add("SELECT a, c, count() FROM (SELECT user_key, a, c FROM (SELECT user_key, CAST(assistant AS String) AS a, CAST(channel AS String) AS c, sum(events) AS ev "+
		"FROM rollup_person_day WHERE day >= toDate(?) AND day < toDate(?) AND user_key IN (", date(start), date(r.Date))
	acquired(q)
	q.add(") GROUP BY user_key, a, c) ORDER BY user_key, ev DESC, a, c LIMIT 1 BY user_key) GROUP BY a, c" + migrationSettings)
	rows, cancel, err = run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer rows.Close()
	var before uint64
	for rows.Next() {
		var o MigrationOutcome
		if err := rows.Scan(&o.Assistant, &o.Channel, &o.Users); err != nil {
			return nil, fmt.Errorf("query: launch origins: %w", err)
		}
		o.Outcome = OriginActiveBefore
		before += o.Users
		l.Origins = append(l.Origins, o)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.Slice(l.Origins, func(i, j int) bool {
		a, b := l.Origins[i], l.Origins[j]
		if a.Users != b.Users {
			return a.Users > b.Users
		}
		if a.Assistant != b.Assistant {
			return a.Assistant < b.Assistant
		}
		return a.Channel < b.Channel
	})
	var fresh uint64
	if l.Acquired > before {
		fresh = l.Acquired - before
	}
	l.Origins = append(l.Origins, MigrationOutcome{Outcome: OriginNew, Users: fresh})
	return l, nil
}
