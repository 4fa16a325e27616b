// Package query answers the product's questions (active users, events, new
// users, stickiness, share, modality mix, migration, retention) from
// ClickHouse. Metric definitions are data (metrics.go), SQL is built by a
// small builder that binds every user value (builder.go), and results are
// plain types that the API, the dashboard and the CSV exports all share, so a
// number is the same on a chart, in the API and in a CSV.
//
// Requests are parsed from url.Values by ParseSeries, ParseMigration,
// ParseRetention and the other Parse functions; the parameters of a slice
// (range, from, to, interval, tz, filters, compare, exact, partial) by
// ParseSlice alone, which the dashboard's filter bar calls too: a URL means
// the same thing everywhere.
package query

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// Dim is a dimension rows can be grouped by and filtered on.
type Dim string

const (
	DimAssistant Dim = "assistant"
	DimChannel   Dim = "channel"
	DimCountry   Dim = "country"
	DimModality  Dim = "modality"
	DimEventType Dim = "event_type"
)

// Dims lists every dimension in their canonical order.
var Dims = []Dim{DimAssistant, DimChannel, DimCountry, DimModality, DimEventType}

// Interval is the length of a period.
type Interval string

const (
	Day   Interval = "day"
	Week  Interval = "week" // ISO week, Monday start
	Month Interval = "month"
)

// Intervals lists the allowed intervals.
var Intervals = []Interval{Day, Week, Month}

// Limits on the size of a request, so no URL can ask for an unbounded scan
// or answer.
const (
	MaxRangeDays   = 3700 // about ten years
	MaxFilterItems = 50
	MaxWindowDays  = 366 // migration before_days/after_days
)

// Filters restrict events to a slice. An empty list means no restriction.
type Filters struct {
	Assistants []string
	Channels   []string
	Countries  []string
	Modalities []string
	EventTypes []string
}

// Values returns the filter values of dimension d.
func (f Filters) Values(d Dim) []string {
	switch d {
	case DimAssistant:
		return f.Assistants
	case DimChannel:
		return f.Channels
	case DimCountry:
		return f.Countries
	case DimModality:
		return f.Modalities
	case DimEventType:
		return f.EventTypes
	}
	return nil
}

func (f *Filters) set(d Dim, v []string) {
	switch d {
	case DimAssistant:
		f.Assistants = v
	case DimChannel:
		f.Channels = v
	case DimCountry:
		f.Countries = v
	case DimModality:
		f.Modalities = v
	case DimEventType:
		f.EventTypes = v
	}
}

// SeriesRequest asks for one metric per period over [From, To] (inclusive
// dates), grouped by By.
type SeriesRequest struct {
	Metric   Metric
	Interval Interval
	From, To time.Time // UTC midnight, inclusive
	// Range is the preset that chose From and To (RangeCustom for dates,
	// "" for the default span). Values gives From and To, so a CSV link
	// reproduces the chart; a schedule keeps the preset rolling
	// (export.RangeOf).
	Range   Preset
	By      []Dim
	Filters Filters
	// Compare adds the value of each period in the window compared with
	// (CompareWindow: the previous window or the same period a year
	// earlier, weekday-aligned) and the change in percent.
	Compare Compare
	// TZ is an IANA time zone for day boundaries; "" or "UTC" is UTC.
	TZ string
	// ShareOf names the dimensions (a subset of By) that define the whole
	// for metric share: each row's users divided by the users of the same
	// period, the same slice and the same ShareOf values. Empty: the whole
	// slice.
	ShareOf []Dim
	// Exact forces exact distinct counts (never the approximate rollups).
	Exact bool
	// Partial (partial=include) keeps incomplete periods where they are
	// left out by default: the change against the previous period of an
	// incomplete row, and the rows of share and stickiness for incomplete
	// periods. Rows of other metrics are always there, marked Complete
	// false.
	Partial bool
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
	// Freshness, when set, is used instead of reading it from the store
	// (a page that runs several series reads it once).
	Freshness *DataFreshness
}

// MigrationRequest asks where the people active on (Assistant, Channel)
// before Date went in the days from Date on.
type MigrationRequest struct {
	Assistant, Channel string
	Date               time.Time
	BeforeDays         int
	AfterDays          int
	// Baseline is the reference date of the baseline (zero: the same
	// weekday DefaultBaselineWeeks weeks before Date); NoBaseline
	// (baseline=none) leaves the baseline out.
	Baseline   time.Time
	NoBaseline bool
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
}

