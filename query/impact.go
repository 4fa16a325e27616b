package query

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// SeriesKey names one daily series: an assistant on a channel, or a whole
// assistant (Channel empty: all its channels), or a whole channel
// (Assistant empty: every assistant on it). In URLs it is written
// assistant:channel with * for "all" (chatgpt:whatsapp, chatgpt:*,
// *:whatsapp).
type SeriesKey struct {
	Assistant string `json:"assistant"`
	Channel   string `json:"channel"`
}

func (k SeriesKey) String() string {
	a, c := k.Assistant, k.Channel
	if a == "" {
		a = "*"
	}
	if c == "" {
		c = "*"
	}
	return a + ":" + c
}

// kind is 0 for an assistant on a channel, 1 for a whole assistant, 2
// for a whole channel.
func (k SeriesKey) kind() int {
	switch {
	case k.Assistant != "" && k.Channel != "":
		return 0
	case k.Assistant != "":
		return 1
	}
	return 2
}

// overlaps reports whether two series can hold the same events.
func (k SeriesKey) overlaps(o SeriesKey) bool {
	return (k.Assistant == "" || o.Assistant == "" || k.Assistant == o.Assistant) &&
		(k.Channel == "" || o.Channel == "" || k.Channel == o.Channel)
}

// ParseSeriesKey reads assistant:channel (either may be *, not both).
func ParseSeriesKey(param, s string) (SeriesKey, error) {
	a, c, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return SeriesKey{}, &ParamError{Param: param, Value: s, Allowed: "want assistant:channel, with * for all (chatgpt:ios, chatgpt:*, *:whatsapp)"}
	}
	var k SeriesKey
	if a != "*" {
		if err := checkValue(DimAssistant, a); err != nil {
			return k, err
		}
		k.Assistant = a
	}
	if c != "*" {
		if err := checkValue(DimChannel, c); err != nil {
			return k, err
		}
		k.Channel = c
	}
	if k.Assistant == "" && k.Channel == "" {
		return k, &ParamError{Param: param, Value: s, Allowed: "name an assistant, a channel or both (*:* is everything)"}
	}
	return k, nil
}

// MaxImpactControls bounds the control series of one request.
const MaxImpactControls = 20

// ImpactRequest asks for the effect of a change on Date (the first day
// after it) on the Treated series, against Controls.
type ImpactRequest struct {
	Date    time.Time
	Treated SeriesKey
	// Controls are the control series; empty: proposed (ProposeControls).
	Controls []SeriesKey
	// BeforeDays, AfterDays are the windows' lengths asked for; the after
	// window ends at the last complete day at the latest.
	BeforeDays, AfterDays int
	// Annotation is the id of the annotation the request is about, if any
	// (its date and scope fill Date and Treated when they are not given:
	// ApplyAnnotation).
	Annotation string
	// DaysCSV (rows=days) makes the CSV the daily series instead of the
	// summary.
	DaysCSV bool
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
	// Freshness, when set, is used instead of reading it from the store.
	Freshness *DataFreshness
	// TZ is the zone of the days ("" for UTC): the date, the windows and
	// the daily values are the zone's days.
	TZ string
}

