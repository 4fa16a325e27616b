package dashboard

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// showModalitiesPage: modality mix (percent of events) by channel over
// time, one chart per channel.
func (h *Handler) showModalitiesPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Modalities", "/modalities", f)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	anns := h.annotations(ctx, f)
	var v views.ModalitiesView
	v.Charts, v.Err = h.modalityCharts(ctx, pr, f, anns)
	if v.Err == "" && len(v.Charts) == 0 {
		v.Empty = noData(pr, "No channel has events for these dates and filters.")
	}
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.ModalitiesPage(v))
}

func (h *Handler) modalityCharts(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) ([]views.Chart, string) {
	req := f.series(query.ModalityMix, query.DimChannel, query.DimModality)
	r, err := h.series(ctx, pr, req)
	if err != nil {
		return nil, h.readableErr(pr.c, "modalities", err).Error()
	}
	inc := h.incompleteNotes(pr, r, f)
	var out []views.Chart
	for _, ch := range distinct(r, 0) {
		ss := pivot(filterRows(r, 0, ch), 1, false, views.Label)
		if allZero(ss) {
			continue
		}
		pct := toPercent(ss, len(r.Periods))
		chart := seriesChart("modality-"+ch, views.Label(ch), onChannels(req, ch))
		chart.Small = true
		chart.Options = views.TimeChart{Periods: r.Periods, Series: pct, Stacked: true, Percent: true, Marks: marks(inScope(anns, f.Assistants, ch)),
			Interval: f.Interval, Incomplete: inc}.Options()
		views.QuietMarks(chart.Options)
		chart.Table = views.SeriesTableMarked(r.Periods, pct, true, inc)
		out = append(out, chart)
	}
	return out, ""
}

// toPercent turns counts into each series' percent of the period total.
func toPercent(ss []views.Series, n int) []views.Series {
	totals := make([]float64, n)
	for _, s := range ss {
		for i, v := range s.Values {
			totals[i] += v
		}
	}
	out := make([]views.Series, len(ss))
	for j, s := range ss {
		out[j] = views.Series{Name: s.Name, Values: make([]float64, n)}
		for i, v := range s.Values {
			if totals[i] > 0 {
				out[j].Values[i] = v / totals[i] * 100
			}
		}
	}
	return out
}
