package query

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// The URL vocabulary of a slice (which days, in which zone, by which
// period, on which assistants, channels and countries, compared with what)
// is read by ParseSlice alone: the query API's parsers and the dashboard's
// filter bar both call it, so a URL means the same thing, and is refused
// with the same message, on a page, in the API, in a scheduled export and
// in the CLI.

// Compare is what a series is compared with. It is an enum, not a
// boolean, so that a later comparison (the same range a year before) is
// one more constant.
type Compare string

const (
	CompareNone Compare = "none" // no comparison (the default; compare= empty)
	// ComparePrevious is the window just before, shifted back by whole
	// intervals of the range's length so weekdays face weekdays (see
	// CompareWindow).
	ComparePrevious Compare = "previous"
	// CompareYear is the same period a year earlier: 364 days (52 weeks)
	// back for days and weeks, so weekdays face weekdays; 12 months back
	// for months.
	CompareYear Compare = "year"
)

// Compares lists the values of compare.
var Compares = []Compare{CompareNone, ComparePrevious, CompareYear}

// On reports whether c asks for a comparison.
func (c Compare) On() bool { return c == ComparePrevious || c == CompareYear }

// Preset is a named date range ending today (range=).
type Preset string

const (
	Range7d     Preset = "7d"
	Range28d    Preset = "28d"
	Range90d    Preset = "90d"
	Range12m    Preset = "12m"
	RangeAll    Preset = "all"    // from the first stored event
	RangeCustom Preset = "custom" // from and to
)

// Presets lists the values of range, in display order.
var Presets = []Preset{Range7d, Range28d, Range90d, Range12m, RangeAll, RangeCustom}

// Start is the first day of preset p when it ends on today; first is the
// first day with data (for RangeAll). Custom has no start of its own: it
// returns today.
func (p Preset) Start(today, first time.Time) time.Time {
	switch p {
	case Range7d:
		return today.AddDate(0, 0, -6)
	case Range28d:
		return today.AddDate(0, 0, -27)
	case Range90d:
		return today.AddDate(0, 0, -89)
	case Range12m:
		return today.AddDate(-1, 0, 1)
	case RangeAll:
		return first
	}
	return today
}

// Slice is the part of a request every view shares: the days [From, To]
// and how they are cut into periods, the zone whose days they are, the
// filters and the comparison. ParseSlice reads it.
type Slice struct {
	// Range is the preset that chose From and To, RangeCustom when from
	// or to did, or "" when neither was given and the default span of
	// SliceOptions.Days applied.
	Range    Preset
	From, To time.Time // midnight UTC dates, inclusive
	Interval Interval
	// TZ is the IANA zone of the days; "" is UTC.
	TZ      string
	Filters Filters
	Compare Compare
	Exact   bool
	Partial bool
}

// Location is the zone of s's days.
func (s Slice) Location() *time.Location {
	if s.TZ == "" {
		return time.UTC
	}
	if loc, err := time.LoadLocation(s.TZ); err == nil {
		return loc
	}
	return time.UTC
}

// Values renders s into the URL parameters ParseSlice reads back into the
// same slice: a preset stays a preset (the link keeps rolling), anything
// else is absolute dates. Empty and default values are left out.
func (s Slice) Values() url.Values {
	v := url.Values{}
	switch s.Range {
	case "", RangeCustom:
		v.Set("from", s.From.Format(catalog.DateLayout))
		v.Set("to", s.To.Format(catalog.DateLayout))
	default:
		v.Set("range", string(s.Range))
	}
	if s.Interval != "" {
		v.Set("interval", string(s.Interval))
	}
	if s.TZ != "" {
		v.Set("tz", s.TZ)
	}
	for _, d := range Dims {
		if vals := s.Filters.Values(d); len(vals) > 0 {
			v.Set(string(d), strings.Join(vals, ","))
		}
	}
	if s.Compare != "" && s.Compare != CompareNone {
		v.Set("compare", string(s.Compare))
	}
	if s.Exact {
		v.Set("exact", "true")
	}
	if s.Partial {
		v.Set("partial", "include")
	}
	return v
}

// SliceParam names the optional parameters of a slice a reader takes
// (range, from, to, interval and the filters of Dims are always read).
type SliceParam uint8

const (
	ReadTZ SliceParam = 1 << iota
	ReadCompare
	ReadExact
	ReadPartial
	ReadAll = ReadTZ | ReadCompare | ReadExact | ReadPartial
)