// ParseImpact reads an ImpactRequest: date (or annotation), assistant and
// channel (the treated series; at least one), control (comma list of
// assistant:channel; default: proposed), before_days, after_days (default
// 28 each, at most MaxWindowDays), rows (summary or days, for CSV).
func ParseImpact(v url.Values) (ImpactRequest, error) {
	var r ImpactRequest
	var err error
	if r.TZ, err = parseTZ(v); err != nil {
		return r, err
	}
	r.Annotation = one(v, "annotation")
	if r.Annotation != "" && (len(r.Annotation) > 128 || strings.ContainsFunc(r.Annotation, func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	})) {
		return r, &ParamError{Param: "annotation", Value: r.Annotation, Allowed: "an annotation id: letters, digits, '-' and '_'"}
	}
	if d := one(v, "date"); d != "" {
		t, err := catalog.ParseDate("date", d)
		if err != nil {
			return r, &ParamError{Param: "date", Value: d, Err: err}
		}
		r.Date = t
	} else if r.Annotation == "" {
		return r, &ParamError{Param: "date", Value: "", Allowed: "a date YYYY-MM-DD (the first day after the change), or annotation=<id>"}
	}
	for _, p := range []struct {
		d   Dim
		dst *string
	}{{DimAssistant, &r.Treated.Assistant}, {DimChannel, &r.Treated.Channel}} {
		s := one(v, string(p.d))
		if s == "" {
			continue
		}
		if strings.Contains(s, ",") {
			return r, &ParamError{Param: string(p.d), Value: s, Allowed: "one value: the treated series is one assistant, one channel, or one assistant on one channel"}
		}
		if err := checkValue(p.d, s); err != nil {
			return r, err
		}
		*p.dst = s
	}
	if r.Treated == (SeriesKey{}) && r.Annotation == "" {
		return r, &ParamError{Param: "assistant", Value: "", Allowed: "name the treated series: assistant, channel or both (assistant=chatgpt&channel=whatsapp)"}
	}
	if s := one(v, "control"); s != "" {
		for _, part := range strings.Split(s, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			k, err := ParseSeriesKey("control", part)
			if err != nil {
				return r, err
			}
			if !slices.Contains(r.Controls, k) {
				r.Controls = append(r.Controls, k)
			}
		}
		if len(r.Controls) > MaxImpactControls {
			return r, &ParamError{Param: "control", Value: s, Allowed: fmt.Sprintf("at most %d control series", MaxImpactControls)}
		}
	}
	if r.BeforeDays, err = parseInt(v, "before_days", 28, MinImpactDays, MaxWindowDays); err != nil {
		return r, err
	}
	if r.AfterDays, err = parseInt(v, "after_days", 28, MinImpactDays, MaxWindowDays); err != nil {
		return r, err
	}
	switch rows := one(v, "rows"); rows {
	case "", "summary":
	case "days":
		r.DaysCSV = true
	default:
		return r, &ParamError{Param: "rows", Value: rows, Allowed: "want summary (one row per metric) or days (the daily series)"}
	}
	return r, nil
}

// ApplyAnnotation fills what the request leaves open from the annotation
// it is about: the date (the annotation's start) and the treated series
// (its scope).
func (r *ImpactRequest) ApplyAnnotation(start time.Time, assistant, channel string) {
	if r.Date.IsZero() {
		r.Date = start
	}
	if r.Treated == (SeriesKey{}) {
		r.Treated = SeriesKey{Assistant: assistant, Channel: channel}
	}
}

// Values renders r back into URL parameters that ParseImpact reads into
// the same request.
func (r ImpactRequest) Values() url.Values {
	v := url.Values{}
	if !r.Date.IsZero() {
		v.Set("date", r.Date.Format(catalog.DateLayout))
	}
	if r.Annotation != "" {
		v.Set("annotation", r.Annotation)
	}
	if r.Treated.Assistant != "" {
		v.Set("assistant", r.Treated.Assistant)
	}
	if r.Treated.Channel != "" {
		v.Set("channel", r.Treated.Channel)
	}
	if len(r.Controls) > 0 {
		parts := make([]string, len(r.Controls))
		for i, k := range r.Controls {
			parts[i] = k.String()
		}
		v.Set("control", strings.Join(parts, ","))
	}
	v.Set("before_days", fmt.Sprint(r.BeforeDays))
	v.Set("after_days", fmt.Sprint(r.AfterDays))
	if r.TZ != "" {
		v.Set("tz", r.TZ)
	}
	return v
}

// ImpactMetrics are the metrics an impact is estimated on.
var ImpactMetrics = []Metric{ActiveUsers, Events}

// ImpactMetric is the estimate on one metric.
type ImpactMetric struct {
	Metric Metric
	ImpactEstimate
}

// ImpactDay is one day of the windows: the treated series, the controls
// (summed) and the counterfactual (the controls × scale), per metric in
// ImpactMetrics order.
type ImpactDay struct {
	Day            time.Time
	After          bool
	Treated        []float64
	Control        []float64
	Counterfactual []float64
}

// ImpactResult is the answer to an ImpactRequest.
type ImpactResult struct {
	Request ImpactRequest
	// Controls are the controls used; Proposed is true when the product
	// chose them (the request named none). Available lists every series
	// with activity in the before window, for choosing others.
	Controls  []SeriesKey
	Proposed  bool
	Available []SeriesKey
	// The windows as read: complete days only, the before window not
	// before the first stored event.
	BeforeFrom, BeforeTo, AfterFrom, AfterTo time.Time
	LastCompleteDay                          time.Time
	// Approximate is true when some day's active users came from uniq
	// states: a day of the windows whose finals are not computed yet (or
	// are out of date after late events), or any day on a cluster, which
	// keeps no finals.
	Approximate bool
	Estimates   []ImpactMetric
	Days        []ImpactDay
	// ControlsWarning, when set, says that the controls moved the other
	// way from the treated series after the date (ControlsMovedOpposite).
	ControlsWarning *ControlsWarning
}

