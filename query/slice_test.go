package query_test

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

// sliceNow is Wednesday 2026-02-11, 15:00 UTC.
var sliceNow = time.Date(2026, 2, 11, 15, 0, 0, 0, time.UTC)

// api and page are the options of the query API's series and of the
// dashboard's filter bar.
var (
	apiOpts  = query.SliceOptions{Now: sliceNow, Days: 28, Dims: query.Dims, Read: query.ReadAll}
	pageOpts = query.SliceOptions{Now: sliceNow, Range: query.Range12m, Interval: query.Week,
		Dims: []query.Dim{query.DimAssistant, query.DimChannel, query.DimCountry}, Read: query.ReadTZ | query.ReadCompare | query.ReadPartial}
)

func TestParseSlice(t *testing.T) {
	with := func(o query.SliceOptions, f func(*query.SliceOptions)) query.SliceOptions { f(&o); return o }
	base := query.Slice{Interval: query.Day, Compare: query.CompareNone, From: day("2026-01-15"), To: day("2026-02-11")}
	slice := func(f func(*query.Slice)) query.Slice { s := base; f(&s); return s }
	for _, tc := range []struct {
		name string
		q    string
		o    query.SliceOptions
		want query.Slice
		errs []string // every message, in order
	}{
		{"defaults of the API", "", apiOpts, base, nil},
		{"defaults of the page: 12 months from a Monday", "", pageOpts, slice(func(s *query.Slice) {
			// 2025-02-12 is a Wednesday; its week starts on 2025-02-10.
			s.Range, s.Interval, s.From = query.Range12m, query.Week, day("2025-02-10")
		}), nil},
		{"range=7d by day", "range=7d&interval=day", apiOpts, slice(func(s *query.Slice) {
			s.Range, s.From = query.Range7d, day("2026-02-05")
		}), nil},
		{"range=28d by month starts on the 1st", "range=28d&interval=month", apiOpts, slice(func(s *query.Slice) {
			s.Range, s.Interval, s.From = query.Range28d, query.Month, day("2026-01-01")
		}), nil},
		{"range=90d by week starts on a Monday", "range=90d&interval=week", apiOpts, slice(func(s *query.Slice) {
			s.Range, s.Interval, s.From = query.Range90d, query.Week, day("2025-11-10")
		}), nil},
		{"range=all from the first stored event", "range=all&interval=week",
			with(apiOpts, func(o *query.SliceOptions) { o.First = time.Date(2025, 3, 19, 8, 0, 0, 0, time.UTC) }),
			slice(func(s *query.Slice) { s.Range, s.Interval, s.From = query.RangeAll, query.Week, day("2025-03-19") }), nil},
		{"range=all without a first event: the default launch", "range=all", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From = query.RangeAll, catalog.DefaultLaunch }), nil},
		{"today in Auckland is already the 12th", "tz=Pacific/Auckland", apiOpts, slice(func(s *query.Slice) {
			s.TZ, s.From, s.To = "Pacific/Auckland", day("2026-01-16"), day("2026-02-12")
		}), nil},
		{"today in Los Angeles is still the 10th", "tz=America/Los_Angeles&range=7d",
			with(apiOpts, func(o *query.SliceOptions) { o.Now = time.Date(2026, 2, 11, 3, 0, 0, 0, time.UTC) }),
			slice(func(s *query.Slice) {
				s.TZ, s.Range, s.From, s.To = "America/Los_Angeles", query.Range7d, day("2026-02-04"), day("2026-02-10")
			}), nil},
		{"tz=UTC is the default zone", "tz=UTC", with(apiOpts, func(o *query.SliceOptions) { o.TZ = "Europe/Paris" }), base, nil},
		{"the default zone", "", with(apiOpts, func(o *query.SliceOptions) { o.TZ = "Europe/Paris" }),
			slice(func(s *query.Slice) { s.TZ = "Europe/Paris" }), nil},
		{"from and to are custom", "from=2026-01-02&to=2026-01-05", pageOpts, slice(func(s *query.Slice) {
			s.Range, s.Interval, s.From, s.To = query.RangeCustom, query.Week, day("2026-01-02"), day("2026-01-05")
		}), nil},
		{"from alone ends today", "from=2026-01-02", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From = query.RangeCustom, day("2026-01-02") }), nil},
		{"to alone spans the default length", "to=2026-01-31", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From, s.To = query.RangeCustom, day("2026-01-04"), day("2026-01-31") }), nil},
		{"range=custom with both", "range=custom&from=2026-01-02&to=2026-01-05", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From, s.To = query.RangeCustom, day("2026-01-02"), day("2026-01-05") }), nil},
		{"the bounds are dates", "from=2000-01-01&to=2009-12-31", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From, s.To = query.RangeCustom, day("2000-01-01"), day("2009-12-31") }), nil},
		{"filters: lists and repeats, deduplicated and sorted", "assistant=meta_ai&assistant=chatgpt,meta_ai&channel=web&country=FR,DE&modality=voice",
			apiOpts, slice(func(s *query.Slice) {
				s.Filters = query.Filters{Assistants: []string{"chatgpt", "meta_ai"}, Channels: []string{"web"}, Countries: []string{"DE", "FR"}, Modalities: []string{"voice"}}
			}), nil},
		{"filters outside Dims are not read", "modality=voice", pageOpts, slice(func(s *query.Slice) {
			s.Range, s.Interval, s.From = query.Range12m, query.Week, day("2025-02-10")
		}), nil},
		{"compare=previous", "compare=previous", apiOpts, slice(func(s *query.Slice) { s.Compare = query.ComparePrevious }), nil},
		{"compare=none", "compare=none", apiOpts, base, nil},
		{"compare=year", "compare=year", apiOpts, slice(func(s *query.Slice) { s.Compare = query.CompareYear }), nil},
		{"compare=true, as old links say previous", "compare=true", apiOpts, slice(func(s *query.Slice) { s.Compare = query.ComparePrevious }), nil},
		{"compare=false, as old links say none", "compare=false", apiOpts, base, nil},
		{"exact and partial", "exact=true&partial=include", apiOpts, slice(func(s *query.Slice) { s.Exact, s.Partial = true, true }), nil},
		{"partial=exclude", "partial=exclude&exact=false", apiOpts, base, nil},

		// Refused values: each reported, each replaced by its default.
		{"compare=on", "compare=on", apiOpts, base, []string{`parameter compare="on" is invalid: want one of none, previous, year`}},
		{"compare=off", "compare=off", apiOpts, base, []string{`parameter compare="off" is invalid: want one of none, previous, year`}},
		{"compare=1", "compare=1", apiOpts, base, []string{`parameter compare="1" is invalid: want one of none, previous, year`}},
		{"compare=0", "compare=0", apiOpts, base, []string{`parameter compare="0" is invalid: want one of none, previous, year`}},
		{"country in lower case", "country=fr,DE", apiOpts, slice(func(s *query.Slice) { s.Filters.Countries = []string{"DE"} }),
			[]string{catalog.CheckCountry("fr").Error()}},
		{"from=1990-01-01", "from=1990-01-01&to=2026-01-05", apiOpts, base,
			[]string{`from "1990-01-01": want a date from 2000-01-01 to 2100-12-31`}},
		{"to=2101-01-01", "from=2026-01-01&to=2101-01-01", apiOpts, base,
			[]string{`to "2101-01-01": want a date from 2000-01-01 to 2100-12-31`}},
		{"a malformed date", "from=02/01/2026", pageOpts, slice(func(s *query.Slice) {
			s.Range, s.Interval, s.From = query.Range12m, query.Week, day("2025-02-10")
		}), []string{`from "02/01/2026": want a date YYYY-MM-DD, for example 2026-01-15`}},
		{"from after to", "from=2026-01-09&to=2026-01-05", apiOpts, base,
			[]string{`parameter from="2026-01-09" is invalid: must not be after to=2026-01-05`}},
		{"too long a range", "from=2000-01-01&to=2026-01-01", apiOpts, base,
			[]string{`parameter from="2000-01-01" is invalid: the range from..to may span at most 3700 days`}},
		{"an unknown range", "range=5d", apiOpts, base, []string{`parameter range="5d" is invalid: want one of 7d, 28d, 90d, 12m, all, custom`}},
		{"a preset ignores dates (the filter form sends both)", "range=7d&from=2026-01-01&to=2026-01-03", apiOpts,
			slice(func(s *query.Slice) { s.Range, s.From = query.Range7d, day("2026-02-05") }), nil},
		{"range=custom without from", "range=custom&to=2026-01-05", apiOpts, base,
			[]string{`parameter from is required: range=custom takes from and to, dates YYYY-MM-DD`}},
		{"an interval not allowed here", "interval=day", with(apiOpts, func(o *query.SliceOptions) {
			o.Interval, o.Intervals = query.Week, []query.Interval{query.Week, query.Month}
		}), slice(func(s *query.Slice) { s.Interval = query.Week }), []string{`parameter interval="day" is invalid: want one of week, month`}},
		{"every error at once, each field its default",
			"tz=Mars/Olympus&interval=year&range=5d&assistant=ChatGPT&assistant=chatgpt&country=fr&compare=on&exact=maybe&partial=some",
			pageOpts, slice(func(s *query.Slice) { // the page does not read exact
				s.Range, s.Interval, s.From = query.Range12m, query.Week, day("2025-02-10")
				s.Filters.Assistants = []string{"chatgpt"}
			}), []string{
				`parameter tz="Mars/Olympus" is invalid: unknown time zone: want an IANA name such as Europe/Paris, or UTC`,
				`parameter interval="year" is invalid: want one of day, week, month`,
				`parameter range="5d" is invalid: want one of 7d, 28d, 90d, 12m, all, custom`,
				catalog.CheckSlug(catalog.Assistant, "ChatGPT").Error(),
				catalog.CheckCountry("fr").Error(),
				`parameter compare="on" is invalid: want one of none, previous, year`,
				`parameter partial="some" is invalid: want exclude (default: incomplete periods are marked, and left out of changes, shares and stickiness) or include`,
			}},
		{"exact=maybe", "exact=maybe", apiOpts, base, []string{`parameter exact="maybe" is invalid: want true or false`}},
		{"parameters not read are left alone", "tz=Mars/Olympus&compare=on&exact=maybe&partial=some&modality=Voice",
			with(apiOpts, func(o *query.SliceOptions) { o.Read, o.Dims = 0, nil }), base, nil},
		{"a registry's check", "channel=fax,web", with(apiOpts, func(o *query.SliceOptions) {
			reg := catalog.Registry{}
			o.Check = func(d query.Dim, v string) error { return reg.Check(catalog.Kind(d), v) }
		}), slice(func(s *query.Slice) { s.Filters.Channels = []string{"web"} }),
			[]string{catalog.Registry{}.Check(catalog.Channel, "fax").Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			got, errs := query.ParseSlice(v, tc.o)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if !reflect.DeepEqual(msgs, tc.errs) {
				t.Errorf("errors\n got %q\nwant %q", msgs, tc.errs)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("slice\n got %+v\nwant %+v", got, tc.want)
			}
			if len(errs) > 0 {
				if errs.HTTPStatus() != http.StatusBadRequest || errs.Error() != strings.Join(tc.errs, "; ") {
					t.Errorf("ParamErrors: %d %q", errs.HTTPStatus(), errs.Error())
				}
				var pe *query.ParamError
				if !errors.As(errs.First(), &pe) || pe.HTTPStatus() != http.StatusBadRequest {
					t.Errorf("First() = %v, want a 400 *ParamError", errs.First())
				}
			}
		})
	}
}

