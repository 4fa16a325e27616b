package dashboard

import (
	"context"

	"github.com/adoptscope/adoptscope/query"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/views"
)

// lineCard is a card whose chart is one series query drawn as a line per
// value of its first by dimension: the Overview's active users and channel
// mix, the Channel page's share.
type lineCard struct {
	id, title, note string
	req             query.SeriesRequest // the query (its encoding is the CSV link)
	percent         bool                // values are percentages
	stacked         bool
	// previous draws the window compared with dashed beside each line
	// when the filters ask to compare (req is then compared).
	previous bool
	empty    string // the message when the slice has no events
}

// drawLine runs the card's query and draws it, or says why it cannot.
func (h *Handler) drawLine(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation, lc lineCard) views.Chart {
	req := lc.req
	if lc.previous {
		req = f.compared(req)
	}
	ch := seriesChart(lc.id, lc.title, req)
	ch.Note = lc.note
	r, err := h.series(ctx, pr, req)
	if err != nil {
		return views.Failed(lc.id, lc.title, h.readableErr(pr.c, lc.id, err))
	}
	ss := pivot(r, 0, false, views.Label)
	if allZero(ss) {
		ch.Empty = noData(pr, lc.empty)
		return ch
	}
	lines := ss
	if lc.previous {
		lines = withPrevious(f, r, 0, ss)
	}
	tc := views.TimeChart{Periods: r.Periods, Series: lines, Stacked: lc.stacked, Percent: lc.percent, Marks: marks(anns),
		Interval: f.Interval, Incomplete: h.incompleteNotes(pr, r, f)}
	if lc.previous && f.Compare.On() {
		tc.PreviousFrom = len(ss)
		ch.Compared = comparedNote(r)
	}
	ch.Options = tc.Options()
	ch.Table = views.SeriesTableMarked(r.Periods, lines, lc.percent, tc.Incomplete)
	return ch
}