// ControlsWarning: after the date the treated series moved one way and
// the controls the other, on Metric (active users first): the controls
// likely received what the treated series lost (people who moved), so
// the effect against them overstates the change. Suggested are controls
// the movers could not reach: other assistants on other channels (only
// for a treated assistant on a channel; empty otherwise).
type ControlsWarning struct {
	Metric                        Metric
	TreatedChange, ControlsChange float64 // after mean − before mean, a day
	TreatedChangePct, ControlsPct float64 // the same in percent of the before mean
	Message                       string
	Suggested                     []SeriesKey
}

// MinOppositePct is how much (percent of its before mean) each of the
// treated series and the controls must move for opposite moves to warn:
// below it the day-to-day noise of a 28-day mean decides the sign.
const MinOppositePct = 1.0

// ImpactMethod and ImpactCaveat are said with every answer.
const (
	ImpactMethod = "difference in differences of the before- and after-window daily means: the controls (summed per day) scaled to the treated series' mean before the date stand for what the treated series would have done; 95 % interval from a circular moving-block bootstrap over days (blocks of whole weeks, each window resampled on its own) with a Student t quantile"
	ImpactCaveat = "An association, not a proof: it measures the effect of the event only if the controls were not affected by it and would have moved like the treated series without it (check the pre-period fit)."
)

// ImpactRefusedError is a request that cannot be answered on the data:
// windows too short, a series without activity. The API answers it 422
// with its message.
type ImpactRefusedError struct{ Reason string }

func (e *ImpactRefusedError) Error() string   { return "impact: " + e.Reason }
func (e *ImpactRefusedError) HTTPStatus() int { return 422 }

