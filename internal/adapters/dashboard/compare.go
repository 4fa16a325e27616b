package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// showComparePage: assistants × channels. One small chart per channel
// (active users of each assistant), and a table of the last period's
// active users and each assistant's share of the channel.
func (h *Handler) showComparePage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v views.CompareView
	var demo bool
	anns := h.annotations(ctx, f)
	var wg sync.WaitGroup
	wg.Add(4)
	go func() {
		defer wg.Done()
		v.Multiples, v.MultErr = h.compareMultiples(ctx, pr, f, anns)
		if v.MultErr == "" && len(v.Multiples) == 0 {
			v.MultEmpty = noData(pr, "No channel has events for these dates and filters.")
		}
	}()
	go func() { defer wg.Done(); v.Table = h.compareTable(ctx, pr, f) }()
	go func() { defer wg.Done(); v.Stickiness = h.compareStickiness(ctx, pr, f) }()
	go func() { defer wg.Done(); demo = h.demoShown(ctx, f) }()
	wg.Wait()
	p := h.page(pr, "Compare", "/compare", f)
	p.CanCompare = true
	p.Demo = demo
	return h.render(pr, http.StatusOK, p, views.ComparePage(v))
}

func (h *Handler) compareMultiples(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) ([]views.Chart, string) {
	req := f.compared(f.series(query.ActiveUsers, query.DimChannel, query.DimAssistant))
	r, err := h.series(ctx, pr, req)
	if err != nil {
		return nil, h.readableErr(pr.c, "compare", err).Error()
	}
	inc := h.incompleteNotes(pr, r, f)
	var out []views.Chart
	for _, ch := range distinct(r, 0) {
		sub := filterRows(r, 0, ch)
		ss := pivot(sub, 1, false, views.Label)
		if allZero(ss) {
			continue
		}
		// The CSV of one small chart is the page's request on its channel.
		chart := seriesChart("channel-"+ch, views.Label(ch), onChannels(req, ch))
		chart.Small = true
		all := withPrevious(f, sub, 1, ss)
		tc := views.TimeChart{Periods: r.Periods, Series: all, Marks: marks(inScope(anns, distinct(sub, 1), ch)), Interval: f.Interval, Incomplete: inc}
		if f.Compare.On() {
			tc.PreviousFrom = len(ss)
			chart.Compared = comparedNote(r)
		}
		chart.Options = tc.Options()
		views.QuietMarks(chart.Options)
		chart.Table = views.SeriesTableMarked(r.Periods, all, false, inc)
		out = append(out, chart)
	}
	return out, ""
}

// inScope keeps the annotations that apply to a chart of the assistants
// on channel (empty: any): an annotation about Meta AI on WhatsApp has no
// place on the Telegram chart.
func inScope(anns []annotation.Annotation, assistants []string, channel string) []annotation.Annotation {
	var out []annotation.Annotation
	for _, a := range anns {
		if a.Channel != "" && channel != "" && a.Channel != channel {
			continue
		}
		if a.Assistant != "" && len(assistants) > 0 && !contains(assistants, a.Assistant) {
			continue
		}
		out = append(out, a)
	}
	return out
}

// lastPeriod is the period a "last period" table shows: the last complete
// one, or with partial=include the last one. ok is false when there is
// none.
func lastPeriod(r seriesResult, f Filters) (string, bool) {
	for i := len(r.Periods) - 1; i >= 0; i-- {
		if f.Partial || !r.Incomplete[r.Periods[i]] {
			return r.Periods[i], true
		}
	}
	return "", false
}

