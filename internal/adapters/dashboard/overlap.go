package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// showOverlapPage: for the filters' range (complete days), the share of
// each assistant's people also active on each other one (a matrix), the
// exclusive and shared people per assistant (bars), and the pairs by month.
// Channel and country filters restrict the activity counted; exact counts.
func (h *Handler) showOverlapPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Audience overlap", "/overlap", f)
	// Overlap counts distinct people over the whole range and by calendar
	// month (query.Overlap has no interval of its own): the control that
	// would do nothing here is hidden, its value kept.
	p.Hide = []string{"interval"}
	p.HideWhy = "Overlap counts people over the whole range and by calendar month of the chosen time zone: no interval applies here (your choice is kept for the other pages)."
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	var v views.OverlapView
	// color: what the matrix is coloured by (an allow-list; anything else
	// is the default, and said so).
	color := c.QueryParam("color")
	switch color {
	case "", "share":
		color = "share"
	case "lift":
	default:
		p.Notices = append(p.Notices, fmt.Sprintf("color=%q is not a colouring of the matrix: want share or lift; showing share.", color))
		color = "share"
	}
	v.Color = color
	link := func(col string) string {
		u := *c.Request().URL
		q := u.Query()
		q.Set("color", col)
		u.RawQuery = q.Encode()
		return u.RequestURI()
	}
	v.ShareURL, v.LiftURL = link("share"), link("lift")
	qf := f.queryFilters()
	whole, err := query.Overlap(ctx, h.opts.Store, query.OverlapRequest{From: f.From, To: f.To, Filters: qf, TZ: f.apiZone(), Now: h.opts.Now()})
	csvParams := func(interval string) url.Values {
		u := f.sliceValues()
		u.Set("from", f.FromString())
		u.Set("to", f.ToString())
		if interval != "" {
			u.Set("interval", interval)
		}
		return u
	}
	if err != nil {
		e := h.readableErr(pr.c, "overlap", err)
		v.Matrix, v.Bars = views.Failed("overlap-matrix", "Overlap", e), views.Failed("overlap-bars", "Exclusive and shared", e)
	} else {
		v.Matrix, v.Bars = overlapMatrix(whole, color), overlapBars(whole)
		v.Matrix.CSV, v.Bars.CSV = apiURL("overlap", csvParams("")), apiURL("overlap", csvParams(""))
		v.Matrix.Schedule = scheduleURL(v.Matrix.CSV, v.Matrix.Title, f.Range)
		v.Bars.Schedule = scheduleURL(v.Bars.CSV, v.Bars.Title, f.Range)
	}
	monthly, err := query.Overlap(ctx, h.opts.Store, query.OverlapRequest{From: f.From, To: f.To, Interval: query.Month, Filters: qf, TZ: f.apiZone(), Now: h.opts.Now()})
	if err != nil {
		v.Monthly = views.Failed("overlap-monthly", "By month", h.readableErr(pr.c, "overlap by month", err))
	} else {
		v.Monthly = overlapMonthly(monthly)
		v.Monthly.CSV = apiURL("overlap", csvParams("month"))
		v.Monthly.Schedule = scheduleURL(v.Monthly.CSV, v.Monthly.Title, f.Range)
	}
	p.Demo = h.demoShown(ctx, f)
	return h.render(pr, http.StatusOK, p, views.OverlapPage(v))
}

const overlapNote = "Exact counts of people (keyed user ids) active on each assistant in the range, complete days only. A person active on two assistants counts in both: that is why shares of a channel can add up past 100 %."

func overlapEmpty(res query.OverlapResult) string {
	if len(res.Periods) == 0 || res.Periods[0].People == 0 {
		return "No one is active in this range and slice. Widen the dates or clear the channel and country filters."
	}
	return ""
}

