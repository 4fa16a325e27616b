package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Lifecycle (README.md, "Lifecycle"): each period's active people of a
// slice split by where they come from, and the people who left.
//
// A slice is the filters and, with by, one group (an assistant or a
// channel). For each period P of the range and each slice:
//
//   - new: active in P, and P holds their first activity on the slice
//     ever (history before from counts: the data is read from its start);
//   - returning: active in P and in the period before P;
//   - resurrecting: active in P, not in the period before, active some
//     time before that;
//   - dormant: active in the period before P, not in P (a positive count;
//     charts draw it below zero).
//
// new + returning + resurrecting are the active people of P. The first
// period of the range faces the period before it. Exact: person-level, from
// the person-day rollups (the zone's own in a built zone; raw events in
// another zone); the classification runs on the server.

// EndpointLifecycle is /api/v1/lifecycle (ExportCSV's kind).
const EndpointLifecycle = "lifecycle"

// LifecycleIntervals are lifecycle's periods.
var LifecycleIntervals = []Interval{Week, Month}

// LifecycleBy lists what a lifecycle may be grouped by (none: the whole
// slice).
var LifecycleBy = []Dim{DimAssistant, DimChannel}

// LifecycleRequest asks for the lifecycle of a slice by week or month
// over [From, To].
type LifecycleRequest struct {
	Interval Interval // week or month
	From, To time.Time
	// Range is the preset that chose From and To (see SeriesRequest).
	Range Preset
	// TZ is the IANA zone of the days ("" is UTC).
	TZ string
	// By is empty or one of LifecycleBy.
	By      []Dim
	Filters Filters
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
	// Freshness, when set, is used instead of reading it from the store.
	Freshness *DataFreshness
}

// ParseLifecycle reads a LifecycleRequest: interval (week, default, or
// month), by (none, assistant or channel), and the slice (ParseSlice:
// range, from, to, tz, assistant, channel, country; default the 12 weeks
// to today).
func ParseLifecycle(v url.Values) (LifecycleRequest, error) {
	return ParseLifecycleSince(v, time.Time{})
}

// ParseLifecycleSince is ParseLifecycle with the first day with data,
// where range=all starts (zero: catalog.DefaultLaunch).
func ParseLifecycleSince(v url.Values, first time.Time) (LifecycleRequest, error) {
	var r LifecycleRequest
	sl, errs := ParseSlice(v, SliceOptions{Days: 84, Interval: Week, Intervals: LifecycleIntervals, Dims: sliceDims, Read: ReadTZ, First: first})
	if len(errs) > 0 {
		return r, errs.First()
	}
	r.Interval, r.From, r.To, r.Range, r.TZ, r.Filters = sl.Interval, sl.From, sl.To, sl.Range, sl.TZ, sl.Filters
	switch by := one(v, "by"); by {
	case "", "none":
	case string(DimAssistant), string(DimChannel):
		r.By = []Dim{Dim(by)}
	default:
		return r, &ParamError{Param: "by", Value: by, Allowed: "want none, assistant or channel"}
	}
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return r, &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "the lifecycle slices by assistant, channel and country only"}
		}
	}
	return r, nil
}

// Values renders r into the URL parameters ParseLifecycle reads back
// (links, CSV downloads, export definitions). A preset stays a preset.
func (r LifecycleRequest) Values() url.Values {
	v := Slice{Range: r.Range, From: r.From, To: r.To, Interval: r.Interval, TZ: r.TZ, Filters: r.Filters}.Values()
	if len(r.By) > 0 {
		v.Set("by", joinDims(r.By))
	}
	return v
}

// LifecycleRow is one period of one group.
type LifecycleRow struct {
	Period                                time.Time
	Dims                                  []string // the By values
	New, Returning, Resurrecting, Dormant uint64
	// QuickRatio is (New + Resurrecting) / Dormant, 2 decimals; nil when
	// Dormant is 0.
	QuickRatio *float64
	// Complete is true when the whole period lies inside the range and
	// ended on or before the last complete day.
	Complete bool
}

