package query

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// The stickiness distribution (README.md, "Stickiness distribution"): of
// the people active in a window of 7 or 28 days, how many were active on
// 1, 2, … all of its days — the power-user curve. The windows are whole
// and complete: consecutive windows of Window days ending on the range's
// last complete day (the last day of the range, or the last complete day
// of the data when the range reaches past it), as many as fit in the
// range, newest last. A window that would start before from is left out.

// EndpointStickiness is /api/v1/stickiness (ExportCSV's kind).
const EndpointStickiness = "stickiness"

// StickinessWindows are the window lengths allowed, in days.
var StickinessWindows = []int{7, 28}

// PowerDays is, per window length, the days a person must be active on to
// count as a power user: 5 of 7, 20 of 28.
var PowerDays = map[int]int{7: 5, 28: 20}

// StickinessRequest asks for the distribution of days active per window.
type StickinessRequest struct {
	Window   int // 7 or 28
	From, To time.Time
	Range    Preset
	TZ       string // "" is UTC
	By       []Dim  // empty or assistant
	Filters  Filters
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
	// Freshness, when set, is used instead of reading it from the store.
	Freshness *DataFreshness
}

// ParseStickiness reads a StickinessRequest: window (7, default, or 28),
// by (none or assistant), and the slice (ParseSlice: range, from, to, tz,
// assistant, channel, country; default the last 28 days).
func ParseStickiness(v url.Values) (StickinessRequest, error) {
	var r StickinessRequest
	switch w := one(v, "window"); w {
	case "", "7":
		r.Window = 7
	case "28":
		r.Window = 28
	default:
		return r, &ParamError{Param: "window", Value: w, Allowed: "want 7 or 28 (days)"}
	}
	sv := url.Values{}
	for k, x := range v {
		if k != "window" {
			sv[k] = x
		}
	}
	sl, errs := ParseSlice(sv, SliceOptions{Days: 28, Dims: sliceDims, Read: ReadTZ})
	if len(errs) > 0 {
		return r, errs.First()
	}
	r.From, r.To, r.Range, r.TZ, r.Filters = sl.From, sl.To, sl.Range, sl.TZ, sl.Filters
	switch by := one(v, "by"); by {
	case "", "none":
	case string(DimAssistant):
		r.By = []Dim{DimAssistant}
	default:
		return r, &ParamError{Param: "by", Value: by, Allowed: "want none or assistant"}
	}
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return r, &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "the stickiness distribution slices by assistant, channel and country only"}
		}
	}
	return r, nil
}

// Values renders r into the URL parameters ParseStickiness reads back.
func (r StickinessRequest) Values() url.Values {
	v := Slice{Range: r.Range, From: r.From, To: r.To, TZ: r.TZ, Filters: r.Filters}.Values()
	v.Del("interval")
	v.Set("window", strconv.Itoa(r.Window))
	if len(r.By) > 0 {
		v.Set("by", joinDims(r.By))
	}
	return v
}

// StickinessRow is one bucket of one window and group: the people active
// on exactly DaysActive of its days.
type StickinessRow struct {
	WindowStart, WindowEnd time.Time
	Dims                   []string
	DaysActive             int
	People                 uint64
	SharePct               float64 // of the window's active people, 2 decimals
}

// StickinessWindow sums one window and group: its active people and the
// power users (active on at least PowerDays of its days).
type StickinessWindow struct {
	WindowStart, WindowEnd time.Time
	Dims                   []string
	People, Power          uint64
	PowerPct               float64
}

// StickinessResult is the answer to a StickinessRequest.
type StickinessResult struct {
	Window          int
	From, To        time.Time
	By              []Dim
	TZ              string
	Filters         Filters
	Source          string
	Freshness       DataFreshness
	LastCompleteDay time.Time
	// Rows: for each window (oldest first) and group, every bucket 1 …
	// Window, zeros included.
	Rows    []StickinessRow
	Windows []StickinessWindow
}