// RetentionRequest asks, for the people first seen on a slice in each period
// of [From, To], how many were active on the slice again in each later period
// up to To.
type RetentionRequest struct {
	Interval Interval // week or month
	From, To time.Time
	Filters  Filters
	// Now is the clock (zero: the current time); not a URL parameter.
	Now time.Time
	// TZ is the zone of the days ("" for UTC): first-seen days and periods
	// are the zone's.
	TZ string
}

// ParamError is an invalid request parameter: the API answers 400 with its
// message.
type ParamError struct {
	Param   string
	Value   string
	Allowed string // the allowed values or the expected form
	// Err, when set, is the catalog rule that refused Value: its message
	// is the answer, the same as ingest and the dashboard give.
	Err error
}

// HTTPStatus makes every adapter answer a bad parameter 400.
func (e *ParamError) HTTPStatus() int { return 400 }

func (e *ParamError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	if e.Value == "" {
		return fmt.Sprintf("parameter %s is required: %s", e.Param, e.Allowed)
	}
	v := e.Value
	if len(v) > 80 {
		v = v[:80] + "…"
	}
	return fmt.Sprintf("parameter %s=%q is invalid: %s", e.Param, v, e.Allowed)
}

func (e *ParamError) Unwrap() error { return e.Err }

// checkValue holds a dimension value to the catalog's rule: a slug, or a
// country code. Anything else cannot match stored data, and holding values
// to it keeps odd bytes out of queries and logs. Any slug is accepted, not
// only the configured ones: stored data may hold slugs since removed from
// the registry.
func checkValue(d Dim, s string) error {
	var err error
	if d == DimCountry {
		err = catalog.CheckCountry(s)
	} else {
		err = catalog.CheckSlug(catalog.Kind(d), s)
	}
	if err != nil {
		return &ParamError{Param: string(d), Value: s, Err: err}
	}
	return nil
}

// tzRe is the form of an IANA zone name.
var tzRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)

// now is replaced in tests.
var now = time.Now

// ParseSeries reads a SeriesRequest from URL parameters: metric, by,
// share_of and the slice (ParseSlice: range, from, to, interval, tz,
// assistant, channel, country, modality, event_type, compare, exact,
// partial). Unknown parameters (format, page state) are ignored; every
// known one is checked against an allow-list or parsed into a typed value.
// The error is the first refused parameter.
func ParseSeries(v url.Values) (SeriesRequest, error) { return ParseSeriesSince(v, time.Time{}) }

// ParseSeriesSince is ParseSeries with the first day with data, where
// range=all starts (zero: catalog.DefaultLaunch); the caller reads it from
// the store.
func ParseSeriesSince(v url.Values, first time.Time) (SeriesRequest, error) {
	var r SeriesRequest
	m := one(v, "metric")
	if m == "" {
		m = string(ActiveUsers)
	}
	def, ok := metrics[Metric(m)]
	if !ok {
		return r, &ParamError{Param: "metric", Value: m, Allowed: "want one of " + joinNames(MetricNames())}
	}
	r.Metric = def.Name
	sl, errs := ParseSlice(v, SliceOptions{Days: 28, Dims: Dims, First: first, Read: ReadAll})
	if len(errs) > 0 {
		return r, errs.First()
	}
	r.setSlice(sl)
	var err error
	if r.By, err = parseDims(v, "by"); err != nil {
		return r, err
	}
	if r.Metric == ModalityMix && !hasDim(r.By, DimModality) {
		r.By = append(r.By, DimModality)
	}
	if r.ShareOf, err = parseDims(v, "share_of"); err != nil {
		return r, err
	}
	for _, d := range r.ShareOf {
		if !hasDim(r.By, d) {
			return r, &ParamError{Param: "share_of", Value: string(d), Allowed: "each share_of dimension must also be in by (by=" + joinDims(r.By) + ")"}
		}
	}
	if len(r.ShareOf) > 0 && r.Metric != Share {
		return r, &ParamError{Param: "share_of", Value: joinDims(r.ShareOf), Allowed: "only metric=share takes share_of"}
	}
	return r, nil
}

