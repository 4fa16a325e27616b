package dashboard

import (
	"context"
	"sort"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// runSeries executes req through package query and lays out its rows.
func (h *Handler) runSeries(ctx context.Context, req query.SeriesRequest) (seriesResult, error) {
	res, err := query.Series(ctx, h.opts.Store, req)
	if err != nil {
		return seriesResult{Req: req}, err
	}
	out := seriesResult{Req: req, Rows: make([]tidyRow, len(res.Rows))}
	seen := map[string]bool{}
	for _, p := range periodsOf(req.From, req.To, string(req.Interval)) {
		seen[p] = true
		out.Periods = append(out.Periods, p)
	}
	for i, r := range res.Rows {
		p := r.Period.UTC().Format(catalog.DateLayout)
		t := tidyRow{Period: p, Key: r.Dims, Value: r.Value}
		if r.Previous != nil {
			t.Previous, t.HasPrevious = *r.Previous, true
		}
		out.Rows[i] = t
		if !seen[p] {
			seen[p] = true
			out.Periods = append(out.Periods, p)
		}
	}
	sort.Strings(out.Periods)
	return out, nil
}

// periodsOf lists the labels of every period that overlaps [from, to].
func periodsOf(from, to interface{ Format(string) string }, interval string) []string {
	f, err1 := parseDay(from.Format(catalog.DateLayout))
	t, err2 := parseDay(to.Format(catalog.DateLayout))
	if err1 != nil || err2 != nil {
		return nil
	}
	var out []string
	for d := f; !d.After(t); {
		p := periodLabel(d, interval)
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
		switch interval {
		case "week":
			d = d.AddDate(0, 0, 7)
			if p2 := periodLabel(d, interval); p2 > periodLabel(t, interval) {
				d = t.AddDate(0, 0, 1)
			}
		case "month":
			d = d.AddDate(0, 1, 0)
			d = d.AddDate(0, 0, 1-d.Day())
		default:
			d = d.AddDate(0, 0, 1)
		}
	}
	if p := periodLabel(t, interval); len(out) == 0 || out[len(out)-1] != p {
		out = append(out, p)
	}
	return out
}

// runMigration executes a migration request through package query.
func (h *Handler) runMigration(ctx context.Context, req query.MigrationRequest) (migrationResult, error) {
	res, err := query.Migration(ctx, h.opts.Store, req)
	if err != nil {
		return migrationResult{}, err
	}
	out := migrationResult{Cohort: float64(res.Cohort), Linked: float64(res.Linked)}
	for _, o := range res.Outcomes {
		out.Outcomes = append(out.Outcomes, migrationOutcome{Outcome: o.Outcome, Assistant: o.Assistant, Channel: o.Channel, Users: float64(o.Users)})
	}
	return out, nil
}

// runRetention executes a retention request through package query.
func (h *Handler) runRetention(ctx context.Context, req query.RetentionRequest) ([]retentionCohort, error) {
	res, err := query.Retention(ctx, h.opts.Store, req)
	if err != nil {
		return nil, err
	}
	var out []retentionCohort
	idx := map[string]int{}
	for _, r := range res.Rows {
		k := r.Cohort.UTC().Format(catalog.DateLayout)
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, retentionCohort{Period: k, Size: float64(r.CohortSize)})
		}
		for len(out[i].Active) <= r.Offset {
			out[i].Active = append(out[i].Active, 0)
		}
		out[i].Active[r.Offset] = float64(r.Users)
	}
	return out, nil
}
