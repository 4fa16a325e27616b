package dashboard

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// The measured effect on the Impact page: query.Impact for the page's date
// and source against the controls of the URL (control=, the API's
// parameter: a comma list or one value per checkbox), proposed when the
// URL names none.

// seriesLabel names a series key as the page does.
func seriesLabel(k query.SeriesKey) string {
	switch {
	case k.Assistant != "" && k.Channel != "":
		return views.Label(k.Assistant) + " on " + views.Label(k.Channel)
	case k.Assistant != "":
		return views.Label(k.Assistant) + " (all channels)"
	}
	return "every assistant on " + views.Label(k.Channel)
}

// impactRequest is the page's request in the API's parameters, read by
// the API's parser: the page and GET /api/v1/impact answer the same URL
// the same way.
func impactRequest(c echo.Context, v impactView) (query.ImpactRequest, error) {
	pv := url.Values{"date": {v.Date}, "assistant": {v.Assistant}, "channel": {v.Channel},
		"before_days": {strconv.Itoa(v.Before)}, "after_days": {strconv.Itoa(v.After)}}
	if cs := c.QueryParams()["control"]; len(cs) > 0 {
		pv["control"] = cs
	}
	if v.TZ != "UTC" {
		pv.Set("tz", v.TZ) // the days of the page's chart
	}
	return query.ParseImpact(pv)
}

// impactEffect is the estimate card, and the controls it was measured
// against (nil when there is no estimate).
func (h *Handler) impactEffect(ctx context.Context, pr *pageRequest, v impactView, chosen *annotation.Annotation) (views.ImpactEffectView, []query.SeriesKey) {
	treated := query.SeriesKey{Assistant: v.Assistant, Channel: v.Channel}
	ev := views.ImpactEffectView{Title: "Measured effect of " + v.Date + " on " + seriesLabel(treated), Caveat: query.ImpactCaveat}
	req, err := impactRequest(pr.c, v)
	if err == nil {
		req.Now = h.opts.Now()
		ev.CSV = "/api/v1/impact?" + req.Values().Encode() + "&format=csv"
		days := req.Values()
		days.Set("rows", "days")
		ev.DaysCSV = "/api/v1/impact?" + days.Encode() + "&format=csv"
	}
	var res query.ImpactResult
	if err == nil {
		res, err = query.Impact(ctx, h.opts.Store, req)
	}
	ev.Choices = controlChoices(treated, res)
	if err != nil {
		var refused *query.ImpactRefusedError
		var perr *query.ParamError
		switch {
		case errors.As(err, &refused):
			ev.Err = "No estimate: " + refused.Reason + "."
		case errors.As(err, &perr) && perr.Param == "control":
			ev.Err = "No estimate: " + h.readableErr(pr.c, "impact", err).Error()
			u := pr.c.QueryParams()
			u.Del("control")
			ev.FixURL, ev.FixText = "/impact?"+u.Encode(), "Use the proposed controls"
		default:
			ev.Err = "No estimate: " + h.readableErr(pr.c, "impact", err).Error()
		}
		return ev, nil
	}
	ev.Proposed = res.Proposed || slices.Equal(res.Controls, query.ProposeControls(treated, res.Available))
	names := make([]string, len(res.Controls))
	for i, k := range res.Controls {
		names[i] = seriesLabel(k)
	}
	ev.Controls = strings.Join(names, ", ")
	ev.Approximate = res.Approximate
	nb := len(res.Days)
	for _, d := range res.Days {
		if d.After {
			nb--
		}
	}
	ev.Windows = fmt.Sprintf("Before: %s to %s (%d complete days); after: %s to %s (%d complete days, data complete through %s).",
		res.BeforeFrom.Format(catalog.DateLayout), res.BeforeTo.Format(catalog.DateLayout), nb,
		res.AfterFrom.Format(catalog.DateLayout), res.AfterTo.Format(catalog.DateLayout), len(res.Days)-nb,
		res.LastCompleteDay.Format(catalog.DateLayout))
	for _, e := range res.Estimates {
		what := "daily active people"
		if e.Metric == query.Events {
			ev.EventsObserved, ev.EventsEffect, what = query.ObservedSummary(e), query.EffectSummary(e), "events a day"
		} else {
			ev.UsersObserved, ev.UsersEffect = query.ObservedSummary(e), query.EffectSummary(e)
		}
		ev.Rows = append(ev.Rows, []string{what, fmtNum(e.TreatedBefore), fmtNum(e.TreatedAfter), fmtNum(e.Counterfactual),
			fmtSigned(e.Effect), fmtSigned(e.Low) + " to " + fmtSigned(e.High), fmtCorr(e.Fit.Correlation), fmtPctOrDash(e.Fit.RMSEPct)})
		ev.Fit = append(ev.Fit, fitSentence(what, treated, e.Fit))
	}
	if w := res.ControlsWarning; w != nil {
		ev.ControlsWarning = controlsWarningText(treated, w)
	}
	ev.Chart = impactChart(pr, res, v, chosen, treated)
	return ev, res.Controls
}

