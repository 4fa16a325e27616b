package dashboard

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// lifecycleNote says what the bars are, once above the charts.
const lifecycleNote = "Each bar is a period's active people on the slice: new (first active on it ever, history before the range included), " +
	"returning (active in the period before too) and resurrecting (back after at least one period away); below zero, " +
	"the dormant: active in the period before, not in this one. Quick ratio = (new + resurrecting) ÷ dormant: above 1 the slice grows. " +
	"Hatched, lighter bars: a period not over yet or cut by the range."

// lifecycleSplits are the page's "split by" choices (the by parameter).
var lifecycleSplits = []struct{ By, Label string }{
	{"", "Whole slice"},
	{"assistant", "Assistant"},
	{"channel", "Channel"},
}

// showLifecyclePage: per week or month, the slice's active people split
// into new, returning and resurrecting, with the dormant below zero; one
// chart per assistant or channel with by=.
func (h *Handler) showLifecyclePage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	if f.Interval != "week" && f.Interval != "month" {
		f.Interval = "week"
	}
	by := c.QueryParam("by")
	p := h.page(pr, "Lifecycle", "/lifecycle", f)
	p.Filters.Intervals = []string{"week", "month"}
	if pr.f.Interval == "day" {
		p.Notices = append(p.Notices, "The lifecycle is by week or month; showing weeks.")
	}
	switch by {
	case "", "none":
		by = ""
	case "assistant", "channel":
		p.Extra = url.Values{"by": {by}}
	default:
		p.Notices = append(p.Notices, "by="+by+" is not a split of the lifecycle (want assistant or channel): showing the whole slice.")
		by = ""
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := views.LifecycleView{Note: lifecycleNote}
	for _, s := range lifecycleSplits {
		extra := url.Values{}
		if s.By != "" {
			extra.Set("by", s.By)
		}
		v.Split = append(v.Split, views.SplitLink{Label: s.Label, Href: pageURL("/lifecycle", f, extra), Current: s.By == by})
	}
	vals := f.APIValues()
	vals.Del("partial")
	if by != "" {
		vals.Set("by", by)
	}
	req, err := query.ParseLifecycle(vals)
	if err != nil {
		v.Charts = []views.Chart{views.Failed("lifecycle", "Lifecycle", err)}
		return h.render(pr, http.StatusOK, p, views.LifecyclePage(v))
	}
	if fr := h.fresh(pr); fr.Known {
		q := fr.Q
		req.Freshness = &q
	}
	req.Now = h.opts.Now()
	res, err := query.Lifecycle(ctx, h.opts.Store, req)
	if err != nil {
		v.Charts = []views.Chart{views.Failed("lifecycle", "Lifecycle", h.readableErr(pr.c, "lifecycle", err))}
		return h.render(pr, http.StatusOK, p, views.LifecyclePage(v))
	}
	// The rows by group, in the answer's order; the periods not over
	// (or cut by the range) noted as on the time charts.
	var groups []string
	byGroup := map[string][]views.LifecyclePeriod{}
	inc := map[string]bool{}
	for _, row := range res.Rows {
		g := strings.Join(row.Dims, ",")
		if _, ok := byGroup[g]; !ok {
			groups = append(groups, g)
		}
		pl := row.Period.Format(catalog.DateLayout)
		byGroup[g] = append(byGroup[g], views.LifecyclePeriod{Period: pl, New: float64(row.New), Returning: float64(row.Returning),
			Resurrecting: float64(row.Resurrecting), Dormant: float64(row.Dormant), QuickRatio: row.QuickRatio})
		if !row.Complete {
			inc[pl] = true
		}
	}
	notes := h.incompleteNotes(pr, seriesResult{Incomplete: inc}, f)
	anns := h.annotations(ctx, f)
	channel := ""
	if len(f.Channels) == 1 {
		channel = f.Channels[0]
	}
	for _, g := range groups {
		periods := byGroup[g]
		if lifecycleEmpty(periods) {
			continue
		}
		id, title := "lifecycle", "Lifecycle"
		gv := cloneValues(vals)
		scope, ch := f.Assistants, channel
		if by != "" {
			id, title = "lifecycle-"+g, views.Label(g)
			gv.Set(by, g)
			if by == "assistant" {
				scope = []string{g}
			} else {
				ch = g
			}
		}
		chart := pr.chart(id, title, apiURL("lifecycle", gv))
		chart.Options = views.LifecycleOptions(periods, notes, marks(inScope(anns, scope, ch)), f.Interval)
		chart.Table = views.LifecycleTable(periods, notes)
		if by != "" {
			chart.Small = len(groups) > 1
			views.QuietMarks(chart.Options)
		}
		v.Charts = append(v.Charts, chart)
	}
	if len(v.Charts) == 0 {
		v.Empty = noData(pr, "Nobody was active on this slice in the range.")
	}
	if res.Source == "events" && f.zone() != "UTC" {
		v.Note += " " + f.zone() + " has no rollups of its own: computed from raw events."
	}
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.LifecyclePage(v))
}

// lifecycleLink is the Lifecycle page for one assistant and/or channel
// (empty: as f has it) over f's dates, zone and countries, split by by
// (empty: the whole slice); by week unless f is by month.
func lifecycleLink(f Filters, assistant, channel, by string) string {
	if assistant != "" {
		f.Assistants = []string{assistant}
	}
	if channel != "" {
		f.Channels = []string{channel}
	}
	if f.Interval != "month" {
		f.Interval = "week"
	}
	extra := url.Values{}
	if by != "" {
		extra.Set("by", by)
	}
	return pageURL("/lifecycle", f, extra)
}

// lifecycleEmpty reports whether nobody is counted in any period.
func lifecycleEmpty(ps []views.LifecyclePeriod) bool {
	for _, p := range ps {
		if p.New+p.Returning+p.Resurrecting+p.Dormant > 0 {
			return false
		}
	}
	return true
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
