package query

import (
	"encoding/json"
	"io"
	"math"
	"strconv"

	"github.com/adoptscope/adoptscope/catalog"
)

// The impact answer in JSON and CSV. Numbers are rounded to 2 decimals
// (4 for the pre-fit correlation) once, here, so JSON and CSV carry the
// same digits; a number that cannot be computed (a percentage of 0) is
// null in JSON and empty in CSV.

func r2(x float64) *float64 { return roundedOrNil(x, 2) }

func roundedOrNil(x float64, digits int) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	v := round(x, digits)
	return &v
}

func cellOf(p *float64) string {
	if p == nil {
		return ""
	}
	return FormatNumber(*p)
}

type impactWindowJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
	Days int    `json:"days"`
}

type impactFitJSON struct {
	Correlation *float64 `json:"correlation"`
	RMSE        *float64 `json:"rmse"`
	RMSEPct     *float64 `json:"rmse_pct"`
}

// impactObservedJSON is the treated series' own change: the means of
// the windows, no controls involved.
type impactObservedJSON struct {
	BeforeMean *float64 `json:"before_mean"`
	AfterMean  *float64 `json:"after_mean"`
	Change     *float64 `json:"change"`
	ChangePct  *float64 `json:"change_pct"`
	Summary    string   `json:"summary"`
}

type impactEstimateJSON struct {
	Metric           Metric             `json:"metric"`
	Summary          string             `json:"summary"`
	Observed         impactObservedJSON `json:"observed"`
	TreatedBefore    *float64           `json:"treated_before"`
	TreatedAfter     *float64           `json:"treated_after"`
	ControlBefore    *float64           `json:"control_before"`
	ControlAfter     *float64           `json:"control_after"`
	Scale            *float64           `json:"scale"`
	Counterfactual   *float64           `json:"counterfactual_after"`
	Effect           *float64           `json:"effect"`
	Low              *float64           `json:"low"`
	High             *float64           `json:"high"`
	EffectPct        *float64           `json:"effect_pct"`
	LowPct           *float64           `json:"low_pct"`
	HighPct          *float64           `json:"high_pct"`
	StdErr           *float64           `json:"std_err"`
	DegreesOfFreedom *float64           `json:"degrees_of_freedom"`
	PreFit           impactFitJSON      `json:"pre_fit"`
}

func newImpactEstimateJSON(e ImpactMetric) impactEstimateJSON {
	return impactEstimateJSON{Metric: e.Metric, Summary: ImpactSummary(e),
		Observed: impactObservedJSON{BeforeMean: r2(e.TreatedBefore), AfterMean: r2(e.TreatedAfter),
			Change: r2(e.TreatedAfter - e.TreatedBefore), ChangePct: r2(pct(e.TreatedAfter-e.TreatedBefore, e.TreatedBefore)), Summary: ObservedSummary(e)},
		TreatedBefore: r2(e.TreatedBefore), TreatedAfter: r2(e.TreatedAfter),
		ControlBefore: r2(e.ControlBefore), ControlAfter: r2(e.ControlAfter),
		Scale: roundedOrNil(e.Scale, 6), Counterfactual: r2(e.Counterfactual),
		Effect: r2(e.Effect), Low: r2(e.Low), High: r2(e.High),
		EffectPct: r2(e.EffectPct), LowPct: r2(e.LowPct), HighPct: r2(e.HighPct),
		StdErr: r2(e.StdErr), DegreesOfFreedom: r2(e.DegreesOfFreedom),
		PreFit: impactFitJSON{Correlation: roundedOrNil(e.Fit.Correlation, 4), RMSE: r2(e.Fit.RMSE), RMSEPct: r2(e.Fit.RMSEPct)}}
}

type impactDayJSON struct {
	Day    string `json:"day"`
	Window string `json:"window"`
	// Per metric: treated, control (summed), counterfactual.
	Values map[Metric]impactDayValuesJSON `json:"values"`
}

type impactDayValuesJSON struct {
	Treated        *float64 `json:"treated"`
	Control        *float64 `json:"control"`
	Counterfactual *float64 `json:"counterfactual"`
}

func windowName(after bool) string {
	if after {
		return "after"
	}
	return "before"
}