// controlsWarningText is query's warning in the page's words: the series
// by their labels, the suggested controls named (they are among the
// checkboxes above).
func controlsWarningText(treated query.SeriesKey, w *query.ControlsWarning) string {
	unit := "people a day"
	if w.Metric == query.Events {
		unit = "events a day"
	}
	rose, fell := "rose", "fell"
	if w.TreatedChange > 0 {
		rose, fell = "fell", "rose"
	}
	s := fmt.Sprintf("The controls moved the other way: after the date they %s by %s %s (%s) while %s %s by %s (%s). ",
		rose, fmtSigned(w.ControlsChange), unit, fmtSignedPct(w.ControlsPct), seriesLabel(treated), fell, fmtSigned(w.TreatedChange), fmtSignedPct(w.TreatedChangePct))
	if w.TreatedChange < 0 {
		s += "They likely received the people who left, so the effect against them overstates the loss: the observed change is the safer figure."
	} else {
		s += "They likely lost people to it, so the effect against them overstates the gain: the observed change is the safer figure."
	}
	if len(w.Suggested) > 0 {
		names := make([]string, len(w.Suggested))
		for i, k := range w.Suggested {
			names[i] = seriesLabel(k)
		}
		s += " For controls the movers could not reach, tick other assistants on other channels (none of " + views.Label(treated.Assistant) + "'s): " + joinAnd(names) + "."
	} else {
		s += " Choose controls the movers could not reach."
	}
	return s
}

func fmtSignedPct(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Round(x), 'f', 0, 64) + " %"
	if math.Round(x) > 0 {
		return "+" + s
	}
	return strings.Replace(s, "-", "−", 1)
}

// controlChoices are the checkboxes: every series with activity before the
// date that does not share events with the treated one, and any control
// of the answer that is not among them (a whole assistant named in the
// URL).
func controlChoices(treated query.SeriesKey, res query.ImpactResult) []views.ControlChoice {
	proposed := res.Controls
	if !res.Proposed {
		proposed = query.ProposeControls(treated, res.Available)
	}
	var out []views.ControlChoice
	add := func(k query.SeriesKey) {
		if k == treated || slices.ContainsFunc(out, func(c views.ControlChoice) bool { return c.Value == k.String() }) {
			return
		}
		out = append(out, views.ControlChoice{Value: k.String(), Label: seriesLabel(k), Checked: slices.Contains(res.Controls, k), Proposed: slices.Contains(proposed, k)})
	}
	for _, k := range res.Available {
		if k.Channel != "" && k.Assistant != "" && (k.Assistant == treated.Assistant || treated.Assistant == "") && (k.Channel == treated.Channel || treated.Channel == "") {
			continue // holds the treated series' own events
		}
		add(k)
	}
	for _, k := range res.Controls {
		add(k)
	}
	return out
}

