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
	OutcomeStayed   = "stayed"
	OutcomeMoved    = "moved"
	OutcomeInactive = "inactive"
)

// MigrationOutcome is one outcome and the number of cohort members with it.
// Assistant and Channel are set for "moved" only.
type MigrationOutcome struct {
	Outcome   string
	Assistant string
	Channel   string
	Users     uint64
}

// MigrationResult: the cohort is everyone active on (Assistant, Channel) in
// [Date-BeforeDays, Date). Each member has exactly one outcome, so the
// outcomes add up to Cohort:
//   - stayed: active on the source in [Date, Date+AfterDays);
//   - moved: otherwise, to the (assistant, channel) with the largest sum of
//     count in that window, ties broken by assistant then channel
//     alphabetically;
//   - inactive: no event in the window.
//
// Linked counts the members who, before Date, had an event on the source
// assistant (any channel) with linked=1 or of type account_linked.
type MigrationResult struct {
	Assistant, Channel    string
	Date                  time.Time
	BeforeDays, AfterDays int
	Cohort                uint64
	Linked                uint64
	Outcomes              []MigrationOutcome // stayed, moved (most users first), inactive
}

// Migration answers r from the person-day and first-seen rollups (exact).
func Migration(ctx context.Context, s *store.Store, r MigrationRequest) (MigrationResult, error) {
	res := MigrationResult{Assistant: r.Assistant, Channel: r.Channel, Date: r.Date, BeforeDays: r.BeforeDays, AfterDays: r.AfterDays}
	start, end := r.Date.AddDate(0, 0, -r.BeforeDays), r.Date.AddDate(0, 0, r.AfterDays)
	cohort := func(q *sqlText) {
		q.add("SELECT user_key FROM rollup_person_day WHERE assistant = ? AND channel = ? AND day >= toDate(?) AND day < toDate(?)",
			r.Assistant, r.Channel, date(start), date(r.Date))
	}

	// The distributed_product_mode setting lets the IN subqueries run shard
	// by shard on a cluster: every row of a person lives on one shard.
	const settings = " SETTINGS max_execution_time = 60, distributed_product_mode = 'local'"

	q := &sqlText{}
	q.add("SELECT count(), countIf(user_key IN (SELECT user_key FROM rollup_first_seen WHERE assistant = ? GROUP BY user_key "+
		"HAVING minIfMerge(linked) > toDate('1970-01-01') AND minIfMerge(linked) < toDate(?))) FROM (SELECT DISTINCT user_key FROM (",
		r.Assistant, date(r.Date))
	cohort(q)
	q.add("))" + settings)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	for rows.Next() {
		if err := rows.Scan(&res.Cohort, &res.Linked); err != nil {
			rows.Close()
			cancel()
			return res, fmt.Errorf("query: migration cohort: %w", err)
		}
	}
	rows.Close()
	cancel()
	if err := rows.Err(); err != nil {
		return res, err
	}

	// One row per member active in the window: the source first if they
	// stayed, else their largest (assistant, channel).
	q = &sqlText{}
	q.add("SELECT a, c, stayed, count() FROM (SELECT user_key, a, c, stayed FROM (" +
		"SELECT user_key, CAST(assistant AS String) AS a, CAST(channel AS String) AS c, sum(events) AS ev, ")
	q.add("(a = ? AND c = ?) AS stayed FROM rollup_person_day WHERE day >= toDate(?) AND day < toDate(?) AND user_key IN (",
		r.Assistant, r.Channel, date(r.Date), date(end))
	cohort(q)
	q.add(") GROUP BY user_key, a, c) ORDER BY user_key, stayed DESC, ev DESC, a, c LIMIT 1 BY user_key) GROUP BY a, c, stayed" + settings)
	rows, cancel, err = run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	var stayed, active uint64
	var moved []MigrationOutcome
	for rows.Next() {
		var a, c string
		var st uint8
		var n uint64
		if err := rows.Scan(&a, &c, &st, &n); err != nil {
			return res, fmt.Errorf("query: migration outcomes: %w", err)
		}
		active += n
		if st == 1 {
			stayed += n
		} else {
			moved = append(moved, MigrationOutcome{Outcome: OutcomeMoved, Assistant: a, Channel: c, Users: n})
		}
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	sort.Slice(moved, func(i, j int) bool {
		if moved[i].Users != moved[j].Users {
			return moved[i].Users > moved[j].Users
		}
		if moved[i].Assistant != moved[j].Assistant {
			return moved[i].Assistant < moved[j].Assistant
		}
		return moved[i].Channel < moved[j].Channel
	})
	res.Outcomes = append(res.Outcomes, MigrationOutcome{Outcome: OutcomeStayed, Users: stayed})
	res.Outcomes = append(res.Outcomes, moved...)
	var inactive uint64
	if res.Cohort > active {
		inactive = res.Cohort - active
	}
	res.Outcomes = append(res.Outcomes, MigrationOutcome{Outcome: OutcomeInactive, Users: inactive})
	return res, nil
}
