package dashboard

import (
	"context"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

// lineCard is a card whose chart is one series query drawn as a line per
// value of its first by dimension: the Overview's active users and channel
// mix, the Channel page's share.
type lineCard struct {
	id, title, note string
	params          url.Values // the query API parameters (also the CSV link)
	percent         bool       // values are percentages
	stacked         bool
	// previous draws the previous range dashed beside each line when the
	// filters ask to compare.
	previous bool
	empty    string // the message when the slice has no events
}

// drawLine runs the card's query and draws it, or says why it cannot.
func (h *Handler) drawLine(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation, lc lineCard) Chart {
	ch := Chart{ID: lc.id, Title: lc.title, CSV: apiURL("series", lc.params), Note: lc.note}
	r, err := h.series(ctx, lc.params)
	if err != nil {
		return failed(lc.id, lc.title, h.readableErr(c, lc.id, err))
	}
	ss := pivot(r, 0, false, Label)
	if allZero(ss) {
		ch.Empty = noData(ctx, lc.empty)
		return ch
	}
	lines := ss
	if lc.previous {
		lines = withPrevious(f, r, 0, ss)
	}
	tc := timeChart{periods: r.Periods, series: lines, stacked: lc.stacked, percent: lc.percent, anns: anns,
		interval: f.Interval, incomplete: h.incompleteNotes(ctx, r, f)}
	if lc.previous && f.Compare {
		tc.previousFrom = len(ss)
	}
	ch.Options = tc.options()
	ch.Table = seriesTableInc(r.Periods, lines, lc.percent, tc.incomplete)
	return ch
}