// overlapMatrix: row assistant's people who were also active on the
// column assistant, in percent of the row's people.
func overlapMatrix(res query.OverlapResult, color string) views.Chart {
	ch := views.Chart{ID: "overlap-matrix", Title: "Share of each assistant's people also active on another", Note: overlapNote + " Read a row: of the row assistant's people, the percentage also active on the column assistant.", Empty: overlapEmpty(res)}
	if ch.Empty != "" {
		return ch
	}
	p := res.Periods[0]
	labels := make([]string, len(res.Assistants))
	for i, a := range res.Assistants {
		labels[i] = views.Label(a)
	}
	ch.Table.Head = append([]string{"people of ↓ also on →"}, labels...)
	var cells []views.MatrixCell
	for i, a := range res.Assistants {
		row := []string{fmt.Sprintf("%s (%s)", labels[i], views.FormatInt(float64(p.Active[i])))}
		for j, b := range res.Assistants {
			if i == j {
				row = append(row, "—")
				continue
			}
			both := res.Both(p, a, b)
			share := query.SharePct(both, p.Active[i])
			row = append(row, fmt.Sprintf("%s (%s)", views.FormatPercent(share), views.FormatInt(float64(both))))
			lift := math.NaN()
			tip := fmt.Sprintf("%s of %s's %s people were also active on %s (%s people)",
				views.FormatPercent(share), labels[i], views.FormatInt(float64(p.Active[i])), labels[j], views.FormatInt(float64(both)))
			if l := query.Lift(both, p.Active[i], p.Active[j], p.People); l != nil {
				lift = *l
				tip += fmt.Sprintf("; lift %.2f: %s of everyone's %s people use %s", lift, views.FormatPercent(query.SharePct(p.Active[j], p.People)),
					views.FormatInt(float64(p.People)), labels[j])
			}
			cells = append(cells, views.MatrixCell{X: j, Y: i, Pct: share, Tip: tip, Lift: lift})
		}
		ch.Table.Rows = append(ch.Table.Rows, row)
	}
	ch.Options = views.OverlapMatrixOptions(labels, cells)
	if color == "lift" {
		ch.Title = "Lift: how much more likely each assistant's people are to use another"
		ch.Note = overlapNote + " Read a row: how many times more likely the row assistant's people are to be active on the column assistant than anyone active on any of them; 1 is chance."
		ch.Options = views.OverlapLiftOptions(labels, cells)
		ch.Table.Head = append([]string{"lift: people of ↓ on →"}, labels...)
		for i := range ch.Table.Rows {
			for j := range res.Assistants {
				if i == j {
					continue
				}
				ch.Table.Rows[i][j+1] = "—"
				if l := query.Lift(res.Both(p, res.Assistants[i], res.Assistants[j]), p.Active[i], p.Active[j], p.People); l != nil {
					ch.Table.Rows[i][j+1] = fmt.Sprintf("%.2f×", *l)
				}
			}
		}
	}
	return ch
}

// overlapBars: per assistant, the people active on it only and those
// also active on another assistant.
func overlapBars(res query.OverlapResult) views.Chart {
	ch := views.Chart{ID: "overlap-bars", Title: "Exclusive and shared people per assistant", Empty: overlapEmpty(res),
		Note: "Exclusive: active on this assistant only in the range; shared: also active on at least one other."}
	if ch.Empty != "" {
		return ch
	}
	p := res.Periods[0]
	var labels []string
	var excl, shared []float64
	ch.Table.Head = []string{"assistant", "people", "exclusive", "shared", "exclusive %"}
	for i, a := range res.Assistants {
		labels = append(labels, views.Label(a))
		excl = append(excl, float64(p.Exclusive[i]))
		shared = append(shared, float64(p.Active[i]-p.Exclusive[i]))
		ch.Table.Rows = append(ch.Table.Rows, []string{views.Label(a), views.FormatInt(float64(p.Active[i])), views.FormatInt(float64(p.Exclusive[i])),
			views.FormatInt(float64(p.Active[i] - p.Exclusive[i])), views.FormatPercent(query.SharePct(p.Exclusive[i], p.Active[i]))})
	}
	ch.Options = views.ExclusiveSharedOptions(labels, excl, shared)
	return ch
}

// overlapMonthly: the pairs by month, as a table (a month cut by the range
// or not complete yet is marked).
func overlapMonthly(res query.OverlapResult) views.Chart {
	ch := views.Chart{ID: "overlap-monthly", Title: "People on two assistants, by month", Note: "Each pair's people active on both in the month, and as a share of each."}
	if len(res.Periods) == 0 || len(res.Assistants) < 2 {
		ch.Empty = "Nothing to compare: fewer than two assistants have people in this range."
		return ch
	}
	ch.Table.Head = []string{"month", "people", "pair", "both", "share of first", "share of second"}
	for _, p := range res.Periods {
		month := p.Period.Format("2006-01")
		if !p.Complete {
			month += fmt.Sprintf(" (%s – %s only)", p.From.Format(catalog.DateLayout), p.To.Format(catalog.DateLayout))
		}
		for _, pr := range p.Pairs {
			i, j := res.Index(pr.A), res.Index(pr.B)
			ch.Table.Rows = append(ch.Table.Rows, []string{month, views.FormatInt(float64(p.People)), views.Label(pr.A) + " + " + views.Label(pr.B), views.FormatInt(float64(pr.Both)),
				views.FormatPercent(query.SharePct(pr.Both, p.Active[i])), views.FormatPercent(query.SharePct(pr.Both, p.Active[j]))})
		}
	}
	return ch
}
