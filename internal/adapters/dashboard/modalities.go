package dashboard

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

type modalitiesView struct {
	Charts []Chart
	Err    string
	Empty  string
}

// showModalitiesPage: modality mix (percent of events) by channel over
// time, one chart per channel.
func (h *Handler) showModalitiesPage(c echo.Context) error {
	f := h.filters(c)
	p := h.page(c, "Modalities", "/modalities", f)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	anns := h.annotations(ctx, f)
	var v modalitiesView
	v.Charts, v.Err = h.modalityCharts(ctx, c, f, anns)
	if v.Err == "" && len(v.Charts) == 0 {
		v.Empty = noData(ctx, "No channel has events for these dates and filters.")
	}
	p.Demo = h.demoShown(ctx, f)
	return h.render(c, http.StatusOK, p, ModalitiesPage(v))
}

func (h *Handler) modalityCharts(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation) ([]Chart, string) {
	v := seriesParams(f, "modality_mix", "channel,modality")
	r, err := h.series(ctx, v)
	if err != nil {
		return nil, h.readableErr(c, "modalities", err).Error()
	}
	inc := h.incompleteNotes(ctx, r, f)
	var out []Chart
	for _, ch := range distinct(r, 0) {
		ss := pivot(filterRows(r, 0, ch), 1, false, Label)
		if allZero(ss) {
			continue
		}
		pct := toPercent(ss, len(r.Periods))
		cv := seriesParams(f, "modality_mix", "channel,modality", "channel", ch)
		chart := Chart{ID: "modality-" + ch, Title: Label(ch), Small: true, CSV: apiURL("series", cv)}
		chart.Options = timeChart{periods: r.Periods, series: pct, stacked: true, percent: true, anns: inScope(anns, f.Assistants, ch),
			interval: f.Interval, incomplete: inc}.options()
		quietMarks(chart.Options)
		chart.Table = seriesTableInc(r.Periods, pct, true, inc)
		out = append(out, chart)
	}
	return out, ""
}

// toPercent turns counts into each series' percent of the period total.
func toPercent(ss []Series, n int) []Series {
	totals := make([]float64, n)
	for _, s := range ss {
		for i, v := range s.Values {
			totals[i] += v
		}
	}
	out := make([]Series, len(ss))
	for j, s := range ss {
		out[j] = Series{Name: s.Name, Values: make([]float64, n)}
		for i, v := range s.Values {
			if totals[i] > 0 {
				out[j].Values[i] = v / totals[i] * 100
			}
		}
	}
	return out
}
