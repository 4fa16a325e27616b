package dashboard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"

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
// of the filters; share of each cohort active again N periods later, with
// the cohorts' average curve above.
func (h *Handler) showRetentionPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Retention", "/retention", f)
	if f.Interval == "day" {
		p.Notices = append(p.Notices, "Retention is by week or month; showing weeks.")
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := h.retentionCharts(ctx, pr, f)
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

// smallCohort is the size below which a cohort is marked † and listed
// under the heatmap: with fewer people one person moves a rate by more
// than 3 points. Its cells keep the colour of their rate.
const smallCohort = 30

// Marks of the heatmap's rows.
const (
	smallMark    = "†"
	censoredText = "active before the data starts"
)

// retentionCharts is the page: the heatmap, the average curve of its
// cohorts (size-weighted, complete cells, the left-censored cohort left
// out: query.RetentionResult.Average) and the marked cohorts.
func (h *Handler) retentionCharts(ctx context.Context, pr *pageRequest, f Filters) views.RetentionView {
	const id, title = "retention", "Retention by first-seen cohort"
	const aid, atitle = "retention-average", "Average retention curve"
	req, csv, err := retentionParams(f)
	ch := pr.chart(id, title, csv)
	if err != nil {
		return views.RetentionView{Heatmap: views.Failed(id, title, err)}
	}
	unit := string(req.Interval) + "s"
	cohorts, res, err := h.runRetention(ctx, req)
	if err != nil {
		return views.RetentionView{Heatmap: views.Failed(id, title, h.readableErr(pr.c, id, err))}
	}
	// A period in which nobody was first seen is no cohort: it has no
	// rate to colour (0 of 0 is not 0 %), so it gets no row; the note
	// names those periods.
	var empty []string
	kept := cohorts[:0]
	for _, co := range cohorts {
		if co.Size == 0 {
			empty = append(empty, co.Period)
			continue
		}
		kept = append(kept, co)
	}
	cohorts = kept
	n := 0
	for _, co := range cohorts {
		if len(co.Active) > n {
			n = len(co.Active)
		}
	}
	if len(cohorts) == 0 || n == 0 {
		ch.Empty = noData(pr, "Nobody was first seen on this slice in the range.")
		return views.RetentionView{Heatmap: ch}
	}
	v := views.RetentionView{}
	var censored []string // the left-censored cohorts, with their sizes
	ch.Note = "Rows: people first seen in the " + string(req.Interval) + " (within the slice), with the cohort's size. Columns: " + unit +
		" since. Cells: percent of the cohort active again, and the colour is that percent alone; hover a cell for the people. " +
		smallMark + " and a dotted outline: a cohort of fewer than " + fmt.Sprint(smallCohort) + " people (listed below); dashed amber borders: " + unit +
		" not over yet, with the days observed. Days are " + f.zone() + " days."
	if len(empty) > 0 {
		ch.Note += " Nobody was first seen in " + strings.Join(empty, ", ") + ": no row."
	}
	xs := make([]string, n)
	for i := range xs {
		xs[i] = strconv.Itoa(i)
	}
	var rows []views.CohortRow
	var cells []views.RetentionCell
	ch.Table.Head = append([]string{"cohort", "people"}, xs...)
	for yi, co := range cohorts {
		start, _ := parseDay(co.Period)
		isCensored := res.IsLeftCensored(start)
		small := co.Size < smallCohort && !isCensored
		label := co.Period + " (" + views.FormatInt(co.Size) + ")"
		cohortCell := co.Period
		switch {
		case isCensored:
			label = censoredText + " (" + views.FormatInt(co.Size) + ")"
			cohortCell += " (" + censoredText + ")"
			censored = append(censored, co.Period+" ("+views.FormatInt(co.Size)+" people)")
		case small:
			label += " " + smallMark
			cohortCell += " " + smallMark + " (small cohort)"
			v.Small = append(v.Small, co.Period+" ("+views.FormatInt(co.Size)+")")
		}
		rows = append(rows, views.CohortRow{Label: label})
		row := []string{cohortCell, views.FormatInt(co.Size)}
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
			var notes []string
			text := views.FormatPercent(pct)
			if !co.Complete[xi] {
				notes = append(notes, fmt.Sprintf("%s %s not over: %d of %d days observed", string(req.Interval), period, seen, length))
				text += fmt.Sprintf(" (%d of %d days)", seen, length)
			}
			if small {
				notes = append(notes, fmt.Sprintf("small cohort: fewer than %d people, one person moves the rate by %.1f points", smallCohort, 100/co.Size))
			}
			if isCensored {
				notes = append(notes, censoredText+": not new people; left out of the average")
			}
			cells = append(cells, views.RetentionCell{X: xi, Y: yi, Pct: pct, Incomplete: !co.Complete[xi], Small: small,
				Cohort: co.Period, Size: views.FormatInt(co.Size), Offset: fmt.Sprintf("%d %s since", xi, unit), Users: views.FormatInt(a), Note: strings.Join(notes, "; ")})
			row = append(row, text)
		}
		ch.Table.Rows = append(ch.Table.Rows, row)
	}
	ch.Options = views.RetentionOptions(xs, unit, rows, cells)
	v.Heatmap = ch
	if len(censored) > 0 {
		what := "the " + string(req.Interval) + " the data starts in"
		if len(censored) > 1 {
			what += " and the next one (the data starts after the first day of its " + string(req.Interval) + ", which was seen only in part)"
		}
		v.Censored = "Labelled " + censoredText + ": " + joinAnd(censored) + ", " + what +
			". Their people are everyone already active then, most of them first seen before the data begins: they are not new people, and the average curve leaves them out."
	}
	if len(v.Small) > 0 {
		v.SmallNote = fmt.Sprintf("%s Small cohorts, fewer than %d people (one person moves their rates by more than %.1f points; their colour is their rate like any other row's): ",
			smallMark, smallCohort, 100.0/smallCohort)
	}
	v.Average = retentionAverageChart(pr, aid, atitle, csv, unit, xs, res)
	return v
}

// retentionAverageChart draws res.Average: per offset, the people active
// again over the people of the cohorts with that period complete.
func retentionAverageChart(pr *pageRequest, id, title, csv, unit string, xs []string, res query.RetentionResult) views.Chart {
	ch := pr.chart(id, title, csv)
	ch.Note = "Of all the people of the cohorts below, the percent active again N " + unit + " after their first: each cohort counts by its size " +
		"(people active again over people, summed over the cohorts), complete " + unit + " only, and the cohorts labelled " + censoredText +
		" left out. Later points rest on fewer, older cohorts: the table says how many."
	if len(res.Average) == 0 {
		ch.Empty = noData(pr, "No complete "+string(res.Interval)+" of a cohort yet: the average needs at least one.")
		return ch
	}
	rates := make([]float64, len(xs))
	for i := range rates {
		rates[i] = math.NaN()
	}
	ch.Table.Head = []string{unit + " since", "active again", "people active again", "people", "cohorts"}
	for _, a := range res.Average {
		if a.Offset < len(rates) {
			rates[a.Offset] = a.RatePct
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{strconv.Itoa(a.Offset), views.FormatPercent(a.RatePct),
			views.FormatInt(float64(a.Users)), views.FormatInt(float64(a.People)), strconv.Itoa(a.Cohorts)})
	}
	ch.Options = views.RetentionAverageOptions(xs, unit, rates)
	return ch
}