// StickinessDistribution answers r: exact, from the person-day rows of the zone's
// person-level store (raw events in a zone without rollups).
func StickinessDistribution(ctx context.Context, s *store.Store, r StickinessRequest) (StickinessResult, error) {
	res := StickinessResult{Window: r.Window, From: r.From, To: r.To, By: r.By, TZ: r.TZ, Filters: r.Filters}
	if r.Window != 7 && r.Window != 28 {
		return res, &ParamError{Param: "window", Value: strconv.Itoa(r.Window), Allowed: "want 7 or 28 (days)"}
	}
	var fr DataFreshness
	var err error
	if r.Freshness != nil {
		fr = *r.Freshness
	} else if fr, err = Freshness(ctx, s, r.Now); err != nil {
		return res, err
	}
	pres := presenceIn(r.TZ, &fr)
	res.Freshness, res.LastCompleteDay = fr, fr.LastCompleteDay(pres.loc())
	end := r.To
	if end.After(res.LastCompleteDay) {
		end = res.LastCompleteDay
	}
	n := 0 // whole windows in [From, end]
	if !fr.Empty() && !end.Before(r.From) {
		n = (int(end.Sub(r.From).Hours()/24) + 1) / r.Window
	}
	res.Source = pres.Source(Day, r.From, end)
	if n == 0 {
		return res, nil
	}
	start := end.AddDate(0, 0, -n*r.Window+1)
	groups := 1
	if len(r.By) > 0 {
		var g uint64
		if err := scanOne(ctx, s, countGroupsSQL(SeriesRequest{By: r.By, Filters: r.Filters}, start, end), &g); err != nil {
			return res, err
		}
		groups = int(g)
	}
	if err := checkAnswerSize(s.Read, groups*r.Window, n); err != nil {
		return res, err
	}
	dims := withComma(dimAliases(r.By))
	q := &sqlText{}
	// w: the window's distance back from the last one (0 = the last).
	q.add("SELECT w"+dims+", days, count() FROM (SELECT user_key"+withComma(dimCols(r.By))+
		", toUInt64(intDiv(toRelativeDayNum(toDate(?)) - toRelativeDayNum(day), ?)) AS w, toUInt64(uniqExact(day)) AS days FROM ", date(end), r.Window)
	pres.rows(q, Day, start, end, r.Filters)
	q.add(" GROUP BY user_key" + dims + ", w) GROUP BY w" + dims + ", days ORDER BY w" + dims + ", days" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	type key struct {
		w int
		g string
	}
	counts := map[key][]uint64{}
	var keys [][]string
	seen := map[string]bool{}
	for rows.Next() {
		var w, days uint64
		var people uint64
		g := make([]string, len(r.By))
		dest := []any{&w}
		for i := range g {
			dest = append(dest, &g[i])
		}
		dest = append(dest, &days, &people)
		if err := rows.Scan(dest...); err != nil {
			return res, fmt.Errorf("query: stickiness: %w", err)
		}
		if days < 1 || int(days) > r.Window || int(w) >= n {
			return res, fmt.Errorf("query: stickiness: window %d, %d days", w, days)
		}
		gk := strings.Join(g, "\x00")
		if !seen[gk] {
			seen[gk] = true
			keys = append(keys, g)
		}
		k := key{int(w), gk}
		if counts[k] == nil {
			counts[k] = make([]uint64, r.Window+1)
		}
		counts[k][days] = people
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(r.By) == 0 {
		keys = [][]string{nil}
	}
	sortGroups(keys)
	power := PowerDays[r.Window]
	for w := n - 1; w >= 0; w-- {
		we := end.AddDate(0, 0, -w*r.Window)
		ws := we.AddDate(0, 0, -r.Window+1)
		for _, g := range keys {
			c := counts[key{w, strings.Join(g, "\x00")}]
			if c == nil {
				c = make([]uint64, r.Window+1)
			}
			sw := StickinessWindow{WindowStart: ws, WindowEnd: we, Dims: g}
			for d := 1; d <= r.Window; d++ {
				sw.People += c[d]
				if d >= power {
					sw.Power += c[d]
				}
			}
			if sw.People > 0 {
				sw.PowerPct = round(float64(sw.Power)/float64(sw.People)*100, 2)
			}
			res.Windows = append(res.Windows, sw)
			for d := 1; d <= r.Window; d++ {
				row := StickinessRow{WindowStart: ws, WindowEnd: we, Dims: g, DaysActive: d, People: c[d]}
				if sw.People > 0 {
					row.SharePct = round(float64(c[d])/float64(sw.People)*100, 2)
				}
				res.Rows = append(res.Rows, row)
			}
		}
	}
	return res, nil
}

// StickinessCSVHeader: window_start, window_end, the by column,
// days_active, people, share_pct, tz.
func StickinessCSVHeader(by []Dim) []string {
	h := []string{"window_start", "window_end"}
	for _, d := range by {
		h = append(h, string(d))
	}
	return append(h, "days_active", "people", "share_pct", "tz")
}

// WriteStickinessCSV writes res's rows as CSV.
func WriteStickinessCSV(w io.Writer, res StickinessResult) error {
	cw := newCSV(w)
	cw.Write(StickinessCSVHeader(res.By))
	for _, row := range res.Rows {
		rec := []string{row.WindowStart.Format(catalog.DateLayout), row.WindowEnd.Format(catalog.DateLayout)}
		rec = append(rec, row.Dims...)
		rec = append(rec, strconv.Itoa(row.DaysActive), strconv.FormatUint(row.People, 10), FormatNumber(row.SharePct), zoneName(res.TZ))
		cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// WriteStickinessJSON writes res in the API's JSON shape:
// {"window","from","to","by","tz","source","power_days",<freshness>,
// "windows":[{"window_start","window_end",<by…>,"people","power_users",
// "power_pct"}],"rows":[{"window_start","window_end",<by…>,"days_active",
// "people","share_pct"}]}.
func WriteStickinessJSON(w io.Writer, res StickinessResult) error {
	var buf bytes.Buffer
	fr, err := json.Marshal(newFreshnessJSON(res.Freshness, res.LastCompleteDay))
	if err != nil {
		return err
	}
	by := make([]string, len(res.By))
	for i, d := range res.By {
		by[i] = string(d)
	}
	head, err := json.Marshal(struct {
		Window    int      `json:"window"`
		From      string   `json:"from"`
		To        string   `json:"to"`
		By        []string `json:"by"`
		TZ        string   `json:"tz"`
		Source    string   `json:"source"`
		PowerDays int      `json:"power_days"`
	}{res.Window, optDate(res.From), optDate(res.To), by, zoneName(res.TZ), res.Source, PowerDays[res.Window]})
	if err != nil {
		return err
	}
	buf.Write(head[:len(head)-1])
	buf.WriteByte(',')
	buf.Write(fr[1 : len(fr)-1])
	group := func(dims []string) {
		for j, d := range res.By {
			fmt.Fprintf(&buf, `,%q:%s`, string(d), strconv.Quote(dims[j]))
		}
	}
	buf.WriteString(`,"windows":[`)
	for i, sw := range res.Windows {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"window_start":%q,"window_end":%q`, sw.WindowStart.Format(catalog.DateLayout), sw.WindowEnd.Format(catalog.DateLayout))
		group(sw.Dims)
		fmt.Fprintf(&buf, `,"people":%d,"power_users":%d,"power_pct":%s}`, sw.People, sw.Power, FormatNumber(sw.PowerPct))
	}
	buf.WriteString(`],"rows":[`)
	for i, row := range res.Rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"window_start":%q,"window_end":%q`, row.WindowStart.Format(catalog.DateLayout), row.WindowEnd.Format(catalog.DateLayout))
		group(row.Dims)
		fmt.Fprintf(&buf, `,"days_active":%d,"people":%d,"share_pct":%s}`, row.DaysActive, row.People, FormatNumber(row.SharePct))
	}
	buf.WriteString("]}\n")
	_, err = w.Write(buf.Bytes())
	return err
}
