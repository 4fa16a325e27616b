package dashboard

import (
	"context"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

type compareView struct {
	Multiples []Chart
	MultErr   string
	Table     Chart
}

// showComparePage: assistants × channels. One small chart per channel
// (active users of each assistant), and a table of the last period's
// active users and each assistant's share of the channel.
func (h *Handler) showComparePage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v compareView
	var demo bool
	anns := h.annotations(ctx, f)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); v.Multiples, v.MultErr = h.compareMultiples(ctx, c, f, anns) }()
	go func() { defer wg.Done(); v.Table = h.compareTable(ctx, c, f) }()
	go func() { defer wg.Done(); demo = h.demoShown(ctx, f) }()
	wg.Wait()
	p := h.page(c, "Compare", "/compare", f)
	p.CanCompare = true
	p.Demo = demo
	return h.render(c, http.StatusOK, p, ComparePage(v))
}

func (h *Handler) compareMultiples(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation) ([]Chart, string) {
	v := seriesParams(f, "active_users", "channel,assistant", "compare", compareParam(f))
	r, err := h.series(ctx, v)
	if err != nil {
		return nil, h.readableErr(c, "compare", err).Error()
	}
	var out []Chart
	for _, ch := range distinct(r, 0) {
		sub := filterRows(r, 0, ch)
		ss := pivot(sub, 1, false, Label)
		if allZero(ss) {
			continue
		}
		cv := seriesParams(f, "active_users", "channel,assistant", "channel", ch, "compare", compareParam(f))
		chart := Chart{ID: "channel-" + ch, Title: Label(ch), Small: true, CSV: apiURL("series", cv)}
		all := withPrevious(f, sub, 1, ss)
		chart.Options = lineOptions(r.Periods, all, false, false, anns, f.Interval)
		if f.Compare {
			dashPrevious(chart.Options, len(ss))
		}
		quietMarks(chart.Options)
		chart.Table = seriesTable(r.Periods, all, false)
		out = append(out, chart)
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, ""
}

func (h *Handler) compareTable(ctx context.Context, c echo.Context, f Filters) Chart {
	const id, title = "compare-table", "Assistants × channels in the last period"
	users := seriesParams(f, "active_users", "assistant,channel")
	share := seriesParams(f, "share", "assistant,channel", "share_of", "channel")
	ch := Chart{ID: id, Title: title, CSV: apiURL("series", share)}
	var ru, rs seriesResult
	var eu, es error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ru, eu = h.series(ctx, users) }()
	go func() { defer wg.Done(); rs, es = h.series(ctx, share) }()
	wg.Wait()
	if eu != nil {
		return failed(id, title, h.readableErr(c, id, eu))
	}
	if es != nil {
		return failed(id, title, h.readableErr(c, id, es))
	}
	if len(ru.Periods) == 0 {
		ch.Empty = emptyHint
		return ch
	}
	last := ru.Periods[len(ru.Periods)-1]
	ch.Note = "Period starting " + last + ". Share: the assistant's part of the channel's active users."
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
		ch.Table.Rows = append(ch.Table.Rows, []string{Label(row.Key[0]), Label(row.Key[1]), fmtInt(row.Value), fmtPct(shares[row.Key[0]+"|"+row.Key[1]])})
	}
	if len(ch.Table.Rows) == 0 {
		ch.Empty = emptyHint
	}
	return ch
}
