package dashboard

import (
	"context"
	"sort"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// runSeries executes req through package query and lays out its rows.
// The periods are those the answer has: periods after the data's end are
// absent there, not zeros, and so they are absent from the charts.
func (h *Handler) runSeries(ctx context.Context, req query.SeriesRequest) (seriesResult, error) {
	res, err := query.Series(ctx, h.opts.Store, req)
	if err != nil {
		return seriesResult{Req: req}, err
	}
	out := seriesResult{Req: req, Meta: res.SeriesMeta, Rows: make([]tidyRow, len(res.Rows)), Incomplete: map[string]bool{}}
	seen := map[string]bool{}
	for i, r := range res.Rows {
		p := r.Period.Format(catalog.DateLayout)
		t := tidyRow{Period: p, Key: r.Dims, Value: r.Value, Complete: r.Complete}
		if r.Previous != nil {
			t.Previous, t.HasPrevious = *r.Previous, true
		}
		out.Rows[i] = t
		if !t.Complete {
			out.Incomplete[p] = true
		}
		if !seen[p] {
			seen[p] = true
			out.Periods = append(out.Periods, p)
		}
	}
	sort.Strings(out.Periods)
	return out, nil
}

// runRetention executes a retention request through package query: the
// cohorts laid out, and the answer (its left-censored cohort and average).
func (h *Handler) runRetention(ctx context.Context, req query.RetentionRequest) ([]retentionCohort, query.RetentionResult, error) {
	req.Now = h.opts.Now()
	res, err := query.Retention(ctx, h.opts.Store, req)
	if err != nil {
		return nil, res, err
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
			out[i].Observed = append(out[i].Observed, 0)
			out[i].Complete = append(out[i].Complete, true)
		}
		out[i].Active[r.Offset] = float64(r.Users)
		out[i].Observed[r.Offset] = r.ObservedDays
		out[i].Complete[r.Offset] = r.Complete
	}
	return out, res, nil
}