// moversWarnings says plainly when controls are the same assistant on
// other channels: people who left the treated series likely moved there,
// which lifts those controls after the date and makes a loss look larger
// than it is. mig (nil: unknown) counts the movers.
func moversWarnings(treated query.SeriesKey, controls []query.SeriesKey, mig *query.MigrationResult) []string {
	var same, moved []string
	total := uint64(0)
	for _, k := range controls {
		if treated.Assistant == "" || k.Assistant != treated.Assistant || k.Channel == treated.Channel {
			continue
		}
		same = append(same, seriesLabel(k))
		if mig == nil {
			continue
		}
		for _, o := range mig.Outcomes {
			if o.Outcome == query.OutcomeMoved && o.Assistant == k.Assistant && (k.Channel == "" || o.Channel == k.Channel) && o.Users > 0 {
				moved = append(moved, fmt.Sprintf("%s to %s", views.FormatInt(float64(o.Users)), seriesLabel(query.SeriesKey{Assistant: o.Assistant, Channel: o.Channel})))
				total += o.Users
			}
		}
	}
	if len(same) == 0 {
		return nil
	}
	verb := "is the same assistant on another channel"
	if len(same) > 1 {
		verb = "are the same assistant on other channels"
	}
	s := joinAnd(same) + " " + verb + ": people who left " + seriesLabel(treated) + " likely moved there, which lifts the controls after the date, so the estimate overstates the loss (and understates a gain)."
	if total > 0 {
		s += fmt.Sprintf(" Of its cohort, %s people moved (new there): %s (migration table below).", views.FormatInt(float64(total)), strings.Join(moved, ", "))
	}
	s += " For a cleaner estimate, choose other assistants on other channels as controls."
	return []string{s}
}

func joinAnd(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

func fmtSigned(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	s := views.FormatInt(x)
	if math.Round(x) > 0 {
		return "+" + s
	}
	return strings.Replace(s, "-", "−", 1)
}

func fitSentence(what string, treated query.SeriesKey, f query.PreFit) string {
	if math.IsNaN(f.Correlation) {
		return fmt.Sprintf("Pre-period fit (%s): a series is constant before the date, so how well the controls track it cannot be told; the daily gap averaged %s of its mean.", what, fmtPctOrDash(f.RMSEPct))
	}
	q := "poorly: treat the estimate as weak, whatever its interval says"
	switch {
	case f.Correlation >= 0.9 && f.RMSEPct <= 10:
		q = "closely"
	case f.Correlation >= 0.7 && f.RMSEPct <= 20:
		q = "fairly well"
	}
	return fmt.Sprintf("Pre-period fit (%s): before the date the scaled controls tracked %s %s (correlation %s of the daily values; typical daily gap %s of its mean).",
		what, seriesLabel(treated), q, fmtCorr(f.Correlation), fmtPctOrDash(f.RMSEPct))
}

func fmtNum(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return views.FormatInt(x)
}

func fmtCorr(x float64) string {
	if math.IsNaN(x) {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func fmtPctOrDash(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return views.FormatPercent(x)
}

// impactChart draws the treated series' daily active people (solid) and
// the counterfactual, the scaled controls (dashed), with the date marked.
func impactChart(pr *pageRequest, res query.ImpactResult, v impactView, chosen *annotation.Annotation, treated query.SeriesKey) views.Chart {
	const id = "impact-counterfactual"
	name := seriesLabel(treated)
	ch := views.Chart{ID: id, Title: name + " and what it would have done without the change",
		Note: "Daily active people of " + name + " (solid) and the counterfactual (dashed): the controls summed per day and scaled to its mean before " + v.Date + ". The effect is the gap between them after the date, averaged over the days."}
	periods := make([]string, len(res.Days))
	treatedV := make([]float64, len(res.Days))
	cf := make([]float64, len(res.Days))
	for i, d := range res.Days {
		periods[i] = d.Day.Format(catalog.DateLayout)
		treatedV[i], cf[i] = d.Treated[0], d.Counterfactual[0]
	}
	if len(periods) == 0 {
		ch.Empty = noData(pr, "No days to draw.")
		return ch
	}
	col := views.ColorOf(treated.Assistant)
	ss := []views.Series{{Name: name, Values: treatedV, Color: col}, {Name: "Without the change (controls)", Values: cf, Color: col, Dashed: true}}
	mark := views.Mark{Start: v.Date, End: v.Date, Title: v.Date}
	if chosen != nil && chosen.Start == v.Date {
		mark.Title, mark.Text = chosen.Title, chosen.Text
	}
	ch.Options = views.TimeChart{Periods: periods, Series: ss, Marks: []views.Mark{mark}, Interval: "day"}.Options()
	ch.Table = views.SeriesTable(periods, ss, false)
	return ch
}