// WriteImpactJSON writes the answer:
// {"date","annotation","treated","controls","controls_proposed","available_controls",
// "before":{"from","to","days"},"after":{…,"requested_days"},"last_complete_day",
// "method","caveat","approximate","controls_warning","estimates":[…],"days":[…]};
// each estimate carries "observed" (the treated series' before and after
// means and their change) before the effect against the controls.
func WriteImpactJSON(w io.Writer, res ImpactResult) error {
	type afterJSON struct {
		impactWindowJSON
		Requested int `json:"requested_days"`
	}
	out := struct {
		Date            string               `json:"date"`
		Annotation      string               `json:"annotation,omitempty"`
		Treated         SeriesKey            `json:"treated"`
		Controls        []SeriesKey          `json:"controls"`
		Proposed        bool                 `json:"controls_proposed"`
		Available       []SeriesKey          `json:"available_controls"`
		Before          impactWindowJSON     `json:"before"`
		After           afterJSON            `json:"after"`
		LastCompleteDay string               `json:"last_complete_day"`
		TZ              string               `json:"tz"`
		Method          string               `json:"method"`
		Caveat          string               `json:"caveat"`
		Approximate     bool                 `json:"approximate"`
		ControlsWarning *controlsWarningJSON `json:"controls_warning"`
		Estimates       []impactEstimateJSON `json:"estimates"`
		Days            []impactDayJSON      `json:"days"`
	}{
		Date: res.Request.Date.Format(catalog.DateLayout), Annotation: res.Request.Annotation,
		Treated: res.Request.Treated, Controls: orEmpty(res.Controls), Proposed: res.Proposed, Available: orEmpty(res.Available),
		Before: impactWindowJSON{res.BeforeFrom.Format(catalog.DateLayout), res.BeforeTo.Format(catalog.DateLayout), daysBetween(res.BeforeFrom, res.BeforeTo)},
		After: afterJSON{impactWindowJSON{res.AfterFrom.Format(catalog.DateLayout), res.AfterTo.Format(catalog.DateLayout), daysBetween(res.AfterFrom, res.AfterTo)},
			res.Request.AfterDays},
		LastCompleteDay: res.LastCompleteDay.Format(catalog.DateLayout), TZ: zoneName(res.Request.TZ),
		Method: ImpactMethod, Caveat: ImpactCaveat, Approximate: res.Approximate,
		Estimates: []impactEstimateJSON{}, Days: []impactDayJSON{},
	}
	if cw := res.ControlsWarning; cw != nil {
		out.ControlsWarning = &controlsWarningJSON{Metric: cw.Metric, TreatedChange: r2(cw.TreatedChange), TreatedChangePct: r2(cw.TreatedChangePct),
			ControlsChange: r2(cw.ControlsChange), ControlsChangePct: r2(cw.ControlsPct), Message: cw.Message, Suggested: orEmpty(cw.Suggested)}
	}
	for _, e := range res.Estimates {
		out.Estimates = append(out.Estimates, newImpactEstimateJSON(e))
	}
	for _, d := range res.Days {
		dj := impactDayJSON{Day: d.Day.Format(catalog.DateLayout), Window: windowName(d.After), Values: map[Metric]impactDayValuesJSON{}}
		for i, e := range res.Estimates {
			dj.Values[e.Metric] = impactDayValuesJSON{r2(d.Treated[i]), r2(d.Control[i]), r2(d.Counterfactual[i])}
		}
		out.Days = append(out.Days, dj)
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}

// controlsWarningJSON is ControlsWarning; null when the controls did not
// move against the treated series.
type controlsWarningJSON struct {
	Metric            Metric      `json:"metric"`
	TreatedChange     *float64    `json:"treated_change"`
	TreatedChangePct  *float64    `json:"treated_change_pct"`
	ControlsChange    *float64    `json:"controls_change"`
	ControlsChangePct *float64    `json:"controls_change_pct"`
	Message           string      `json:"message"`
	Suggested         []SeriesKey `json:"suggested_controls"`
}

func orEmpty(k []SeriesKey) []SeriesKey {
	if k == nil {
		return []SeriesKey{}
	}
	return k
}

// ImpactCSVHeader is the summary CSV's header: one row per metric.
var ImpactCSVHeader = []string{"metric", "date", "treated", "controls", "controls_proposed", "before_from", "before_to", "after_from", "after_to",
	"treated_before", "treated_after", "counterfactual_after", "effect", "low", "high", "effect_pct", "low_pct", "high_pct",
	"pre_fit_correlation", "pre_fit_rmse_pct", "approximate"}

// ImpactDaysCSVHeader is the daily CSV's header (rows=days).
var ImpactDaysCSVHeader = []string{"day", "window", "metric", "treated", "control", "counterfactual"}

// WriteImpactCSV writes the summary, or with r.DaysCSV the daily series.
func WriteImpactCSV(w io.Writer, res ImpactResult) error {
	cw := newCSV(w)
	if res.Request.DaysCSV {
		_ = cw.Write(ImpactDaysCSVHeader)
		for _, d := range res.Days {
			for i, e := range res.Estimates {
				_ = cw.Write([]string{d.Day.Format(catalog.DateLayout), windowName(d.After), string(e.Metric),
					cellOf(r2(d.Treated[i])), cellOf(r2(d.Control[i])), cellOf(r2(d.Counterfactual[i]))})
			}
		}
		cw.Flush()
		return cw.Error()
	}
	_ = cw.Write(ImpactCSVHeader)
	controls := ""
	for i, k := range res.Controls {
		if i > 0 {
			controls += " "
		}
		controls += k.String()
	}
	for _, e := range res.Estimates {
		j := newImpactEstimateJSON(e)
		_ = cw.Write([]string{string(e.Metric), res.Request.Date.Format(catalog.DateLayout), res.Request.Treated.String(), controls,
			strconv.FormatBool(res.Proposed),
			res.BeforeFrom.Format(catalog.DateLayout), res.BeforeTo.Format(catalog.DateLayout),
			res.AfterFrom.Format(catalog.DateLayout), res.AfterTo.Format(catalog.DateLayout),
			cellOf(j.TreatedBefore), cellOf(j.TreatedAfter), cellOf(j.Counterfactual), cellOf(j.Effect), cellOf(j.Low), cellOf(j.High),
			cellOf(j.EffectPct), cellOf(j.LowPct), cellOf(j.HighPct), cellOf(j.PreFit.Correlation), cellOf(j.PreFit.RMSEPct),
			strconv.FormatBool(res.Approximate)})
	}
	cw.Flush()
	return cw.Error()
}
