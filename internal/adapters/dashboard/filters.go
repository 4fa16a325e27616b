package dashboard

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/query"
)

// Filters is the state of the filter bar. All of it lives in the URL, so a
// copied link reproduces the view and the back button works.
type Filters struct {
	Range      string // a preset key of Presets, or "custom"
	From, To   time.Time
	Interval   string // day, week, month
	Assistants []string
	Channels   []string
	Countries  []string
	// Compare is what the charts that can compare draw beside each line:
	// none, the previous period or the same period a year earlier
	// (query.CompareWindow).
	Compare query.Compare
	// TZ is the IANA zone whose days every chart counts ("UTC" or a
	// name such as Europe/Paris); today is today there.
	TZ string
	// Partial keeps the incomplete current period in the KPIs, changes
	// and "last period" tables (partial=include); by default they use the
	// last complete period.
	Partial bool
	// AlertDay (alert_day) is a day an alert notification links to: the
	// charts mark it.
	AlertDay string
	// Errors are the parameters that could not be used, with the reason;
	// the page shows them and falls back to the default for each.
	Errors []string
	// slice is the slice as query.ParseSlice read it: the charts' typed
	// requests are built from it (Filters.series).
	slice query.Slice
}

// Preset is a named relative date range (query.Preset) with its label.
type Preset struct {
	Key, Label string
}

// Presets are the date range choices of the filter bar, in display order;
// package query resolves each (query.Preset.Start).
var Presets = []Preset{
	{string(query.Range7d), "Last 7 days"},
	{string(query.Range28d), "Last 28 days"},
	{string(query.Range90d), "Last 90 days"},
	{string(query.Range12m), "Last 12 months"},
	{string(query.RangeAll), "Since launch"},
}

// presetExportRange is the export range that keeps a preset rolling when a
// chart is scheduled as CSV ("all" starts at the first stored event, a
// fixed date).
var presetExportRange = func() map[string]string {
	m := map[string]string{}
	for _, p := range []query.Preset{query.Range7d, query.Range28d, query.Range90d, query.Range12m} {
		m[string(p)] = string(export.RangeOf(p, time.Time{}, time.Time{}))
	}
	return m
}()

// filterEnv is what parsing needs besides the URL: the clock, the first
// day with data, the registries unknown values are checked against and
// the default time zone.
type filterEnv struct {
	now        time.Time
	launch     time.Time
	assistants []string
	channels   []string
	tz         string // default zone; "" is UTC
}

// DefaultRange and DefaultInterval are what a bare URL shows: a year by
// week shows the shape of adoption and every dated event of the story.
const (
	DefaultRange    = "12m"
	DefaultInterval = "week"
)

// Intervals are the allowed values of interval.
var Intervals = []string{"day", "week", "month"}

// ParseFilters reads the filter state from URL parameters in UTC, with
// the default registries. launch is the first day with data ("since
// launch"); today is the last day shown.
func ParseFilters(q url.Values, today, launch time.Time) Filters {
	return parseFilters(q, filterEnv{now: today, launch: launch})
}

// parseFilters reads the filter state from URL parameters with the query
// API's parser (query.ParseSlice): the same URL means the same slice, and
// a value the API refuses is refused here with the same message. Unusable
// values are reported in Errors, every one of them, and each takes its
// default: a page with a typo in its URL still shows something, and says
// what it ignored.
func parseFilters(q url.Values, env filterEnv) Filters {
	reg := catalog.Registry{Assistants: env.assistants, Channels: env.channels}
	s, errs := query.ParseSlice(q, query.SliceOptions{
		Now: env.now, First: truncDay(env.launch), TZ: env.tz,
		Range: query.Preset(DefaultRange), Interval: query.Interval(DefaultInterval),
		Dims:  []query.Dim{query.DimAssistant, query.DimChannel, query.DimCountry},
		Read:  query.ReadTZ | query.ReadCompare | query.ReadPartial,
		Check: func(d query.Dim, v string) error { return reg.Check(catalog.Kind(d), v) },
	})
	f := Filters{Range: string(s.Range), From: s.From, To: s.To, Interval: string(s.Interval),
		Assistants: s.Filters.Assistants, Channels: s.Filters.Channels, Countries: s.Filters.Countries,
		Compare: s.Compare, TZ: s.TZ, Partial: s.Partial, slice: s, AlertDay: q.Get("alert_day")}
	if f.TZ == "" {
		f.TZ = "UTC"
	}
	for _, e := range errs {
		f.Errors = append(f.Errors, e.Error())
	}
	return f
}

