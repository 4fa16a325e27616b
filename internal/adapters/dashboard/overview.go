package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

func (h *Handler) showOverviewPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v views.OverviewView
	var demo bool
	var anns = h.annotations(ctx, f)
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { v.KPIs, v.KPIErr = h.kpis(ctx, pr, f) })
	run(func() { v.Active = h.activeUsersChart(ctx, pr, f, anns) })
	run(func() { v.Mix = h.channelMixChart(ctx, pr, f, anns) })
	run(func() { demo = h.demoShown(ctx, f) })
	wg.Wait()
	p := h.page(pr, "Overview", "/", f)
	p.CanCompare = true
	p.Demo = demo
	return h.render(pr, http.StatusOK, p, views.OverviewPage(v))
}

// kpis: per assistant, the headline numbers of query.KPIs, each over the
// last complete period of its length (yesterday, last week, last month)
// with its change against the period before and its dates.
func (h *Handler) kpis(ctx context.Context, pr *pageRequest, f Filters) ([]views.KPI, string) {
	res, err := query.KPIs(ctx, h.opts.Store, f.queryFilters(), f.apiZone(), h.opts.Now())
	if err != nil {
		return nil, h.readableErr(pr.c, "kpis", err).Error()
	}
	out := make([]views.KPI, 0, len(res.Assistants))
	for _, a := range res.Assistants {
		out = append(out, views.KPI{Assistant: a.Assistant, Lifecycle: lifecycleLink(f, a.Assistant, "", "channel"),
			DAU: toKPIFigure(a.DAU, "day", false), WAU: toKPIFigure(a.WAU, "week", false),
			MAU: toKPIFigure(a.MAU, "month", false), Stickiness: toKPIFigure(a.Stickiness, "month", true)})
	}
	return out, ""
}

// toKPIFigure lays one query.KPI out for a tile: the value, its change and
// the dates of both periods in words.
func toKPIFigure(k query.KPI, interval string, ratio bool) views.KPIFigure {
	fig := views.KPIFigure{Value: k.Value, Period: periodWords(k.From, k.To, interval), Previous: k.Previous,
		PrevPeriod: shortPeriodWords(k.PrevFrom, k.PrevTo, interval), From: k.From.Format(catalog.DateLayout), To: k.To.Format(catalog.DateLayout)}
	if ratio {
		fig.Value, fig.Previous, fig.Percent = k.Value*100, k.Previous*100, true
	}
	if k.ChangePct != nil {
		fig.Change, fig.HasChange = *k.ChangePct, true
	}
	if k.ChangePP != nil {
		fig.Change, fig.HasChange, fig.Points = *k.ChangePP, true, true
	}
	return fig
}

// shortPeriodWords names the period before, without its year: "Mon 30
// Nov", "16–22 Nov", "October".
func shortPeriodWords(from, to time.Time, interval string) string {
	if from.IsZero() {
		return ""
	}
	switch interval {
	case "day":
		return from.Format("Mon 2 Jan")
	case "month":
		return from.Format("January")
	}
	if from.Month() == to.Month() {
		return fmt.Sprintf("%d–%s", from.Day(), to.Format("2 Jan"))
	}
	return from.Format("2 Jan") + " – " + to.Format("2 Jan")
}

// periodWords names a period: "Tue 1 Dec 2026", "23–29 Nov 2026",
// "November 2026".
func periodWords(from, to time.Time, interval string) string {
	if from.IsZero() {
		return ""
	}
	switch interval {
	case "day":
		return from.Format("Mon 2 Jan 2006")
	case "month":
		return from.Format("January 2006")
	}
	if from.Month() == to.Month() {
		return fmt.Sprintf("%d–%s", from.Day(), to.Format("2 Jan 2006"))
	}
	if from.Year() == to.Year() {
		return from.Format("2 Jan") + " – " + to.Format("2 Jan 2006")
	}
	return from.Format("2 Jan 2006") + " – " + to.Format("2 Jan 2006")
}

func (h *Handler) activeUsersChart(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) views.Chart {
	return h.drawLine(ctx, pr, f, anns, lineCard{
		id: "active-users", title: "Active users by assistant", note: intervalNote(f),
		req:      f.series(query.ActiveUsers, query.DimAssistant),
		previous: true,
	})
}

// channelMixChart stacks the channels' people and draws, over the stack,
// the distinct people of all the channels (the same slice without the
// channel grouping): the stack's top counts a person once per channel and
// is not a total.
func (h *Handler) channelMixChart(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) views.Chart {
	ch := h.drawLine(ctx, pr, f, anns, lineCard{
		id: "channel-mix", title: "Channel mix (active users by channel)",
		note: "Stacked: a person active on two channels counts on both, so the top of the stack is not a total; the black line is the distinct people of all these channels. " +
			assistantsNote(f),
		req: f.series(query.ActiveUsers, query.DimChannel), stacked: true,
	})
	if ch.Options == nil {
		return ch
	}
	r, err := h.series(ctx, pr, f.series(query.ActiveUsers))
	if err != nil {
		return views.Failed("channel-mix", ch.Title, h.readableErr(pr.c, "channel-mix", err))
	}
	total := views.Series{Name: views.DistinctTotalName, Values: make([]float64, len(r.Periods))}
	for _, s := range pivot(r, -1, false, nil) {
		for i, v := range s.Values {
			total.Values[i] += v
		}
	}
	views.AddTotalLine(ch.Options, total, h.incompleteNotes(pr, r, f), r.Periods)
	ch.Table.Head = append(ch.Table.Head, views.DistinctTotalName)
	for i := range ch.Table.Rows {
		if i < len(total.Values) {
			ch.Table.Rows[i] = append(ch.Table.Rows[i], views.FormatInt(total.Values[i]))
		}
	}
	return ch
}

func intervalNote(f Filters) string {
	return "Distinct people per " + f.Interval + ", " + f.FromString() + " to " + f.ToString() + " (" + f.zone() + " days). A dotted stretch is a period not over yet."
}

func assistantsNote(f Filters) string {
	if len(f.Assistants) == 0 {
		return "All assistants."
	}
	s := ""
	for i, a := range f.Assistants {
		if i > 0 {
			s += ", "
		}
		s += views.Label(a)
	}
	return s + "."
}

// withPrevious returns ss followed, when the filters compare with the
// previous period, by the previous period of each series of r (keyed as
// pivot keys them), named with previousSuffix; timeChart.previousFrom then
// draws those dashed in the same colour.
func withPrevious(f Filters, r seriesResult, keyIdx int, ss []views.Series) []views.Series {
	if !f.Compare.On() {
		return ss
	}
	all := append([]views.Series(nil), ss...)
	for _, s := range pivot(r, keyIdx, true, views.Label) {
		s.Name += views.ComparedSuffix(string(f.Compare))
		all = append(all, s)
	}
	return all
}