// Active is the people active in the row's period.
func (r LifecycleRow) Active() uint64 { return r.New + r.Returning + r.Resurrecting }

// LifecycleResult is the answer to a LifecycleRequest.
type LifecycleResult struct {
	Interval Interval
	// From is the request's from widened to the first day of its period
	// (a period is classified whole); To is the request's.
	From, To time.Time
	By       []Dim
	TZ       string
	Filters  Filters
	// Source is the table read: rollup_person_day, rollup_zone_person_day
	// or events.
	Source          string
	Freshness       DataFreshness
	LastCompleteDay time.Time
	// Rows: every period from the first one holding data to the last day
	// with data (or To), each with every group, zeros included; in
	// period then group order.
	Rows []LifecycleRow
}

// lifecycleStep renders the period next to the one in expression x (step
// 1) or before it (step -1).
func lifecycleStep(iv Interval, x string, step int) string {
	if iv == Month {
		return fmt.Sprintf("addMonths(%s, %d)", x, step)
	}
	return fmt.Sprintf("(%s + %d)", x, 7*step)
}

// lifecycleSQL: period, dims…, new, returning, resurrecting, dormant for
// the periods first..last, ordered.
//
// Per person and group: the first period ever (the first-seen rollup: the
// first day on the slice, history before from included) and the set of
// active periods from the one before first on (the person-level store:
// person-weeks or person-months, person-days for a period the range cuts).
// Each active period P gives a row (k = 0: new, returning or resurrecting
// by has(ps, P - 1)); each active period also gives a row for the period
// after it (k = 1: dormant there unless has(ps, P + 1)). ARRAY JOIN spreads
// them, the outer query sums them.
func lifecycleSQL(pres presence, iv Interval, first, last, to time.Time, by []Dim, f Filters) *sqlText {
	dims := withComma(dimAliases(by))
	q := &sqlText{}
	q.add("SELECT toString(p) AS period" + dims +
		", sum(k = 0 AND first = p) AS new" +
		", sum(k = 0 AND first < p AND has(ps, " + lifecycleStep(iv, "p", -1) + ")) AS returning" +
		", sum(k = 0 AND first < p AND NOT has(ps, " + lifecycleStep(iv, "p", -1) + ")) AS resurrecting" +
		", sum(k = 1 AND NOT has(ps, p)) AS dormant FROM (")
	q.add("SELECT user_key" + dims + ", " + periodOf(iv, "fday") + " AS first, ps FROM (SELECT user_key" + withComma(dimCols(by)) +
		", groupUniqArray(" + periodOf(iv, "day") + ") AS ps FROM ")
	pres.rows(q, iv, prevPeriod(first, iv), to, f)
	q.add(" GROUP BY user_key" + dims + ") AS a ALL INNER JOIN ")
	pres.firstSeenBy(q, f, by)
	q.add(" AS b USING (user_key" + dims + ")")
	q.add(") ARRAY JOIN arrayConcat(ps, arrayMap(x -> " + lifecycleStep(iv, "x", 1) + ", ps)) AS p," +
		" arrayConcat(arrayMap(x -> 0, ps), arrayMap(x -> 1, ps)) AS k")
	q.add(" WHERE p >= toDate(?) AND p <= toDate(?)", date(first), date(last))
	q.add(" GROUP BY period" + dims + " ORDER BY period" + dims + " SETTINGS max_execution_time = 60, distributed_product_mode = 'local'")
	return q
}

// prevPeriod is the start of the period before the one starting at p.
func prevPeriod(p time.Time, iv Interval) time.Time {
	if iv == Month {
		return p.AddDate(0, -1, 0)
	}
	return p.AddDate(0, 0, -7)
}

