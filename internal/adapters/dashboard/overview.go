package dashboard

import (
	"context"
	"math"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

type overviewView struct {
	KPIs   []KPI
	KPIErr string
	Active Chart
	Mix    Chart
}

func (h *Handler) showOverviewPage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v overviewView
	var demo bool
	var anns = h.annotations(ctx, f)
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { v.KPIs, v.KPIErr = h.kpis(ctx, c, f) })
	run(func() { v.Active = h.activeUsersChart(ctx, c, f, anns) })
	run(func() { v.Mix = h.channelMixChart(ctx, c, f, anns) })
	run(func() { demo = h.demoShown(ctx, f) })
	wg.Wait()
	p := h.page(c, "Overview", "/", f)
	p.CanCompare = true
	p.Demo = demo
	return h.render(c, http.StatusOK, p, OverviewPage(v))
}

// kpis: per assistant, average daily, weekly and monthly active users over
// the range (the means of the query API's day, week and month series),
// stickiness = DAU ÷ MAU, and the change of average DAU against the
// previous period of equal length.
func (h *Handler) kpis(ctx context.Context, c echo.Context, f Filters) ([]KPI, string) {
	type res struct {
		r   seriesResult
		err error
	}
	var day, week, month res
	var wg sync.WaitGroup
	for _, x := range []struct {
		dst *res
		iv  string
		cmp string
	}{{&day, "day", "previous"}, {&week, "week", ""}, {&month, "month", ""}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x.dst.r, x.dst.err = h.series(ctx, seriesParams(f, "active_users", "assistant", "interval", x.iv, "compare", x.cmp))
		}()
	}
	wg.Wait()
	for _, r := range []res{day, week, month} {
		if r.err != nil {
			return nil, h.readableErr(c, "kpis", r.err).Error()
		}
	}
	dau := meanBy(day.r, false)
	prev := meanBy(day.r, true)
	wau := meanBy(week.r, false)
	mau := meanBy(month.r, false)
	var out []KPI
	for _, a := range distinct(day.r, 0) {
		k := KPI{Assistant: a, DAU: dau[a], WAU: wau[a], MAU: mau[a]}
		if k.MAU > 0 {
			k.Stickiness = math.Round(k.DAU/k.MAU*1000) / 10
		}
		if p := prev[a]; p > 0 {
			k.Change, k.HasChange = math.Round((k.DAU-p)/p*1000)/10, true
		}
		k.DAU, k.WAU, k.MAU = math.Round(k.DAU), math.Round(k.WAU), math.Round(k.MAU)
		out = append(out, k)
	}
	return out, ""
}

// meanBy is the mean over the range's periods of each first-key group
// (periods without a row count as 0).
func meanBy(r seriesResult, prev bool) map[string]float64 {
	out := map[string]float64{}
	if len(r.Periods) == 0 {
		return out
	}
	for _, s := range pivot(r, 0, prev, nil) {
		sum := 0.0
		for _, v := range s.Values {
			sum += v
		}
		out[s.Name] = sum / float64(len(r.Periods))
	}
	return out
}

func (h *Handler) activeUsersChart(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation) Chart {
	return h.drawLine(ctx, c, f, anns, lineCard{
		id: "active-users", title: "Active users by assistant", note: intervalNote(f),
		params:   seriesParams(f, "active_users", "assistant", "compare", compareParam(f)),
		previous: true, empty: emptyHint,
	})
}

func (h *Handler) channelMixChart(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation) Chart {
	return h.drawLine(ctx, c, f, anns, lineCard{
		id: "channel-mix", title: "Channel mix (active users by channel)",
		note:   "Stacked: a person active on two channels counts on both. " + assistantsNote(f),
		params: seriesParams(f, "active_users", "channel"), stacked: true, empty: emptyHint,
	})
}

func compareParam(f Filters) string {
	if f.Compare {
		return "previous"
	}
	return ""
}

func intervalNote(f Filters) string {
	return "Distinct people per " + f.Interval + ", " + f.FromString() + " to " + f.ToString() + " (UTC)."
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
		s += Label(a)
	}
	return s + "."
}

// withPrevious returns ss followed, when the filters compare with the
// previous period, by the previous period of each series of r (keyed as
// pivot keys them), named with previousSuffix; dashPrevious then draws those
// dashed in the same colour.
func withPrevious(f Filters, r seriesResult, keyIdx int, ss []Series) []Series {
	if !f.Compare {
		return ss
	}
	all := append([]Series(nil), ss...)
	for _, s := range pivot(r, keyIdx, true, Label) {
		s.Name += previousSuffix
		all = append(all, s)
	}
	return all
}

// dashPrevious draws the series from index n on (previous period) dashed.
func dashPrevious(o map[string]any, n int) {
	ss, ok := o["series"].([]any)
	if !ok {
		return
	}
	for i := n; i < len(ss); i++ {
		if m, ok := toMap(ss[i]); ok {
			ls, _ := toMap(m["lineStyle"])
			if ls == nil {
				ls = map[string]any{}
			}
			ls["type"], ls["opacity"] = "dashed", 0.7
			m["lineStyle"] = ls
			ss[i] = m
		}
	}
}
