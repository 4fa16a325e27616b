package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// retentionCohort is one first-seen period: its size and, for each later
// period (index 0 = the cohort's own period), the people active again.
type retentionCohort struct {
	Period string
	Size   float64
	Active []float64
	// Observed and Complete, per later period: the days of it observed,
	// and whether that is all of it.
	Observed []int
	Complete []bool
}

// showRetentionPage: cohorts by first-seen week (or month) for the slice
// of the filters; share of each cohort active again N periods later.
func (h *Handler) showRetentionPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Retention", "/retention", f)
	if f.Interval == "day" {
		p.Notices = append(p.Notices, "Retention is by week or month; showing weeks.")
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := views.RetentionView{Heatmap: h.retentionChart(ctx, pr, f)}
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.RetentionPage(v))
}

func retentionParams(f Filters) (query.RetentionRequest, string, error) {
	v := f.APIValues()
	if f.Interval == "day" {
		v.Set("interval", "week")
	}
	req, err := query.ParseRetention(v)
	return req, apiURL("retention", v), err
}

// smallCohort is the size below which a cohort's rates are muted and
// marked: with fewer people one person moves a rate by more than 3 points.
const smallCohort = 30

func (h *Handler) retentionChart(ctx context.Context, pr *pageRequest, f Filters) views.Chart {
	const id, title = "retention", "Retention by first-seen cohort"
	req, csv, err := retentionParams(f)
	ch := pr.chart(id, title, csv)
	if err != nil {
		return views.Failed(id, title, err)
	}
	unit := string(req.Interval) + "s"
	cohorts, err := h.runRetention(ctx, req)
	if err != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, err))
	}
	n := 0
	for _, co := range cohorts {
		if len(co.Active) > n {
			n = len(co.Active)
		}
	}
	if len(cohorts) == 0 || n == 0 {
		ch.Empty = noData(pr, "Nobody was first seen on this slice in the range.")
		return ch
	}
	ch.Note = "Rows: people first seen in the " + string(req.Interval) + " (within the slice), with the cohort's size. Columns: " + unit +
		" since. Cells: percent of the cohort active again; hover a cell for the people. Muted rows marked ◦ are cohorts of fewer than " +
		fmt.Sprint(smallCohort) + " people; hatched cells are " + unit + " not over yet, with the days observed. Days are UTC days."
	xs := make([]string, n)
	for i := range xs {
		xs[i] = strconv.Itoa(i)
	}
	var rows []views.CohortRow
	var cells []views.RetentionCell
	ch.Table.Head = append([]string{"cohort", "people"}, xs...)
	for yi, co := range cohorts {
		small := co.Size < smallCohort
		label := co.Period + " (" + views.FormatInt(co.Size) + ")"
		if small {
			label = "◦ " + label
		}
		rows = append(rows, views.CohortRow{Label: label, Small: small})
		cohortCell := co.Period
		if small {
			cohortCell += " (small cohort)"
		}
		row := []string{cohortCell, views.FormatInt(co.Size)}
		start, _ := parseDay(co.Period)
		for xi, a := range co.Active {
			pct := 0.0
			if co.Size > 0 {
				pct = a / co.Size * 100
			}
			period := start.AddDate(0, 0, 7*xi).Format(catalog.DateLayout)
			if req.Interval == query.Month {
				period = start.AddDate(0, xi, 0).Format(catalog.DateLayout)
			}
			pstart, _ := parseDay(period)
			length := int(periodEnd(pstart, string(req.Interval)).Sub(pstart).Hours()/24) + 1
			seen := co.Observed[xi]
			note := ""
			text := views.FormatPercent(pct)
			if !co.Complete[xi] {
				note = fmt.Sprintf("%s %s not over: %d of %d days observed", string(req.Interval), period, seen, length)
				text += fmt.Sprintf(" (%d of %d days)", seen, length)
			}
			if small && note == "" {
				note = fmt.Sprintf("small cohort: fewer than %d people, one person moves the rate by %.1f points", smallCohort, 100/co.Size)
			}
			cells = append(cells, views.RetentionCell{X: xi, Y: yi, Pct: pct, Incomplete: !co.Complete[xi], Small: small,
				Cohort: co.Period, Size: views.FormatInt(co.Size), Offset: fmt.Sprintf("%d %s since", xi, unit), Users: views.FormatInt(a), Note: note})
			row = append(row, text)
		}
		ch.Table.Rows = append(ch.Table.Rows, row)
	}
	ch.Options = views.RetentionOptions(xs, unit, rows, cells)
	return ch
}
