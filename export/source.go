package export

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/url"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// QuerySource runs exports through package query, so that a file holds
// exactly the rows and columns the query API answers with format=csv for
// the same parameters.
type QuerySource struct{ S *store.Store }

// Open parses params exactly as the API does. A series streams row by row
// (query.StreamSeries); migration and retention answers are small (a few
// dozen outcomes, cohorts × periods, periods × groups) and are rendered by the API's own CSV
// writer, then read back.
func (q QuerySource) Open(ctx context.Context, kind string, params url.Values) (Table, error) {
	switch kind {
	case "", query.EndpointSeries:
		r, err := query.ParseSeries(params)
		if err != nil {
			return nil, err
		}
		return &seriesTable{ctx: ctx, s: q.S, r: r, layout: query.SeriesCSVOf(r)}, nil
	case query.EndpointMigration, query.EndpointRetention, query.EndpointLifecycle, query.EndpointStickiness, query.EndpointOverlap, query.EndpointCountries:
		var buf bytes.Buffer
		if err := query.ExportCSV(ctx, q.S, kind, params, &buf); err != nil {
			return nil, err
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			return nil, fmt.Errorf("read %s answer: %w", kind, err)
		}
		if len(recs) == 0 {
			return nil, fmt.Errorf("%s answer has no header", kind)
		}
		return &recordsTable{cols: recs[0], rows: recs[1:]}, nil
	}
	return nil, fmt.Errorf("kind %q: want series, migration, retention, lifecycle, stickiness, overlap or countries", kind)
}

// HasDemoData asks query.HasDemoData about the days the query reads.
func (q QuerySource) HasDemoData(ctx context.Context, kind string, params url.Values) (bool, error) {
	var from, to time.Time
	switch kind {
	case query.EndpointMigration:
		r, err := query.ParseMigration(params)
		if err != nil {
			return false, err
		}
		from, to = r.Date.AddDate(0, 0, -r.BeforeDays), r.Date.AddDate(0, 0, r.AfterDays)
	case query.EndpointRetention:
		r, err := query.ParseRetention(params)
		if err != nil {
			return false, err
		}
		from, to = r.From, r.To
	case query.EndpointLifecycle:
		r, err := query.ParseLifecycle(params)
		if err != nil {
			return false, err
		}
		from, to = query.PeriodStart(r.From, r.Interval), r.To
	case query.EndpointStickiness:
		r, err := query.ParseStickiness(params)
		if err != nil {
			return false, err
		}
		from, to = r.From, r.To
	case query.EndpointOverlap:
		r, err := query.ParseOverlap(params)
		if err != nil {
			return false, err
		}
		from, to = r.From, r.To
	case query.EndpointCountries:
		sl, err := query.ParseCountries(params, time.Time{})
		if err != nil {
			return false, err
		}
		from, to = sl.From, sl.To
	case query.EndpointDependency:
		r, err := query.ParseDependency(params)
		if err != nil {
			return false, err
		}
		from, to = r.From, r.To
	default:
		r, err := query.ParseSeries(params)
		if err != nil {
			return false, err
		}
		from, to = r.From, r.To
		if cf, _, _, ok := query.CompareWindow(r); ok {
			// The window compared with is read too.
			from = cf
		}
	}
	return query.HasDemoData(ctx, q.S, from, to)
}

type seriesTable struct {
	ctx    context.Context
	s      *store.Store
	r      query.SeriesRequest
	layout query.SeriesCSV
}

func (t *seriesTable) Columns() []string { return t.layout.Header() }

func (t *seriesTable) Each(fn func([]string) error) error {
	_, err := query.StreamSeries(t.ctx, t.s, t.r, func(row query.SeriesRow) error {
		return fn(t.layout.Record(row))
	})
	return err
}

type recordsTable struct {
	cols []string
	rows [][]string
}

func (t *recordsTable) Columns() []string { return t.cols }

func (t *recordsTable) Each(fn func([]string) error) error {
	for _, r := range t.rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}