// Impact estimates the effect of r.Date on r.Treated against the controls
// (proposed when r.Controls is empty), on daily active users and on
// events, over complete days only.
func Impact(ctx context.Context, s *store.Store, r ImpactRequest) (ImpactResult, error) {
	res := ImpactResult{Request: r}
	if r.Date.IsZero() {
		return res, &ParamError{Param: "date", Value: "", Allowed: "a date YYYY-MM-DD (the first day after the change), or annotation=<id>"}
	}
	if r.Treated == (SeriesKey{}) {
		return res, &ParamError{Param: "assistant", Value: "", Allowed: "name the treated series: assistant, channel or both"}
	}
	if r.BeforeDays == 0 {
		r.BeforeDays = 28
	}
	if r.AfterDays == 0 {
		r.AfterDays = 28
	}
	var fr DataFreshness
	var err error
	if r.Freshness != nil {
		fr = *r.Freshness
	} else if fr, err = Freshness(ctx, s, r.Now); err != nil {
		return res, err
	}
	if fr.Empty() {
		return res, &ImpactRefusedError{"no data is stored yet"}
	}
	pres := presenceIn(r.TZ, &fr)
	loc := pres.loc()
	last := fr.LastCompleteDay(loc)
	res.LastCompleteDay = last
	res.BeforeFrom, res.BeforeTo = r.Date.AddDate(0, 0, -r.BeforeDays), r.Date.AddDate(0, 0, -1)
	if first := fr.FirstDay(loc); res.BeforeFrom.Before(first) {
		res.BeforeFrom = first
	}
	res.AfterFrom, res.AfterTo = r.Date, r.Date.AddDate(0, 0, r.AfterDays-1)
	if res.AfterTo.After(last) {
		res.AfterTo = last
	}
	nb, na := daysBetween(res.BeforeFrom, res.BeforeTo), daysBetween(res.AfterFrom, res.AfterTo)
	if nb < MinImpactDays {
		return res, &ImpactRefusedError{fmt.Sprintf("only %d complete days of data before %s (data from %s): the before window needs at least %d; choose a later date",
			max(nb, 0), r.Date.Format(catalog.DateLayout), fr.FirstDay(loc).Format(catalog.DateLayout), MinImpactDays)}
	}
	if na < MinImpactDays {
		return res, &ImpactRefusedError{fmt.Sprintf("only %d complete days from %s (data complete through %s): the after window needs at least %d; come back on %s or choose an earlier date",
			max(na, 0), r.Date.Format(catalog.DateLayout), last.Format(catalog.DateLayout), MinImpactDays,
			r.Date.AddDate(0, 0, MinImpactDays).Format(catalog.DateLayout))}
	}

	if res.Available, err = activeSeries(ctx, s, pres, res.BeforeFrom, res.BeforeTo); err != nil {
		return res, err
	}
	res.Controls = r.Controls
	if len(res.Controls) == 0 {
		res.Controls, res.Proposed = ProposeControls(r.Treated, res.Available), true
		if len(res.Controls) == 0 {
			return res, &ImpactRefusedError{fmt.Sprintf("no series other than %s has activity before %s to serve as a control; name controls with control=assistant:channel",
				r.Treated, r.Date.Format(catalog.DateLayout))}
		}
	}
	for _, c := range res.Controls {
		if c.overlaps(r.Treated) {
			return res, &ParamError{Param: "control", Value: c.String(), Allowed: "a control must not share events with the treated series " + r.Treated.String() + ": choose other channels or other assistants"}
		}
	}

	keys := append([]SeriesKey{r.Treated}, res.Controls...)
	n := nb + na
	values := make([][][]float64, len(ImpactMetrics)) // metric, key, day
	for mi, m := range ImpactMetrics {
		v, approx, err := dailyByKey(ctx, s, m, keys, r.TZ, res.BeforeFrom, res.AfterTo, n, &fr)
		if err != nil {
			return res, err
		}
		values[mi] = v
		res.Approximate = res.Approximate || approx
	}
	if res.Approximate && s.Cluster == "" {
		// Series says "approximate" whenever it reads the finals table,
		// whose missing days come from the uniq states; here the days are
		// known, so ask whether any of them lacks its current finals.
		missing, err := daysWithoutFinals(ctx, s, pres, keys, res.BeforeFrom, res.AfterTo)
		if err != nil {
			return res, err
		}
		res.Approximate = missing > 0
	}
	for mi, m := range ImpactMetrics {
		treated := values[mi][0]
		control := make([]float64, n)
		for _, v := range values[mi][1:] {
			for d := range control {
				control[d] += v[d]
			}
		}
		e, err := EstimateImpact(treated, control, nb)
		if err != nil {
			return res, &ImpactRefusedError{strings.TrimPrefix(err.Error(), ErrImpactInput.Error()+": ") + " (" + string(m) + ")"}
		}
		res.Estimates = append(res.Estimates, ImpactMetric{Metric: m, ImpactEstimate: e})
		if mi == 0 {
			res.Days = make([]ImpactDay, n)
			for d := range res.Days {
				res.Days[d] = ImpactDay{Day: res.BeforeFrom.AddDate(0, 0, d), After: d >= nb}
			}
		}
		for d := range res.Days {
			day := &res.Days[d]
			day.Treated = append(day.Treated, treated[d])
			day.Control = append(day.Control, control[d])
			day.Counterfactual = append(day.Counterfactual, e.Scale*control[d])
		}
	}
	for _, e := range res.Estimates {
		if w := ControlsMovedOpposite(r.Treated, e, res.Available); w != nil {
			res.ControlsWarning = w
			break
		}
	}
	return res, nil
}

// ControlsMovedOpposite is the warning of e when, after the date, the
// treated series and the controls moved in opposite directions, each by
// at least MinOppositePct of its before mean; nil otherwise. available
// (the series with activity before the date) gives the suggestions.
func ControlsMovedOpposite(treated SeriesKey, e ImpactMetric, available []SeriesKey) *ControlsWarning {
	dt, dc := e.TreatedAfter-e.TreatedBefore, e.ControlAfter-e.ControlBefore
	pt, pc := pct(dt, e.TreatedBefore), pct(dc, e.ControlBefore)
	if math.IsNaN(pt) || math.IsNaN(pc) || math.Abs(pt) < MinOppositePct || math.Abs(pc) < MinOppositePct || (dt < 0) == (dc < 0) {
		return nil
	}
	w := &ControlsWarning{Metric: e.Metric, TreatedChange: dt, ControlsChange: dc, TreatedChangePct: pt, ControlsPct: pc}
	if treated.Assistant != "" && treated.Channel != "" {
		for _, k := range available {
			if k.Assistant != treated.Assistant && k.Channel != treated.Channel && len(w.Suggested) < MaxImpactControls {
				w.Suggested = append(w.Suggested, k)
			}
		}
	}
	unit := "people a day"
	if e.Metric == Events {
		unit = "events a day"
	}
	fell, rose := "fell", "rose"
	if dt > 0 {
		fell, rose = "rose", "fell"
	}
	w.Message = fmt.Sprintf("After the date the controls %s (%s %s, %s) while %s %s (%s, %s): ", rose, signed(dc), unit, signedPct(pc), treated, fell, signed(dt), signedPct(pt))
	if dt < 0 {
		w.Message += "they likely received people who left it, so the effect against them overstates the loss (the observed change is the safer figure)."
	} else {
		w.Message += "they likely lost people to it, so the effect against them overstates the gain (the observed change is the safer figure)."
	}
	if len(w.Suggested) > 0 {
		parts := make([]string, len(w.Suggested))
		for i, k := range w.Suggested {
			parts[i] = k.String()
		}
		w.Message += fmt.Sprintf(" Choose controls the movers could not reach: other assistants on other channels, none of %s's (control=%s).", treated.Assistant, strings.Join(parts, ","))
	} else {
		w.Message += " Choose controls the movers could not reach."
	}
	return w
}

