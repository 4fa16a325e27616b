package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// showPanelPage: a consumer panel's population estimates of active people
// by assistant over the page's dates, and how its members were weighted
// for one month (targets against weighted margins, n_eff, the weights).
func (h *Handler) showPanelPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Panel", "/panel", f)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := views.PanelView{}
	if h.opts.Panel == nil {
		v.Err = "This process does not run ingest, which keeps the panels: open the dashboard of an instance that does (adoptscope up)."
		return h.render(pr, http.StatusOK, p, views.PanelPage(v))
	}
	panels, err := h.opts.Panel.Panels(ctx)
	if err != nil {
		return err
	}
	v.Panels = panels
	if len(panels) == 0 {
		v.Err = "No panel has members yet: send them to POST /api/v1/panel/members and their population to /api/v1/panel/targets (docs/panel.md)."
		return h.render(pr, http.StatusOK, p, views.PanelPage(v))
	}
	q := c.QueryParams()
	v.Panel = q.Get("panel")
	if v.Panel == "" || !contains(panels, v.Panel) {
		v.Panel = panels[0]
	}
	// The month of the weighting: asked for, or the last one the page's
	// dates end in.
	month := time.Date(f.To.Year(), f.To.Month(), 1, 0, 0, 0, 0, time.UTC)
	if m := q.Get("month"); m != "" {
		if mm, err := panel.ParseMonth("month", m); err == nil {
			month = mm
		} else {
			p.Filters.Errors = append(p.Filters.Errors, err.Error())
		}
	}
	v.Month = month.Format("2006-01")
	p.Extra = url.Values{"panel": {v.Panel}, "month": {v.Month}}
	v.Estimate = h.estimateChart(pr, f, v.Panel)
	rep, err := h.opts.Panel.Weigh(ctx, v.Panel, month)
	if err != nil {
		v.Err = h.readableErr(c, "panel weights", err).Error()
		return h.render(pr, http.StatusOK, p, views.PanelPage(v))
	}
	w := rep.Weights
	v.Members, v.Iterations, v.Converged = rep.Members, w.Iterations, w.Converged
	v.TargetsMonth = rep.TargetsMonth.Format("2006-01")
	v.NEff, v.DesignEffect = views.FormatInt(w.NEff), strconv.FormatFloat(math.Round(w.DesignEffect*100)/100, 'f', -1, 64)
	v.MinWeight, v.MaxWeight = views.FormatInt(w.Min), views.FormatInt(w.Max)
	if !w.Converged {
		v.Warnings = append(v.Warnings, "The weights do not meet every margin: the targets cannot all hold with these members (see the table).")
	}
	if rep.LowNEff {
		v.Warnings = append(v.Warnings, fmt.Sprintf("The effective sample size is %s, under %d: every estimate of this month is withheld.", v.NEff, panel.MinNEff))
	}
	for _, u := range w.Uncovered {
		v.Warnings = append(v.Warnings, "Members with "+u+" have no population target: they weigh nothing. Send a target for it.")
	}
	for _, e := range w.Empty {
		v.Warnings = append(v.Warnings, "No member stands for "+e+": its target cannot be met.")
	}
	v.Margins = views.Table{Head: []string{"Margin", "Population target", "Weighted members", "Difference"}}
	for _, m := range w.Margins {
		diff := "–"
		if m.Target > 0 {
			diff = strconv.FormatFloat(math.Round((m.Weighted-m.Target)/m.Target*10000)/100, 'f', -1, 64) + " %"
		}
		v.Margins.Rows = append(v.Margins.Rows, []string{m.Dimension + " = " + m.Category, views.FormatInt(m.Target), views.FormatInt(m.Weighted), diff})
	}
	v.Weights = weightHistogram(w)
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.PanelPage(v))
}