// Series is the request of metric m grouped by by over the slice s, as
// ParseSeries reads it from s.Values() with metric and by: a page builds
// its charts' requests from its parsed slice, and each request's Values
// is its CSV link.
func (s Slice) Series(m Metric, by ...Dim) SeriesRequest {
	r := SeriesRequest{Metric: m, By: append([]Dim(nil), by...)}
	r.setSlice(s)
	if m == ModalityMix && !hasDim(r.By, DimModality) {
		r.By = append(r.By, DimModality)
	}
	return r
}

// setSlice takes the slice's part of r from s.
func (r *SeriesRequest) setSlice(s Slice) {
	r.Interval, r.From, r.To, r.Range, r.TZ, r.Filters = s.Interval, s.From, s.To, s.Range, s.TZ, s.Filters
	r.Compare = s.Compare
	if !r.Compare.On() {
		r.Compare = CompareNone
	}
	r.Exact, r.Partial = s.Exact, s.Partial
}

// Slice is the slice part of r, with absolute dates.
func (r SeriesRequest) Slice() Slice {
	c := r.Compare
	if !c.On() {
		c = CompareNone
	}
	return Slice{Range: r.Range, From: r.From, To: r.To, Interval: r.Interval, TZ: r.TZ, Filters: r.Filters,
		Compare: c, Exact: r.Exact, Partial: r.Partial}
}

// parsePartial reads partial: exclude (default) or include.
func parsePartial(v url.Values) (bool, error) {
	switch p := one(v, "partial"); p {
	case "", "exclude":
		return false, nil
	case "include":
		return true, nil
	default:
		return false, &ParamError{Param: "partial", Value: p, Allowed: "want exclude (default: incomplete periods are marked, and left out of changes, shares and stickiness) or include"}
	}
}

// ParseMigration reads a MigrationRequest: assistant, channel, date,
// before_days (default 28), after_days (default 28), baseline (a date, or
// none; default the same weekday 8 weeks before date).
func ParseMigration(v url.Values) (MigrationRequest, error) {
	var r MigrationRequest
	for _, p := range []struct {
		name string
		dst  *string
	}{{"assistant", &r.Assistant}, {"channel", &r.Channel}} {
		s := one(v, p.name)
		if s == "" {
			return r, &ParamError{Param: p.name, Value: "", Allowed: "one value, for example assistant=chatgpt&channel=whatsapp"}
		}
		if err := checkValue(Dim(p.name), s); err != nil {
			return r, err
		}
		*p.dst = s
	}
	d := one(v, "date")
	if d == "" {
		return r, &ParamError{Param: "date", Value: "", Allowed: "a date YYYY-MM-DD (the first day after the change)"}
	}
	t, err := catalog.ParseDate("date", d)
	if err != nil {
		return r, &ParamError{Param: "date", Value: d, Err: err}
	}
	r.Date = t
	if r.BeforeDays, err = parseInt(v, "before_days", 28, 1, MaxWindowDays); err != nil {
		return r, err
	}
	if r.AfterDays, err = parseInt(v, "after_days", 28, 1, MaxWindowDays); err != nil {
		return r, err
	}
	switch b := one(v, "baseline"); b {
	case "":
	case "none":
		r.NoBaseline = true
	default:
		bt, err := time.Parse(catalog.DateLayout, b)
		if err != nil {
			return r, &ParamError{Param: "baseline", Value: b, Allowed: fmt.Sprintf("want a date YYYY-MM-DD (the reference date of the same cohort definition; default the same weekday %d weeks before date) or none", DefaultBaselineWeeks)}
		}
		if !catalog.InDateBounds(bt) {
			_, err := catalog.ParseDate("baseline", b)
			return r, &ParamError{Param: "baseline", Value: b, Err: err}
		}
		if !bt.Before(r.Date) {
			return r, &ParamError{Param: "baseline", Value: b, Allowed: "must be before date=" + r.Date.Format(catalog.DateLayout)}
		}
		r.Baseline = bt
	}
	return r, nil
}

// ParseRetention reads a RetentionRequest: interval (week or month, default
// week), from, to (default: the last 12 weeks), assistant, channel, country.
func ParseRetention(v url.Values) (RetentionRequest, error) {
	return ParseRetentionSince(v, time.Time{})
}