func (h *Handler) compareTable(ctx context.Context, pr *pageRequest, f Filters) views.Chart {
	const id, title = "compare-table", "Assistants × channels in the last complete period"
	users := f.series(query.ActiveUsers, query.DimAssistant, query.DimChannel)
	share := f.series(query.Share, query.DimAssistant, query.DimChannel)
	share.ShareOf = []query.Dim{query.DimChannel}
	ch := seriesChart(id, title, share)
	if f.Partial {
		ch.Title = "Assistants × channels in the last period (incomplete included)"
	}
	var ru, rs seriesResult
	var eu, es error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ru, eu = h.series(ctx, pr, users) }()
	go func() { defer wg.Done(); rs, es = h.series(ctx, pr, share) }()
	wg.Wait()
	if eu != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, eu))
	}
	if es != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, es))
	}
	last, ok := lastPeriod(ru, f)
	if !ok {
		ch.Empty = noData(pr, "No complete "+f.Interval+" in this range yet.")
		return ch
	}
	start, _ := parseDay(last)
	end := periodEnd(start, f.Interval)
	if end.After(f.To) {
		end = f.To
	}
	ch.Note = fmt.Sprintf("The %s %s to %s (%s days). Share: the assistant's part of all the channel's active users, whatever assistants the filter shows; a person on two assistants counts in both, so a channel's shares can add up past 100 %%.",
		f.Interval, last, end.Format(catalog.DateLayout), f.zone())
	if ru.Incomplete[last] {
		ch.Note = "Incomplete " + f.Interval + " (partial=include): " + ch.Note
	}
	shares := map[string]float64{}
	for _, row := range rs.Rows {
		if row.Period == last {
			shares[row.Key[0]+"|"+row.Key[1]] = row.Value
		}
	}
	ch.Table.Head = []string{"assistant", "channel", "active users", "share of channel"}
	for _, row := range ru.Rows {
		if row.Period != last || row.Value == 0 {
			continue
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{views.Label(row.Key[0]), views.Label(row.Key[1]), views.FormatInt(row.Value), views.FormatPercent(shares[row.Key[0]+"|"+row.Key[1]])})
	}
	if len(ch.Table.Rows) == 0 {
		ch.Empty = noData(pr, "Nobody was active in the "+f.Interval+" starting "+last+".")
	}
	return ch
}

// compareStickiness is the power-user curve: of each assistant's people
// active in the last whole 7 days of the page's range (ending on its last
// complete day), the share active on 1, 2, … 7 of them, and the share
// active on at least 5.
func (h *Handler) compareStickiness(ctx context.Context, pr *pageRequest, f Filters) views.Chart {
	const id, title = "stickiness", "How many days of the week people use each assistant"
	v := f.APIValues()
	v.Del("interval")
	v.Del("compare")
	v.Del("exact")
	v.Del("partial")
	v.Set("window", "7")
	v.Set("by", "assistant")
	req, err := query.ParseStickiness(v)
	if err != nil {
		return views.Failed(id, title, err)
	}
	req.Now = h.opts.Now()
	res, err := query.StickinessDistribution(ctx, h.opts.Store, req)
	if err != nil {
		return views.Failed(id, title, h.readableErr(pr.c, "stickiness", err))
	}
	ch := pr.chart(id, title, apiURL("stickiness", req.Values()))
	if len(res.Windows) == 0 {
		ch.Empty = noData(pr, "The range holds no whole 7 days up to the last complete day: choose a longer range.")
		return ch
	}
	last := res.Windows[len(res.Windows)-1].WindowEnd
	var curves []views.StickinessCurve
	for _, sw := range res.Windows {
		if !sw.WindowEnd.Equal(last) || sw.People == 0 {
			continue
		}
		c := views.StickinessCurve{Name: views.Label(sw.Dims[0]), People: sw.People, PowerPct: sw.PowerPct}
		for _, row := range res.Rows {
			if row.WindowEnd.Equal(last) && row.Dims[0] == sw.Dims[0] {
				c.SharePct = append(c.SharePct, row.SharePct)
			}
		}
		curves = append(curves, c)
	}
	if len(curves) == 0 {
		ch.Empty = noData(pr, "Nobody was active in the last whole 7 days of the range.")
		return ch
	}
	start := last.AddDate(0, 0, -6)
	ch.Note = fmt.Sprintf("People active in %s – %s (the last whole 7 days of the range, %s days), by the number of those days they were active on. "+
		"Power users: active on %d days or more. Exact, from the person-days.", start.Format(catalog.DateLayout), last.Format(catalog.DateLayout), f.zone(), query.PowerDays[7])
	ch.Options, ch.Table = views.StickinessOptions(curves, query.PowerDays[7])
	return ch
}