// TestSliceValuesRoundTrip: a slice's own encoding reads back into the
// same slice, so a link or an export can be taken from it.
func TestSliceValuesRoundTrip(t *testing.T) {
	for _, q := range []string{
		"", "range=7d&interval=week&tz=Europe/Paris&compare=previous&country=FR",
		"from=2026-01-02&to=2026-01-05&assistant=chatgpt,meta_ai&exact=true&partial=include",
		"range=all&interval=month&channel=web",
	} {
		v, _ := url.ParseQuery(q)
		s, errs := query.ParseSlice(v, pageOpts)
		if len(errs) > 0 {
			t.Fatalf("%s: %v", q, errs)
		}
		back, errs := query.ParseSlice(s.Values(), pageOpts)
		if len(errs) > 0 || !reflect.DeepEqual(back, s) {
			t.Errorf("%s: %s reads back as %+v %v, want %+v", q, s.Values().Encode(), back, errs, s)
		}
	}
}

// TestSeriesVocabulary: the series parser speaks the slice's vocabulary
// and answers its first error.
func TestSeriesVocabulary(t *testing.T) {
	for _, tc := range []struct{ q, want string }{
		{"compare=previous&range=7d&country=FR", ""},
		{"compare=on", `parameter compare="on" is invalid: want one of none, previous, year`},
		{"compare=none", ""},
		{"country=fr", catalog.CheckCountry("fr").Error()},
		{"from=1990-01-01", `from "1990-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"interval=year&compare=on", `parameter interval="year" is invalid: want one of day, week, month`},
	} {
		v, _ := url.ParseQuery(tc.q)
		r, err := query.ParseSeries(v)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.q, err)
			}
			// The request's own encoding reads back into the same request,
			// with absolute dates.
			back, err := query.ParseSeries(r.Values())
			if back.Range != query.RangeCustom {
				t.Errorf("%s: read back from %q with range %q, want custom", tc.q, r.Values().Encode(), back.Range)
			}
			back.Range = r.Range
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Errorf("%s: %s reads back as %+v (%v), want %+v", tc.q, r.Values().Encode(), back, err, r)
			}
			continue
		}
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %q", tc.q, err, tc.want)
		}
	}
	for _, tc := range []struct{ q, want string }{
		{"assistant=chatgpt&channel=whatsapp&date=9999-12-31", `date "9999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"assistant=chatgpt&channel=whatsapp&date=2026-01-15&baseline=1990-01-01", `baseline "1990-01-01": want a date from 2000-01-01 to 2100-12-31`},
	} {
		v, _ := url.ParseQuery(tc.q)
		if _, err := query.ParseMigration(v); err == nil || err.Error() != tc.want {
			t.Errorf("migration %s: %v, want %q", tc.q, err, tc.want)
		}
	}
}