// ParseRetentionSince is ParseRetention with the first day with data, where
// range=all starts (zero: catalog.DefaultLaunch).
func ParseRetentionSince(v url.Values, first time.Time) (RetentionRequest, error) {
	var r RetentionRequest
	sl, errs := ParseSlice(v, SliceOptions{Days: 84, Interval: Week, Intervals: []Interval{Week, Month}, Dims: sliceDims, Read: ReadTZ, First: first})
	if len(errs) > 0 {
		return r, errs.First()
	}
	r.Interval, r.From, r.To, r.Filters, r.TZ = sl.Interval, sl.From, sl.To, sl.Filters, sl.TZ
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return r, &ParamError{Param: string(d), Value: strings.Join(v[string(d)], ","), Allowed: "retention slices by assistant, channel and country only"}
		}
	}
	return r, nil
}

// one returns the parameter's value; repeated parameters are joined with
// commas, as if given as one list.
func one(v url.Values, name string) string {
	return strings.TrimSpace(strings.Join(v[name], ","))
}

func parseDims(v url.Values, name string) ([]Dim, error) {
	s := one(v, name)
	if s == "" {
		return nil, nil
	}
	var out []Dim
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		found := false
		for _, d := range Dims {
			if string(d) == part {
				found = true
				if hasDim(out, d) {
					return nil, &ParamError{Param: name, Value: s, Allowed: "dimension " + part + " is listed twice"}
				}
				out = append(out, d)
			}
		}
		if !found {
			return nil, &ParamError{Param: name, Value: part, Allowed: "want a comma list of " + joinDims(Dims)}
		}
	}
	return out, nil
}

// sliceDims are the filters of the views that slice people by where they
// are (retention, dependency, overlap, KPIs): assistant, channel, country.
var sliceDims = []Dim{DimAssistant, DimChannel, DimCountry}

// parseFilters reads the filters of allowed, by the slice's rule, and
// returns the first refused value.
func parseFilters(v url.Values, allowed []Dim) (Filters, error) {
	var f Filters
	var errs ParamErrors
	add := func(err error) {
		if pe, ok := err.(*ParamError); ok {
			errs = append(errs, pe)
		}
	}
	for _, d := range allowed {
		f.set(d, readList(v, d, nil, add))
	}
	return f, errs.First()
}

func parseTZ(v url.Values) (string, error) {
	s := one(v, "tz")
	if s == "" || s == "UTC" || s == "Etc/UTC" {
		return "", nil
	}
	if !tzRe.MatchString(s) {
		return "", &ParamError{Param: "tz", Value: s, Allowed: "want an IANA time zone such as Europe/Paris, or UTC"}
	}
	if _, err := time.LoadLocation(s); err != nil || strings.EqualFold(s, "local") {
		return "", &ParamError{Param: "tz", Value: s, Allowed: "unknown time zone: want an IANA name such as Europe/Paris, or UTC"}
	}
	return s, nil
}

func parseBool(v url.Values, name string) (bool, error) {
	s := one(v, name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, &ParamError{Param: name, Value: s, Allowed: "want true or false"}
	}
	return b, nil
}

func parseInt(v url.Values, name string, def, lo, hi int) (int, error) {
	s := one(v, name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, &ParamError{Param: name, Value: s, Allowed: fmt.Sprintf("want a whole number from %d to %d", lo, hi)}
	}
	return n, nil
}

func hasDim(ds []Dim, d Dim) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func joinDims(ds []Dim) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = string(d)
	}
	return strings.Join(s, ",")
}

func joinNames(n []string) string { return strings.Join(n, ", ") }

// Values renders r back into URL parameters that ParseSeries reads into the
// same request (for links and export definitions).
func (r SeriesRequest) Values() url.Values {
	v := url.Values{}
	v.Set("metric", string(r.Metric))
	v.Set("interval", string(r.Interval))
	v.Set("from", r.From.Format(catalog.DateLayout))
	v.Set("to", r.To.Format(catalog.DateLayout))
	if len(r.By) > 0 {
		v.Set("by", joinDims(r.By))
	}
	for _, d := range Dims {
		if vals := r.Filters.Values(d); len(vals) > 0 {
			v.Set(string(d), strings.Join(vals, ","))
		}
	}
	if r.Compare.On() {
		v.Set("compare", string(r.Compare))
	}
	if r.TZ != "" {
		v.Set("tz", r.TZ)
	}
	if len(r.ShareOf) > 0 {
		v.Set("share_of", joinDims(r.ShareOf))
	}
	if r.Exact {
		v.Set("exact", "true")
	}
	if r.Partial {
		v.Set("partial", "include")
	}
	return v
}
