package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Country is one country present in a slice: its ISO 3166-1 alpha-2
// code, its English name and the distinct people active there.
type Country struct {
	Code   string
	Name   string
	People uint64
}

// CountriesResult lists the countries present in From..To, most people
// first. Days are UTC days (the person-day rollup's) whatever TZ asks:
// TZ is echoed so that a caller can say so.
type CountriesResult struct {
	From, To  time.Time
	TZ        string
	Countries []Country
}

// ParseCountries reads the slice of GET /countries: from, to (or range),
// tz, assistant, channel. A country filter is not taken: the list is what
// a country filter chooses from.
func ParseCountries(v url.Values, first time.Time) (Slice, error) {
	sl, errs := ParseSlice(v, SliceOptions{Days: 28, Dims: []Dim{DimAssistant, DimChannel}, Read: ReadTZ, First: first})
	if len(errs) > 0 {
		return sl, errs.First()
	}
	for _, d := range []Dim{DimCountry, DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return sl, &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "countries slice by assistant and channel only"}
		}
	}
	return sl, nil
}

// Countries answers which countries hold people in sl's dates, assistants
// and channels (its country filter is ignored), from the person-day
// rollup, never the raw events.
func Countries(ctx context.Context, s *store.Store, sl Slice) (CountriesResult, error) {
	res := CountriesResult{From: sl.From, To: sl.To, TZ: sl.TZ, Countries: []Country{}}
	f := sl.Filters
	f.Countries = nil
	q := &sqlText{}
	q.add("SELECT CAST(country AS String) AS c, toUInt64(uniqExact(user_key)) FROM "+personDay.table+" WHERE day >= toDate(?) AND day <= toDate(?) AND country != ''",
		date(sl.From), date(sl.To))
	filterSQL(q, f)
	q.add(" GROUP BY c" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	for rows.Next() {
		var c Country
		if err := rows.Scan(&c.Code, &c.People); err != nil {
			return res, fmt.Errorf("query: countries: %w", err)
		}
		c.Name = catalog.CountryName(c.Code)
		res.Countries = append(res.Countries, c)
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	sort.Slice(res.Countries, func(i, j int) bool {
		a, b := res.Countries[i], res.Countries[j]
		if a.People != b.People {
			return a.People > b.People
		}
		return a.Code < b.Code
	})
	return res, nil
}

// CountriesCSVHeader is the header of the countries CSV.
var CountriesCSVHeader = []string{"country", "name", "people"}

// WriteCountriesCSV writes res as CSV, one row per country.
func WriteCountriesCSV(w io.Writer, res CountriesResult) error {
	cw := newCSV(w)
	cw.Write(CountriesCSVHeader)
	for _, c := range res.Countries {
		cw.Write([]string{c.Code, c.Name, strconv.FormatUint(c.People, 10)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteCountriesJSON writes res in the API's JSON shape.
func WriteCountriesJSON(w io.Writer, res CountriesResult) error {
	type countryJSON struct {
		Code   string `json:"code"`
		Name   string `json:"name"`
		People uint64 `json:"people"`
	}
	tz := res.TZ
	if tz == "" {
		tz = "UTC"
	}
	out := struct {
		From      string        `json:"from"`
		To        string        `json:"to"`
		TZ        string        `json:"tz"`
		Days      string        `json:"days"`
		Countries []countryJSON `json:"countries"`
	}{From: res.From.Format(catalog.DateLayout), To: res.To.Format(catalog.DateLayout), TZ: tz, Days: "UTC", Countries: []countryJSON{}}
	for _, c := range res.Countries {
		out.Countries = append(out.Countries, countryJSON(c))
	}
	return json.NewEncoder(w).Encode(out)
}