// SliceOptions are what parsing needs besides the URL, and the defaults
// of each parameter (used when it is absent, and in place of a value that
// is refused).
type SliceOptions struct {
	// Now is the clock (zero: the current time); today is its date in
	// the request's zone.
	Now time.Time
	// First is the first day with data, where range=all starts (zero:
	// catalog.DefaultLaunch). The caller reads it from the store.
	First time.Time
	// Range is the default preset; when "", the default is the Days days
	// ending today.
	Range Preset
	Days  int
	// Interval is the default interval (zero: day); Intervals the allowed
	// ones (nil: all of Intervals).
	Interval  Interval
	Intervals []Interval
	// TZ is the default zone ("" is UTC).
	TZ string
	// Dims are the filters read (nil: none); other dimensions are left
	// for the caller to refuse or ignore.
	Dims []Dim
	// Read are the optional parameters read; one not read is left to
	// the caller, like any parameter ParseSlice does not know.
	Read SliceParam
	// Check holds a filter value to a rule (nil: the catalog's form rule,
	// any slug or country code). An adapter with a registry passes its
	// Check, so an unknown value is refused with the known ones listed.
	Check func(Dim, string) error
}

// ParamErrors are every refused parameter of a request, in the order of
// the URL vocabulary. Each names its field and the fix; the whole is a 400.
type ParamErrors []*ParamError

func (e ParamErrors) Error() string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = x.Error()
	}
	return strings.Join(s, "; ")
}

// HTTPStatus makes every adapter answer a bad parameter 400.
func (e ParamErrors) HTTPStatus() int { return 400 }

// First is the first error, or nil: the API answers one.
func (e ParamErrors) First() error {
	if len(e) == 0 {
		return nil
	}
	return e[0]
}

// ParseSlice reads the slice parameters of v: range, from, to, interval,
// the filters of o.Dims and, as o.Read says, tz, compare, exact and
// partial. It collects every error, and each refused parameter takes its
// default in the returned slice:
//
//	tz        an IANA zone, or UTC                   default o.TZ
//	range     7d, 28d, 90d, 12m, all, custom         default o.Range (or o.Days days)
//	from, to  YYYY-MM-DD, 2000-01-01..2100-12-31     from/to without range means custom;
//	          from alone ends today, to alone spans the default length;
//	          a preset ignores them
//	interval  day, week, month (o.Intervals)         default o.Interval
//	filters   comma lists or repeated parameters, deduplicated and sorted
//	compare   none, previous, year                   default none (true and
//	          false, the boolean of old links and exports, mean previous and none)
//	exact     true, false                            default false
//	partial   exclude, include                       default exclude
//
// A preset ends today in the request's zone and, except all, starts at
// the beginning of a period, so the first week or month is a whole one.
func ParseSlice(v url.Values, o SliceOptions) (Slice, ParamErrors) {
	var errs ParamErrors
	add := func(err error) {
		if err == nil {
			return
		}
		if pe, ok := err.(*ParamError); ok {
			errs = append(errs, pe)
		}
	}
	s := Slice{TZ: o.TZ, Interval: o.Interval, Compare: CompareNone}
	if s.Interval == "" {
		s.Interval = Day
	}
	if o.Read&ReadTZ != 0 {
		if tz, err := parseTZ(v); err != nil {
			add(err)
		} else if one(v, "tz") != "" {
			s.TZ = tz
		}
	}
	if s.TZ == "UTC" || s.TZ == "Etc/UTC" {
		s.TZ = ""
	}
	allowed := o.Intervals
	if allowed == nil {
		allowed = Intervals
	}
	if iv := one(v, "interval"); iv != "" {
		if slices.Contains(allowed, Interval(iv)) {
			s.Interval = Interval(iv)
		} else {
			add(&ParamError{Param: "interval", Value: iv, Allowed: "want one of " + joinIntervals(allowed)})
		}
	}

	clock := o.Now
	if clock.IsZero() {
		clock = now()
	}
	y, m, d := clock.In(s.Location()).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	first := o.First
	if first.IsZero() {
		first = catalog.DefaultLaunch
	}
	first = time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
	rangeErrs := len(errs)
	s.Range, s.From, s.To = readRange(v, o, today, first, s.Interval, add)
	if len(errs) > rangeErrs {
		s.Range, s.From, s.To = defaultRange(o, today, first, s.Interval)
	}

	for _, dim := range o.Dims {
		s.Filters.set(dim, readList(v, dim, o.Check, add))
	}
	if o.Read&ReadCompare != 0 {
		switch c := one(v, "compare"); c {
		case "":
		case "false": // the boolean both readers took before the enum:
			// links and stored exports that carry it keep their meaning
			s.Compare = CompareNone
		case "true":
			s.Compare = ComparePrevious
		default:
			if slices.Contains(Compares, Compare(c)) {
				s.Compare = Compare(c)
			} else {
				add(&ParamError{Param: "compare", Value: c, Allowed: "want one of " + joinCompares()})
			}
		}
	}
	if o.Read&ReadExact != 0 {
		if b, err := parseBool(v, "exact"); err != nil {
			add(err)
		} else {
			s.Exact = b
		}
	}
	if o.Read&ReadPartial != 0 {
		if b, err := parsePartial(v); err != nil {
			add(err)
		} else {
			s.Partial = b
		}
	}
	return s, errs
}