// estimateChart: the population estimate of active people by assistant
// per period (UTC days), from the same answer as the query API's.
func (h *Handler) estimateChart(pr *pageRequest, f Filters, name string) views.Chart {
	req := f.series(query.ActiveUsers, query.DimAssistant)
	v := req.Values()
	v.Set("estimate", "population")
	v.Set("panel", name)
	v.Del("tz")
	ch := views.Chart{ID: "panel-estimate", Title: "Population estimate: people active on each assistant (panel " + name + ")",
		CSV: "/api/v1/series?" + withFormat(v).Encode(),
		Note: "Each line is the number of people in the population the panel's active members stand for, with its 95 % interval as a band; " +
			"hollow points are graded low (a wide interval), missing ones are withheld (fewer than 30 effective members). UTC days."}
	ctx, cancel := h.queryCtx(pr.c)
	defer cancel()
	rows, err := h.opts.Panel.Series(ctx, panel.SeriesRequest{Panel: name, Interval: string(req.Interval), From: req.From, To: req.To,
		By: []string{"assistant"}, Filters: map[string][]string{"assistant": req.Filters.Assistants, "channel": req.Filters.Channels, "country": req.Filters.Countries}})
	if err != nil {
		return views.Failed(ch.ID, ch.Title, h.readableErr(pr.c, "panel estimate", err))
	}
	// A period not over yet would read as a fall: only complete periods
	// (ended by yesterday, UTC) are drawn.
	yesterday := truncDay(h.opts.Now()).AddDate(0, 0, -1)
	complete := rows[:0]
	for _, r := range rows {
		end := r.Period.AddDate(0, 0, 1).AddDate(0, 0, -1)
		switch req.Interval {
		case query.Week:
			end = r.Period.AddDate(0, 0, 6)
		case query.Month:
			end = r.Period.AddDate(0, 1, -1)
		}
		if !end.After(yesterday) {
			complete = append(complete, r)
		}
	}
	if len(complete) < len(rows) {
		ch.Note += " The current " + string(req.Interval) + " is not over yet and is left out."
	}
	rows = complete
	idx := map[string]int{}
	var periods []string
	for _, r := range rows {
		p := r.Period.Format(catalog.DateLayout)
		if _, ok := idx[p]; !ok {
			idx[p] = 0
			periods = append(periods, p)
		}
	}
	sort.Strings(periods)
	for i, p := range periods {
		idx[p] = i
	}
	byName := map[string]*views.EstimateSeries{}
	var names []string
	ch.Table.Head = []string{"Period", "Assistant", "Estimate", "95 % interval", "Members (n)", "n_eff", "Confidence"}
	for _, r := range rows {
		a := views.Label(r.Dims[0])
		s := byName[a]
		if s == nil {
			s = &views.EstimateSeries{Name: a, Values: make([]*float64, len(periods)), Low: make([]float64, len(periods)),
				High: make([]float64, len(periods)), Weak: make([]bool, len(periods))}
			byName[a] = s
			names = append(names, a)
		}
		e, i := r.Estimate, idx[r.Period.Format(catalog.DateLayout)]
		s.Values[i], s.Low[i], s.High[i], s.Weak[i] = e.Value, e.Low, e.High, e.Confidence == panel.Low
		val := "withheld"
		if e.Value != nil {
			val = views.FormatInt(*e.Value)
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{r.Period.Format(catalog.DateLayout), a, val,
			views.FormatInt(e.Low) + " – " + views.FormatInt(e.High), strconv.Itoa(e.N), views.FormatInt(e.NEff), e.Confidence})
	}
	if len(rows) == 0 {
		ch.Empty = noData(pr, "No member of this panel was active in these dates.")
		return ch
	}
	sort.Strings(names)
	ss := make([]views.EstimateSeries, len(names))
	for i, n := range names {
		ss[i] = *byName[n]
	}
	ch.Options = views.EstimateChart(periods, ss)
	return ch
}

func withFormat(v url.Values) url.Values {
	v.Set("format", "csv")
	return v
}

// weightHistogram: how many members carry each size of weight (ten
// buckets between the smallest and the largest weight).
func weightHistogram(w panel.Weights) views.Chart {
	ch := views.Chart{ID: "panel-weights", Title: "Weights: people each member stands for",
		Note: "Members by their weight. A long tail to the right means a few members stand for many people: their answers move the estimates most."}
	var ws []float64
	for _, x := range w.W {
		if x > 0 {
			ws = append(ws, x)
		}
	}
	if len(ws) == 0 || w.Max <= w.Min {
		ch.Empty = "Every member carries the same weight."
		return ch
	}
	const n = 10
	counts := make([]int, n)
	step := (w.Max - w.Min) / n
	for _, x := range ws {
		counts[min(n-1, int((x-w.Min)/step))]++
	}
	labels := make([]string, n)
	ch.Table.Head = []string{"Weight", "Members"}
	for i := range labels {
		labels[i] = views.FormatInt(w.Min+step*float64(i)) + "–" + views.FormatInt(w.Min+step*float64(i+1))
		ch.Table.Rows = append(ch.Table.Rows, []string{labels[i], strconv.Itoa(counts[i])})
	}
	ch.Options = views.HistogramOptions(labels, counts, "people per member")
	return ch
}
