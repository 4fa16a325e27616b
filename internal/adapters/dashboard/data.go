package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// launchDate is where "since launch" starts on the pages that show no
// data (Annotations, Ingest, Exports); chart pages read the first stored
// event (Handler.launch).
var launchDate = catalog.DefaultLaunch

func defaultAssistants() []string { return catalog.DefaultAssistants }
func defaultChannels() []string   { return catalog.DefaultChannels }

// tidyRow is one row of a series answer: the period, the values of the
// request's by dimensions in order, the value and (with compare) the
// previous period's value.
type tidyRow struct {
	Period      string
	Key         []string
	Value       float64
	Previous    float64
	HasPrevious bool
	// Complete is false for a period that is not over, or whose days are
	// not all observed (after the data's end).
	Complete bool
}

// seriesResult is a series answer laid out for the chart adapters.
type seriesResult struct {
	Req     query.SeriesRequest
	Meta    query.SeriesMeta
	Periods []string // every period of the answer, in order
	Rows    []tidyRow
	// Incomplete holds the periods with a row marked not complete.
	Incomplete map[string]bool
}

// seriesCSV is the CSV link of a chart drawn from r: r's own canonical
// encoding (query.SeriesRequest.Values), which the query API reads back
// into the same request, so the download holds the chart's numbers.
func seriesCSV(r query.SeriesRequest) string {
	v := r.Values()
	v.Set("format", "csv")
	return "/api/v1/series?" + v.Encode()
}

// seriesSchedule is the "Schedule this as CSV" link of a chart drawn from
// r: the export form prefilled with r's query, without its dates, and the
// export range that keeps the page's range rolling (export.RangeOf); the
// chart's zone becomes the export's own.
func seriesSchedule(r query.SeriesRequest, title string) string {
	q := r.Values()
	for _, k := range []string{"from", "to", "tz"} {
		q.Del(k)
	}
	out := url.Values{"kind": {query.EndpointSeries}, "query": {q.Encode()},
		"range": {string(export.RangeOf(r.Range, r.From, r.To))}, "chart": {title}}
	if r.TZ != "" {
		out.Set("timezone", r.TZ)
	}
	return "/exports/new?" + out.Encode()
}

// seriesChart starts the card of a chart drawn from r, with its CSV and
// schedule links taken from r.
func seriesChart(id, title string, r query.SeriesRequest) views.Chart {
	return views.Chart{ID: id, Title: title, CSV: seriesCSV(r), Schedule: seriesSchedule(r, title)}
}

// series runs a chart's typed request. Within one page request, charts
// that ask the same question share one query: the memo key is the
// request's canonical encoding.
func (h *Handler) series(ctx context.Context, pr *pageRequest, req query.SeriesRequest) (seriesResult, error) {
	// The page's clock, and its freshness read once for all its charts.
	req.Now = h.opts.Now()
	if fr := h.fresh(pr); fr.Err == "" {
		q := fr.Q
		req.Freshness = &q
	}
	m := &pr.series
	key := req.Values().Encode()
	m.mu.Lock()
	e, ok := m.calls[key]
	if !ok {
		e = &memoCall{done: make(chan struct{})}
		m.calls[key] = e
	}
	m.mu.Unlock()
	if !ok {
		e.r, e.err = h.runSeries(ctx, req)
		close(e.done)
	}
	<-e.done
	return e.r, e.err
}

// comparedNote says under a chart what its dashed lines are: "Dashed:
// the same period a year earlier, 2024-12-01 – 2025-12-06."; "" when r
// compares with nothing.
func comparedNote(r seriesResult) string {
	if !r.Meta.Compare.On() || r.Meta.CompareFrom.IsZero() {
		return ""
	}
	what := "the previous period"
	if r.Meta.Compare == query.CompareYear {
		what = "the same period a year earlier"
	}
	return "Dashed: " + what + ", compared with " + r.Meta.CompareFrom.Format(catalog.DateLayout) + " – " +
		r.Meta.CompareTo.Format(catalog.DateLayout) + " (each " + intervalNoun(string(r.Req.Interval)) + " against " +
		compareFacing(r) + ")."
}

// compareFacing names the period each one faces.
func compareFacing(r seriesResult) string {
	if r.Meta.Compare == query.CompareYear {
		if r.Req.Interval == query.Month {
			return "the same month a year before"
		}
		return "the same weekday 52 weeks before"
	}
	_, _, shift, ok := query.CompareWindow(r.Req)
	if !ok {
		return ""
	}
	days := int(r.Req.From.Sub(shift(r.Req.From)).Hours() / 24)
	switch r.Req.Interval {
	case query.Month:
		n := 0
		for t := r.Req.From; t.After(shift(r.Req.From)); t = t.AddDate(0, -1, 0) {
			n++
		}
		return plural(n, "month") + " before"
	case query.Week:
		return plural(days/7, "week") + " before"
	}
	return "the same weekday " + plural(days/7, "week") + " before"
}