// daysWithoutFinals counts the days of [from, to] with events that lack
// current finals (the finals of the day's present event sum) at a grain
// one of keys is read at. Finalize writes every grain of a day at once,
// but each grain is checked.
func daysWithoutFinals(ctx context.Context, s *store.Store, p presence, keys []SeriesKey, from, to time.Time) (uint64, error) {
	if p.raw {
		return 0, nil // raw events: exact distinct counts, no finals
	}
	var grains []uint8
	for _, k := range keys {
		g := uint8(grainAssistant | grainChannel)
		switch k.kind() {
		case 1:
			g = grainAssistant
		case 2:
			g = grainChannel
		}
		if !slices.Contains(grains, g) {
			grains = append(grains, g)
		}
	}
	var total uint64
	for _, g := range grains {
		q := &sqlText{}
		zone := func() {
			if p.zone {
				q.add(" AND tz = ?", p.tz)
			}
		}
		q.add("SELECT count() FROM (SELECT day, sum(events) AS v FROM "+p.table("version_day")+" WHERE day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
		zone()
		q.add(" GROUP BY day) WHERE (day, v) NOT IN (SELECT day, version FROM "+p.table("users_final")+" WHERE grain = ? AND day >= toDate(?) AND day <= toDate(?)", g, date(from), date(to))
		zone()
		q.add(")" + settingsClause)
		rows, cancel, err := run(ctx, s, q)
		if err != nil {
			return 0, err
		}
		var n uint64
		for rows.Next() {
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				cancel()
				return 0, fmt.Errorf("query: impact: days without finals: %w", err)
			}
		}
		err = rows.Err()
		rows.Close()
		cancel()
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

func daysBetween(from, to time.Time) int { return int(to.Sub(from).Hours()/24) + 1 }

// ProposeControls proposes controls for treated among the available
// series: for an assistant on a channel, the same assistant's other
// channels (or, if it has none, other assistants on other channels); for
// a whole assistant, the other assistants; for a whole channel, the other
// channels.
func ProposeControls(treated SeriesKey, available []SeriesKey) []SeriesKey {
	var out []SeriesKey
	add := func(k SeriesKey) {
		if !k.overlaps(treated) && !slices.Contains(out, k) && len(out) < MaxImpactControls {
			out = append(out, k)
		}
	}
	switch {
	case treated.Assistant != "" && treated.Channel != "":
		for _, k := range available {
			if k.Assistant == treated.Assistant {
				add(k)
			}
		}
		if len(out) == 0 {
			for _, k := range available {
				if k.Channel != treated.Channel {
					add(k)
				}
			}
		}
	case treated.Assistant != "":
		for _, k := range available {
			add(SeriesKey{Assistant: k.Assistant})
		}
	default:
		for _, k := range available {
			add(SeriesKey{Channel: k.Channel})
		}
	}
	return out
}

// activeSeries lists the (assistant, channel) pairs with events in
// [from, to], ordered.
func activeSeries(ctx context.Context, s *store.Store, p presence, from, to time.Time) ([]SeriesKey, error) {
	q := &sqlText{}
	if p.raw {
		q.add("SELECT CAST(assistant AS String) AS a, CAST(channel AS String) AS c FROM ")
		p.rows(q, Day, from, to, Filters{})
		q.add(" GROUP BY a, c ORDER BY a, c" + settingsClause)
	} else {
		q.add("SELECT CAST(assistant AS String) AS a, CAST(channel AS String) AS c FROM "+p.table("events_day")+" WHERE day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
		if p.zone {
			q.add(" AND tz = ?", p.tz)
		}
		q.add(" GROUP BY a, c HAVING sum(events) > 0 ORDER BY a, c" + settingsClause)
	}
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer rows.Close()
	var out []SeriesKey
	for rows.Next() {
		var k SeriesKey
		if err := rows.Scan(&k.Assistant, &k.Channel); err != nil {
			return nil, fmt.Errorf("query: read active series: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// dailyByKey reads metric m per day of [from, from+n) for each key, with
// at most three series queries: the pairs, the whole assistants, the
// whole channels (each filtered to the values it needs).
func dailyByKey(ctx context.Context, s *store.Store, m Metric, keys []SeriesKey, tz string, from, to time.Time, n int, fr *DataFreshness) ([][]float64, bool, error) {
	out := make([][]float64, len(keys))
	for i := range out {
		out[i] = make([]float64, n)
	}
	approx := false
	for kind, by := range [][]Dim{{DimAssistant, DimChannel}, {DimAssistant}, {DimChannel}} {
		var idx []int
		var as, cs []string
		for i, k := range keys {
			if k.kind() != kind {
				continue
			}
			idx = append(idx, i)
			if k.Assistant != "" && !slices.Contains(as, k.Assistant) {
				as = append(as, k.Assistant)
			}
			if k.Channel != "" && !slices.Contains(cs, k.Channel) {
				cs = append(cs, k.Channel)
			}
		}
		if len(idx) == 0 {
			continue
		}
		req := SeriesRequest{Metric: m, Interval: Day, From: from, To: to, By: by,
			Filters: Filters{Assistants: as, Channels: cs}, Partial: true, Freshness: fr, TZ: tz}
		res, err := Series(ctx, s, req)
		if err != nil {
			return nil, false, err
		}
		approx = approx || res.Approximate
		for _, row := range res.Rows {
			var k SeriesKey
			for j, d := range by {
				if d == DimAssistant {
					k.Assistant = row.Dims[j]
				} else {
					k.Channel = row.Dims[j]
				}
			}
			d := int(row.Period.Sub(from).Hours() / 24)
			if d < 0 || d >= n {
				continue
			}
			for _, i := range idx {
				if keys[i] == k {
					out[i][d] = row.Value
				}
			}
		}
	}
	return out, approx, nil
}

// ImpactSummary is the sentence the Impact page states for an estimate:
// the observed change first (the treated series' before and after means),
// then the effect against the controls with its interval:
// "335 → 0 people a day (−335, −100 %); against the controls ≈ −424
// (95 % interval −450 to −398)".
func ImpactSummary(e ImpactMetric) string {
	return ObservedSummary(e) + "; against the controls " + EffectSummary(e)
}

// ObservedSummary is the observed change of the treated series: "335 → 0
// people a day (−335, −100 %)".
func ObservedSummary(e ImpactMetric) string {
	unit := "people a day"
	if e.Metric == Events {
		unit = "events a day"
	}
	d := e.TreatedAfter - e.TreatedBefore
	s := fmt.Sprintf("%s → %s %s (%s", thousands(uint64(math.Round(math.Max(e.TreatedBefore, 0)))), thousands(uint64(math.Round(math.Max(e.TreatedAfter, 0)))), unit, signed(d))
	if p := pct(d, e.TreatedBefore); !math.IsNaN(p) {
		s += ", " + signedPct(p)
	}
	return s + ")"
}

// EffectSummary is the effect against the controls with its interval and
// its share of the counterfactual: "≈ −424 (95 % interval −450 to −398),
// −100 % of the counterfactual".
func EffectSummary(e ImpactMetric) string {
	s := fmt.Sprintf("≈ %s (95 %% interval %s to %s)", signed(e.Effect), signed(e.Low), signed(e.High))
	if !math.IsNaN(e.EffectPct) {
		s += ", " + signedPct(e.EffectPct) + " of the counterfactual"
	}
	return s
}

// signed renders a count with its sign (a typographic minus) and
// thousands separators, rounded to a whole number.
func signed(x float64) string {
	r := math.Round(x)
	sign := "+"
	if r < 0 {
		sign, r = "−", -r
	} else if r == 0 {
		sign = ""
	}
	return sign + thousands(uint64(r))
}

func signedPct(x float64) string {
	r := math.Round(x)
	sign := "+"
	if r < 0 {
		sign, r = "−", -r
	} else if r == 0 {
		sign = ""
	}
	return fmt.Sprintf("%s%d %%", sign, uint64(r))
}

func thousands(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