// Lifecycle answers r.
func Lifecycle(ctx context.Context, s *store.Store, r LifecycleRequest) (LifecycleResult, error) {
	res := LifecycleResult{Interval: r.Interval, By: r.By, TZ: r.TZ, Filters: r.Filters}
	if r.Interval != Week && r.Interval != Month {
		return res, &ParamError{Param: "interval", Value: string(r.Interval), Allowed: "want week or month"}
	}
	for _, d := range r.By {
		if !hasDim(LifecycleBy, d) || len(r.By) > 1 {
			return res, &ParamError{Param: "by", Value: joinDims(r.By), Allowed: "want none, assistant or channel"}
		}
	}
	loc, err := location(r.TZ)
	if err != nil {
		return res, err
	}
	var fr DataFreshness
	if r.Freshness != nil {
		fr = *r.Freshness
	} else if fr, err = Freshness(ctx, s, r.Now); err != nil {
		return res, err
	}
	pres := presenceIn(r.TZ, &fr)
	res.Freshness, res.LastCompleteDay = fr, fr.LastCompleteDay(loc)
	res.From, res.To = periodStart(r.From, r.Interval), r.To
	// Periods after the data's last day or after today do not exist yet.
	to := r.To
	if last := fr.LastDay(loc); last.Before(to) {
		to = last
	}
	if fr.Empty() || to.Before(res.From) {
		return res, nil
	}
	periods := periodsOf(r.Interval, res.From, to)
	// Periods that end before the first stored event hold nothing.
	firstDay := fr.FirstDay(loc)
	for len(periods) > 0 && nextPeriod(periods[0], r.Interval).AddDate(0, 0, -1).Before(firstDay) {
		periods = periods[1:]
	}
	if len(periods) == 0 {
		return res, nil
	}
	// Sized before it runs: groups × periods within the read budget.
	groups := 1
	if len(r.By) > 0 {
		var n uint64
		if err := scanOne(ctx, s, countGroupsSQL(SeriesRequest{By: r.By, Filters: r.Filters, TZ: r.TZ}, res.From, to), &n); err != nil {
			return res, err
		}
		groups = int(n)
	}
	if err := checkAnswerSize(s.Read, groups, len(periods)); err != nil {
		return res, err
	}

	res.Source = pres.Source(r.Interval, prevPeriod(periods[0], r.Interval), to)
	q := lifecycleSQL(pres, r.Interval, periods[0], periods[len(periods)-1], to, r.By, r.Filters)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	type counts struct{ n, ret, res, dor uint64 }
	got := map[string]counts{}
	var keys [][]string
	seen := map[string]bool{}
	for rows.Next() {
		var p string
		var c counts
		g := make([]string, len(r.By))
		dest := []any{&p}
		for i := range g {
			dest = append(dest, &g[i])
		}
		dest = append(dest, &c.n, &c.ret, &c.res, &c.dor)
		if err := rows.Scan(dest...); err != nil {
			return res, fmt.Errorf("query: lifecycle: %w", err)
		}
		gk := strings.Join(g, "\x00")
		if !seen[gk] {
			seen[gk] = true
			keys = append(keys, g)
		}
		got[p+"\x00"+gk] = c
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(r.By) == 0 {
		keys = [][]string{nil}
	}
	sortGroups(keys)
	for _, p := range periods {
		end := nextPeriod(p, r.Interval).AddDate(0, 0, -1)
		done := !end.After(r.To) && !end.After(res.LastCompleteDay)
		for _, g := range keys {
			c := got[p.Format(catalog.DateLayout)+"\x00"+strings.Join(g, "\x00")]
			row := LifecycleRow{Period: p, Dims: g, New: c.n, Returning: c.ret, Resurrecting: c.res, Dormant: c.dor, Complete: done}
			if c.dor > 0 {
				qr := round(float64(c.n+c.res)/float64(c.dor), 2)
				row.QuickRatio = &qr
			}
			res.Rows = append(res.Rows, row)
		}
	}
	return res, nil
}

// sortGroups orders group keys as the SQL orders them (by value).
func sortGroups(keys [][]string) { slices.SortFunc(keys, slices.Compare) }

// LifecycleCSVHeader is the layout of a lifecycle CSV for by and filters
// f: period, the by column, the four counts, quick_ratio (empty when
// there is nobody dormant), complete, tz, and one filter_<dim> column per
// filter applied (as in a series CSV).
func LifecycleCSVHeader(by []Dim, f Filters) []string {
	h := []string{"period"}
	for _, d := range by {
		h = append(h, string(d))
	}
	h = append(h, "new", "returning", "resurrecting", "dormant", "quick_ratio", "complete", "tz")
	for _, d := range Dims {
		if len(f.Values(d)) > 0 {
			h = append(h, "filter_"+string(d))
		}
	}
	return h
}

// WriteLifecycleCSV writes res as CSV.
func WriteLifecycleCSV(w io.Writer, res LifecycleResult) error {
	cw := newCSV(w)
	cw.Write(LifecycleCSVHeader(res.By, res.Filters))
	var tail []string
	tail = append(tail, zoneName(res.TZ))
	for _, d := range Dims {
		if vals := res.Filters.Values(d); len(vals) > 0 {
			tail = append(tail, strings.Join(vals, ","))
		}
	}
	for _, row := range res.Rows {
		rec := []string{row.Period.Format(catalog.DateLayout)}
		rec = append(rec, row.Dims...)
		rec = append(rec, strconv.FormatUint(row.New, 10), strconv.FormatUint(row.Returning, 10), strconv.FormatUint(row.Resurrecting, 10),
			strconv.FormatUint(row.Dormant, 10), optNumber(row.QuickRatio, ""), strconv.FormatBool(row.Complete))
		cw.Write(append(rec, tail...))
	}
	cw.Flush()
	return cw.Error()
}

// WriteLifecycleJSON writes res in the API's JSON shape:
// {"interval","from","to","by","tz","source",<filters>,data_through,
// last_complete_day,charts_behind_seconds,"rows":[{"period",<by…>,"new",
// "returning","resurrecting","dormant","quick_ratio","complete"}]}.
func WriteLifecycleJSON(w io.Writer, res LifecycleResult) error {
	var buf bytes.Buffer
	fr, err := json.Marshal(newFreshnessJSON(res.Freshness, res.LastCompleteDay))
	if err != nil {
		return err
	}
	by := make([]string, len(res.By))
	for i, d := range res.By {
		by[i] = string(d)
	}
	filters := map[string][]string{}
	for _, d := range Dims {
		if vals := res.Filters.Values(d); len(vals) > 0 {
			filters[string(d)] = vals
		}
	}
	head, err := json.Marshal(struct {
		Interval Interval            `json:"interval"`
		From     string              `json:"from"`
		To       string              `json:"to"`
		By       []string            `json:"by"`
		TZ       string              `json:"tz"`
		Source   string              `json:"source"`
		Filters  map[string][]string `json:"filters"`
	}{res.Interval, optDate(res.From), optDate(res.To), by, zoneName(res.TZ), res.Source, filters})
	if err != nil {
		return err
	}
	buf.Write(head[:len(head)-1])
	buf.WriteByte(',')
	buf.Write(fr[1 : len(fr)-1])
	buf.WriteString(`,"rows":[`)
	for i, row := range res.Rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"period":%q`, row.Period.Format(catalog.DateLayout))
		for j, d := range res.By {
			fmt.Fprintf(&buf, `,%q:%s`, string(d), strconv.Quote(row.Dims[j]))
		}
		fmt.Fprintf(&buf, `,"new":%d,"returning":%d,"resurrecting":%d,"dormant":%d,"quick_ratio":%s,"complete":%t}`,
			row.New, row.Returning, row.Resurrecting, row.Dormant, optNumber(row.QuickRatio, "null"), row.Complete)
	}
	buf.WriteString("]}\n")
	_, err = w.Write(buf.Bytes())
	return err
}