func plural(n int, noun string) string {
	if n == 1 {
		return "one " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// seriesMemo holds the series answers of one page request.
type seriesMemo struct {
	mu    sync.Mutex
	calls map[string]*memoCall
}

type memoCall struct {
	done chan struct{}
	r    seriesResult
	err  error
}

// pivot turns rows into one Series per distinct value of the key column
// keyIdx (or per whole key when keyIdx < 0), aligned to the periods.
// Missing cells are 0. prev adds the previous-period values instead.
func pivot(r seriesResult, keyIdx int, prev bool, label func(string) string) []views.Series {
	idx := map[string]int{}
	for i, p := range r.Periods {
		idx[p] = i
	}
	byName := map[string]*views.Series{}
	var order []string
	for _, row := range r.Rows {
		k := strings.Join(row.Key, " / ")
		if keyIdx >= 0 && keyIdx < len(row.Key) {
			k = row.Key[keyIdx]
		}
		s, ok := byName[k]
		if !ok {
			s = &views.Series{Name: k, Values: make([]float64, len(r.Periods))}
			byName[k] = s
			order = append(order, k)
		}
		if i, ok := idx[row.Period]; ok {
			v := row.Value
			if prev {
				v = row.Previous
			}
			s.Values[i] += v
		}
	}
	sort.Strings(order)
	out := make([]views.Series, 0, len(order))
	for _, k := range order {
		s := *byName[k]
		if label != nil {
			s.Name = label(k)
		}
		out = append(out, s)
	}
	return out
}

// filterRows keeps the rows whose key column keyIdx equals v.
func filterRows(r seriesResult, keyIdx int, v string) seriesResult {
	out := r
	out.Rows = nil
	for _, row := range r.Rows {
		if keyIdx < len(row.Key) && row.Key[keyIdx] == v {
			out.Rows = append(out.Rows, row)
		}
	}
	return out
}

// distinct lists the values of key column keyIdx, sorted.
func distinct(r seriesResult, keyIdx int) []string {
	seen := map[string]bool{}
	var out []string
	for _, row := range r.Rows {
		if keyIdx < len(row.Key) && !seen[row.Key[keyIdx]] {
			seen[row.Key[keyIdx]] = true
			out = append(out, row.Key[keyIdx])
		}
	}
	sort.Strings(out)
	return out
}

func parseDay(s string) (time.Time, error) { return time.Parse(catalog.DateLayout, s) }

func allZero(ss []views.Series) bool {
	for _, s := range ss {
		for _, v := range s.Values {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

// annotations lists the annotations in the filters' range and scope; a
// failure costs the markers, never the chart.
func (h *Handler) annotations(ctx context.Context, f Filters) []annotation.Annotation {
	af := annotation.Filter{From: f.FromString(), To: f.ToString()}
	if len(f.Assistants) == 1 {
		af.Assistant = f.Assistants[0]
	}
	if len(f.Channels) == 1 {
		af.Channel = f.Channels[0]
	}
	list, err := h.opts.Annotations.List(ctx, af)
	var invalid *annotation.InvalidError
	if errors.As(err, &invalid) {
		return nil // a scope outside the registry: no events, nothing to mark
	}
	if err != nil {
		h.log.Warn("annotations for charts", "error", err)
		return nil
	}
	// Breaks the detector suggested and no admin has decided on yet are
	// drawn too, distinctly (kind detected, chart.go).
	if sugg, err := h.opts.Annotations.Suggested(ctx, af.From, af.To, af.Assistant, af.Channel); err != nil {
		h.log.Warn("detected breaks for charts", "error", err)
	} else {
		list = append(list, sugg...)
	}
	return append(list, h.alertMarks(ctx, f, f.AlertDay)...)
}

// demoShown reports whether demo events are in the range (the badge).
func (h *Handler) demoShown(ctx context.Context, f Filters) bool {
	ok, err := query.HasDemoData(ctx, h.opts.Store, f.From, f.To)
	if err != nil {
		h.log.Warn("demo badge", "error", err)
	}
	return ok
}

// incompleteNotes maps each incomplete period of r to the tooltip's note:
// "Incomplete week: 3 of 7 days observed (data through …)".
func (h *Handler) incompleteNotes(pr *pageRequest, r seriesResult, f Filters) map[string]string {
	if len(r.Incomplete) == 0 {
		return nil
	}
	fr := h.fresh(pr)
	loc := f.Location()
	end := dataEnd(fr, loc, f.To)
	if end.After(f.To) {
		end = f.To
	}
	out := map[string]string{}
	for p := range r.Incomplete {
		start, err := parseDay(p)
		if err != nil {
			continue
		}
		stop := periodEnd(start, f.Interval)
		length := int(stop.Sub(start).Hours()/24) + 1
		from, to := start, stop
		if from.Before(f.From) {
			from = f.From
		}
		if to.After(end) {
			to = end
		}
		seen := 0
		if !to.Before(from) {
			seen = int(to.Sub(from).Hours()/24) + 1
		}
		note := fmt.Sprintf("Incomplete %s: %d of %d days observed", intervalNoun(f.Interval), seen, length)
		if length == 1 {
			note = "Incomplete day: not over yet"
		}
		if fr.Known {
			note += " (data through " + fr.DataThrough.In(loc).Format("2006-01-02 15:04 MST") + ")"
		}
		out[p] = note
	}
	return out
}

// periodEnd is the last day of the period starting at start.
func periodEnd(start time.Time, interval string) time.Time {
	switch interval {
	case "week":
		return start.AddDate(0, 0, 6)
	case "month":
		return start.AddDate(0, 1, -1)
	}
	return start
}

func intervalNoun(interval string) string {
	if interval == "" {
		return "day"
	}
	return interval
}

// marks are annotations as a time chart draws them.
func marks(anns []annotation.Annotation) []views.Mark {
	out := make([]views.Mark, len(anns))
	for i, a := range anns {
		out[i] = views.Mark{Start: a.Start, End: a.End, Title: a.Title, Text: a.Text, Detected: a.Kind == annotation.KindDetected}
	}
	return out
}