// readRange reads range, from and to; errors go to add and the caller
// then falls back to the default range.
func readRange(v url.Values, o SliceOptions, today, first time.Time, iv Interval, add func(error)) (Preset, time.Time, time.Time) {
	rs, fs, ts := one(v, "range"), one(v, "from"), one(v, "to")
	p := Preset(rs)
	switch {
	case rs == "" && fs == "" && ts == "":
		return defaultRange(o, today, first, iv)
	case rs == "":
		p = RangeCustom
	case !slices.Contains(Presets, p):
		add(&ParamError{Param: "range", Value: rs, Allowed: "want one of " + joinPresets()})
		return "", time.Time{}, time.Time{}
	}
	// A preset sets from and to itself: the dashboard's filter form
	// sends the dates shown along with the range chosen.
	if p != RangeCustom {
		from, to := presetRange(p, today, first, iv)
		return p, from, to
	}
	ok := true
	to := today
	if ts != "" {
		t, err := catalog.ParseDate("to", ts)
		if err != nil {
			add(&ParamError{Param: "to", Value: ts, Err: err})
			ok = false
		}
		to = t
	}
	span := o.Days
	if o.Range != "" && o.Range != RangeCustom {
		f, t := presetRange(o.Range, to, first, "")
		span = int(t.Sub(f).Hours()/24) + 1
	}
	if span < 1 {
		span = 1
	}
	from := to.AddDate(0, 0, -(span - 1))
	if fs != "" {
		f, err := catalog.ParseDate("from", fs)
		if err != nil {
			add(&ParamError{Param: "from", Value: fs, Err: err})
			ok = false
		}
		from = f
	} else if rs == string(RangeCustom) {
		add(&ParamError{Param: "from", Value: "", Allowed: "range=custom takes from and to, dates YYYY-MM-DD"})
		ok = false
	}
	if !ok {
		return "", time.Time{}, time.Time{}
	}
	if from.After(to) {
		add(&ParamError{Param: "from", Value: from.Format(catalog.DateLayout), Allowed: "must not be after to=" + to.Format(catalog.DateLayout)})
		return "", time.Time{}, time.Time{}
	}
	if to.Sub(from) > MaxRangeDays*24*time.Hour {
		add(&ParamError{Param: "from", Value: from.Format(catalog.DateLayout), Allowed: fmt.Sprintf("the range from..to may span at most %d days", MaxRangeDays)})
		return "", time.Time{}, time.Time{}
	}
	return RangeCustom, from, to
}

// defaultRange is the range of a request that names none.
func defaultRange(o SliceOptions, today, first time.Time, iv Interval) (Preset, time.Time, time.Time) {
	if o.Range != "" && o.Range != RangeCustom {
		from, to := presetRange(o.Range, today, first, iv)
		return o.Range, from, to
	}
	days := o.Days
	if days < 1 {
		days = 28
	}
	return "", today.AddDate(0, 0, -(days - 1)), today
}

// presetRange is the range of preset p ending today; a preset other than
// all starts at the first day of the period of iv holding its start.
func presetRange(p Preset, today, first time.Time, iv Interval) (time.Time, time.Time) {
	from := p.Start(today, first)
	if p != RangeAll {
		from = periodStart(from, iv)
	}
	if from.After(today) {
		from = today
	}
	return from, today
}

// readList reads the values of one filter: repeated parameters (a form's
// checkboxes) and comma lists (the API's form) alike, deduplicated and
// sorted, so equal filters give equal URLs. A refused value is left out
// and reported; the others still apply.
func readList(v url.Values, d Dim, check func(Dim, string) error, add func(error)) []string {
	var out []string
	for _, raw := range v[string(d)] {
		for _, s := range strings.Split(raw, ",") {
			s = strings.TrimSpace(s)
			if s == "" || slices.Contains(out, s) {
				continue
			}
			var err error
			if check != nil {
				if err = check(d, s); err != nil {
					if _, ok := err.(*ParamError); !ok {
						err = &ParamError{Param: string(d), Value: s, Err: err}
					}
				}
			} else {
				err = checkValue(d, s)
			}
			if err != nil {
				add(err)
				continue
			}
			out = append(out, s)
		}
	}
	if len(out) > MaxFilterItems {
		add(&ParamError{Param: string(d), Value: one(v, string(d)), Allowed: fmt.Sprintf("at most %d values", MaxFilterItems)})
		return nil
	}
	slices.Sort(out)
	return out
}

func joinIntervals(ivs []Interval) string {
	s := make([]string, len(ivs))
	for i, iv := range ivs {
		s[i] = string(iv)
	}
	return joinNames(s)
}

func joinPresets() string {
	s := make([]string, len(Presets))
	for i, p := range Presets {
		s[i] = string(p)
	}
	return joinNames(s)
}

func joinCompares() string {
	s := make([]string, len(Compares))
	for i, c := range Compares {
		s[i] = string(c)
	}
	return joinNames(s)
}