// loadZone loads an IANA zone; "UTC" and "" are UTC. "Local" is refused:
// it would mean the server's zone, not one a link can carry.
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if strings.EqualFold(name, "local") {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

// Location is the zone of f's days.
func (f Filters) Location() *time.Location {
	loc, err := loadZone(f.TZ)
	if err != nil {
		return time.UTC
	}
	return loc
}

func contains(xs []string, x string) bool {
	for _, s := range xs {
		if s == x {
			return true
		}
	}
	return false
}

func truncDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// sliceValues are the parameters the page URL and the API share: the
// interval and each non-empty list as one comma list.
func (f Filters) sliceValues() url.Values {
	v := url.Values{}
	v.Set("interval", f.Interval)
	for _, l := range []struct {
		name string
		vals []string
	}{{"assistant", f.Assistants}, {"channel", f.Channels}, {"country", f.Countries}} {
		if len(l.vals) > 0 {
			v.Set(l.name, strings.Join(l.vals, ","))
		}
	}
	return v
}

// Values is the canonical URL form of f: the same filters always give the
// same query string.
func (f Filters) Values() url.Values {
	v := f.sliceValues()
	v.Set("range", f.Range)
	if f.Range == "custom" {
		v.Set("from", f.FromString())
		v.Set("to", f.ToString())
	}
	if f.Compare.On() {
		v.Set("compare", string(f.Compare))
	}
	if f.Partial {
		v.Set("partial", "include")
	}
	v.Set("tz", f.zone())
	return v
}

func (f Filters) zone() string {
	if f.TZ == "" {
		return "UTC"
	}
	return f.TZ
}

// APIValues are the query API parameters for the same slice: absolute
// dates, comma lists.
func (f Filters) APIValues() url.Values {
	v := f.sliceValues()
	v.Set("from", f.FromString())
	v.Set("to", f.ToString())
	if z := f.zone(); z != "UTC" {
		v.Set("tz", z)
	}
	if f.Partial {
		v.Set("partial", "include")
	}
	return v
}

// FromString and ToString are the dates as YYYY-MM-DD.
func (f Filters) FromString() string { return f.From.Format(catalog.DateLayout) }
func (f Filters) ToString() string   { return f.To.Format(catalog.DateLayout) }

// Days is the number of days in the range, both ends included.
func (f Filters) Days() int { return int(f.To.Sub(f.From).Hours()/24) + 1 }

// Has reports whether list holds v (for checked boxes).
func Has(list []string, v string) bool { return contains(list, v) }

// pageURL is path with f's parameters plus extra ones (page-specific
// state such as the channel of the Channel page).
func pageURL(path string, f Filters, extra url.Values) string {
	v := f.Values()
	for k, vs := range extra {
		v[k] = vs
	}
	return path + "?" + v.Encode()
}

// apiURL is the query API URL for CSV download of a chart.
func apiURL(endpoint string, v url.Values) string {
	v.Set("format", "csv")
	return "/api/v1/" + endpoint + "?" + v.Encode()
}

// querySlice is f's slice as query.ParseSlice read it, or, for filters a
// handler built itself, made from f's fields.
func (f Filters) querySlice() query.Slice {
	if !f.slice.From.IsZero() {
		return f.slice
	}
	return query.Slice{Range: query.Preset(f.Range), From: f.From, To: f.To, Interval: query.Interval(f.Interval),
		TZ: f.apiZone(), Filters: f.queryFilters(), Compare: f.Compare, Partial: f.Partial}
}

// series is the typed request of a chart of metric m grouped by by over
// f's slice. It compares with nothing: a chart that draws the comparison
// asks for it (compared).
func (f Filters) series(m query.Metric, by ...query.Dim) query.SeriesRequest {
	r := f.querySlice().Series(m, by...)
	r.Compare = query.CompareNone
	return r
}

// compared is r compared as the filters ask (compare=previous or year).
func (f Filters) compared(r query.SeriesRequest) query.SeriesRequest {
	r.Compare = query.CompareNone
	if f.Compare.On() {
		r.Compare = f.Compare
	}
	return r
}

// queryFilters are f's slice for package query.
func (f Filters) queryFilters() query.Filters {
	return query.Filters{Assistants: f.Assistants, Channels: f.Channels, Countries: f.Countries}
}

// apiZone is f's zone as package query takes it ("" for UTC).
func (f Filters) apiZone() string {
	if z := f.zone(); z != "UTC" {
		return z
	}
	return ""
}
