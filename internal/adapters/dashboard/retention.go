package dashboard

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/query"
)

// retentionCohort is one first-seen period: its size and, for each later
// period (index 0 = the cohort's own period), the people active again.
type retentionCohort struct {
	Period string
	Size   float64
	Active []float64
}

type retentionView struct {
	Heatmap Chart
}

// showRetentionPage: cohorts by first-seen week (or month) for the slice
// of the filters; share of each cohort active again N periods later.
func (h *Handler) showRetentionPage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	p := h.page(c, "Retention", "/retention", f)
	if f.Interval == "day" {
		p.Notices = append(p.Notices, "Retention is by week or month; showing weeks.")
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := retentionView{Heatmap: h.retentionChart(ctx, c, f)}
	p.Demo = h.demoShown(ctx, f)
	return h.render(c, http.StatusOK, p, RetentionPage(v))
}

func retentionParams(f Filters) (query.RetentionRequest, string, error) {
	v := f.APIValues()
	if f.Interval == "day" {
		v.Set("interval", "week")
	}
	req, err := query.ParseRetention(v)
	return req, apiURL("retention", v), err
}

func (h *Handler) retentionChart(ctx context.Context, c echo.Context, f Filters) Chart {
	const id, title = "retention", "Retention by first-seen cohort"
	req, csv, err := retentionParams(f)
	ch := Chart{ID: id, Title: title, CSV: csv}
	if err != nil {
		return failed(id, title, err)
	}
	unit := string(req.Interval) + "s"
	ch.Note = "Rows: people first seen in the " + string(req.Interval) + " (within the slice). Columns: " + unit + " since. Cells: percent of the cohort active again."
	cohorts, err := h.runRetention(ctx, req)
	if err != nil {
		return failed(id, title, h.readableErr(c, id, err))
	}
	n := 0
	for _, co := range cohorts {
		if len(co.Active) > n {
			n = len(co.Active)
		}
	}
	if len(cohorts) == 0 || n == 0 {
		ch.Empty = emptyHint
		return ch
	}
	xs := make([]string, n)
	for i := range xs {
		xs[i] = strconv.Itoa(i)
	}
	var ys []string
	var cells [][3]float64
	ch.Table.Head = append([]string{"cohort", "people"}, xs...)
	for yi, co := range cohorts {
		ys = append(ys, co.Period+" ("+fmtInt(co.Size)+")")
		row := []string{co.Period, fmtInt(co.Size)}
		for xi, a := range co.Active {
			pct := 0.0
			if co.Size > 0 {
				pct = a / co.Size * 100
			}
			cells = append(cells, [3]float64{float64(xi), float64(yi), pct})
			row = append(row, fmtPct(pct))
		}
		ch.Table.Rows = append(ch.Table.Rows, row)
	}
	ch.Options = heatmapOptions(xs, ys, cells)
	ch.Options["xAxis"] = []any{map[string]any{"type": "category", "data": xs, "name": unit + " since", "nameLocation": "middle", "nameGap": 24}}
	return ch
}
