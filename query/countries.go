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

// EndpointCountries is /api/v1/countries (ExportCSV's kind).
const EndpointCountries = "countries"

// Country is one country present in a slice: its ISO 3166-1 alpha-2
// code, its English name and the distinct people active there; in a
// ranking (CountryRanking) also the comparison window's people and the
// change, and the share of its people on each assistant.
type Country struct {
	Code   string
	Name   string
	People uint64
	// Previous is the people of the comparison window, ChangePct the
	// change against it in percent (2 decimals; nil when Previous is 0 or
	// without a comparison).
	Previous  *uint64
	ChangePct *float64
	// SharePct is, per assistant (CountriesResult.Assistants order), the
	// percent of the country's people active on it (2 decimals; shares
	// add up past 100 when people use several).
	SharePct []float64
}

// CountriesResult lists the countries present in From..To, most people
// first, on the days of TZ (Source names the table read).
type CountriesResult struct {
	From, To  time.Time
	TZ        string
	Source    string
	Countries []Country
	// A ranking's comparison (none without) and window, and the
	// assistants its shares are of.
	Compare                Compare
	CompareFrom, CompareTo time.Time
	Assistants             []string
}

// ParseCountries reads the slice of GET /countries: from, to (or range),
// tz, assistant, channel. A country filter is not taken: the list is what
// a country filter chooses from.
func ParseCountries(v url.Values, first time.Time) (Slice, error) {
	sl, errs := ParseSlice(v, SliceOptions{Days: 28, Dims: []Dim{DimAssistant, DimChannel}, Read: ReadTZ | ReadCompare, First: first})
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
// and channels (its country filter is ignored), from the zone's
// person-level store (whole months from person-months, the other days
// from person-days; raw events in a zone without rollups).
func Countries(ctx context.Context, s *store.Store, sl Slice) (CountriesResult, error) {
	fr, err := Freshness(ctx, s, time.Time{})
	if err != nil {
		return CountriesResult{}, err
	}
	return countries(ctx, s, sl, &fr, nil)
}

// countries counts the people per country of sl (country filter ignored)
// and, with assistants, per country and assistant.
func countries(ctx context.Context, s *store.Store, sl Slice, fr *DataFreshness, assistants []string) (CountriesResult, error) {
	res := CountriesResult{From: sl.From, To: sl.To, TZ: sl.TZ, Countries: []Country{}, Assistants: assistants}
	f := sl.Filters
	f.Countries = nil
	p := presenceIn(sl.TZ, fr)
	res.Source = p.Source(Month, sl.From, sl.To)
	q := &sqlText{}
	// a = '' : the country's people; a = an assistant: its people there.
	q.add("SELECT c, a, toUInt64(uniqExact(user_key)) FROM (SELECT CAST(country AS String) AS c, arrayJoin(arrayConcat([''], [CAST(assistant AS String)])) AS a, user_key FROM ")
	p.rows(q, Month, sl.From, sl.To, f)
	q.add(" WHERE country != '') GROUP BY c, a" + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return res, err
	}
	defer cancel()
	defer rows.Close()
	byCode := map[string]int{}
	shares := map[[2]string]uint64{}
	for rows.Next() {
		var code, a string
		var n uint64
		if err := rows.Scan(&code, &a, &n); err != nil {
			return res, fmt.Errorf("query: countries: %w", err)
		}
		if a != "" {
			shares[[2]string{code, a}] = n
			continue
		}
		byCode[code] = len(res.Countries)
		res.Countries = append(res.Countries, Country{Code: code, Name: catalog.CountryName(code), People: n})
	}
	if err := rows.Err(); err != nil {
		return res, err
	}
	if len(assistants) > 0 {
		for i := range res.Countries {
			c := &res.Countries[i]
			c.SharePct = make([]float64, len(assistants))
			for j, a := range assistants {
				c.SharePct[j] = SharePct(shares[[2]string{c.Code, a}], c.People)
			}
		}
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

// CountryRanking is the Countries page and GET /api/v1/countries: the
// countries of sl (its country filter ignored) with their people, the
// comparison window's people and the change (sl.Compare, the windows of
// CompareWindow by day), and each country's share of people per
// assistant. now is the clock (zero: the current time).
func CountryRanking(ctx context.Context, s *store.Store, sl Slice, now time.Time) (CountriesResult, error) {
	fr, err := Freshness(ctx, s, now)
	if err != nil {
		return CountriesResult{}, err
	}
	f := sl.Filters
	f.Countries = nil
	as := f.Assistants
	if len(as) == 0 {
		if as, err = assistantsIn(ctx, s, presenceIn(sl.TZ, &fr), sl.From, sl.To, f); err != nil {
			return CountriesResult{}, err
		}
	}
	res, err := countries(ctx, s, sl, &fr, as)
	if err != nil {
		return res, err
	}
	res.Compare = sl.Compare
	if !sl.Compare.On() {
		return res, nil
	}
	cf, ct, _, ok := CompareWindow(SeriesRequest{Interval: Day, From: sl.From, To: sl.To, Compare: sl.Compare})
	if !ok {
		return res, nil
	}
	res.CompareFrom, res.CompareTo = cf, ct
	prev := sl
	prev.From, prev.To = cf, ct
	before, err := countries(ctx, s, prev, &fr, nil)
	if err != nil {
		return res, err
	}
	was := map[string]uint64{}
	for _, c := range before.Countries {
		was[c.Code] = c.People
	}
	for i := range res.Countries {
		c := &res.Countries[i]
		n := was[c.Code]
		c.Previous = &n
		if n > 0 {
			v := round((float64(c.People)-float64(n))/float64(n)*100, 2)
			c.ChangePct = &v
		}
	}
	return res, nil
}

// CountriesCSVHeader is the header of the countries CSV: with a
// comparison also previous and change_pct, then one share_pct_<assistant>
// column per assistant of the ranking, and tz.
func CountriesCSVHeader(res CountriesResult) []string {
	h := []string{"country", "name", "people"}
	if res.Compare.On() {
		h = append(h, "previous", "change_pct")
	}
	for _, a := range res.Assistants {
		h = append(h, "share_pct_"+a)
	}
	return append(h, "tz")
}

// WriteCountriesCSV writes res as CSV, one row per country.
func WriteCountriesCSV(w io.Writer, res CountriesResult) error {
	cw := newCSV(w)
	cw.Write(CountriesCSVHeader(res))
	for _, c := range res.Countries {
		rec := []string{c.Code, c.Name, strconv.FormatUint(c.People, 10)}
		if res.Compare.On() {
			prev := ""
			if c.Previous != nil {
				prev = strconv.FormatUint(*c.Previous, 10)
			}
			rec = append(rec, prev, optNumber(c.ChangePct, ""))
		}
		for _, v := range c.SharePct {
			rec = append(rec, FormatNumber(v))
		}
		cw.Write(append(rec, zoneName(res.TZ)))
	}
	cw.Flush()
	return cw.Error()
}

// WriteCountriesJSON writes res in the API's JSON shape.
func WriteCountriesJSON(w io.Writer, res CountriesResult) error {
	type countryJSON struct {
		Code      string             `json:"code"`
		Name      string             `json:"name"`
		People    uint64             `json:"people"`
		Previous  *uint64            `json:"previous,omitempty"`
		ChangePct *float64           `json:"change_pct"`
		SharePct  map[string]float64 `json:"share_pct"`
	}
	tz := zoneName(res.TZ)
	compare := string(res.Compare)
	if compare == "" {
		compare = "none"
	}
	out := struct {
		From        string        `json:"from"`
		To          string        `json:"to"`
		TZ          string        `json:"tz"`
		Days        string        `json:"days"`
		Source      string        `json:"source"`
		Compare     string        `json:"compare"`
		CompareFrom string        `json:"compare_from,omitempty"`
		CompareTo   string        `json:"compare_to,omitempty"`
		Assistants  []string      `json:"assistants"`
		Countries   []countryJSON `json:"countries"`
	}{From: res.From.Format(catalog.DateLayout), To: res.To.Format(catalog.DateLayout), TZ: tz, Days: tz, Source: res.Source,
		Compare: compare, CompareFrom: optDate(res.CompareFrom), CompareTo: optDate(res.CompareTo), Assistants: orNone(res.Assistants), Countries: []countryJSON{}}
	for _, c := range res.Countries {
		cj := countryJSON{Code: c.Code, Name: c.Name, People: c.People, Previous: c.Previous, ChangePct: c.ChangePct, SharePct: map[string]float64{}}
		for j, a := range res.Assistants {
			if j < len(c.SharePct) {
				cj.SharePct[a] = c.SharePct[j]
			}
		}
		out.Countries = append(out.Countries, cj)
	}
	return json.NewEncoder(w).Encode(out)
}
