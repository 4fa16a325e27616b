package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Audience overlap (README.md, "Audience overlap"): for a period, the
// people active on each pair of assistants, on one only, on any. A
// person is one keyed user id; the key is the same across assistants and
// channels for the same user id, so a person who used ChatGPT and Meta AI
// in the period counts once in each and once in the pair.
//
// Exact: each person's set of assistants in a period is computed on the
// server from the person-day rollup (one row per person, day, assistant,
// channel, country), as a bit mask, and the people are counted per mask.
// Nothing is sampled or estimated; the only error is two different user
// ids whose 64-bit keys collide (expected n²/2⁶⁵: 3·10⁻⁸ at a million
// people).

// EndpointOverlap is /api/v1/overlap (ExportCSV's kind).
const EndpointOverlap = "overlap"

// MaxOverlapAssistants is how many assistants one mask can hold.
const MaxOverlapAssistants = 64

// OverlapRequest asks for the overlap of assistants' audiences over
// [From, To], as one period (Interval "") or by month, optionally
// restricted to channels and countries.
type OverlapRequest struct {
	From, To time.Time // zero: the last 12 months, to the last complete day
	// Interval is "" (the whole range as one period) or Month.
	Interval Interval
	// Assistants to include (empty: every assistant with events in the
	// range); Channels and Countries restrict the activity counted.
	Filters Filters
	// Now is the clock (zero: the current time); not a URL parameter.
	Now       time.Time
	Freshness *DataFreshness
	// TZ is the zone of the days ("" for UTC).
	TZ string
}

// ParseOverlap reads an OverlapRequest: from, to (inclusive; default the
// last 12 months), interval (month, or none: the whole range), assistant,
// channel, country (comma lists).
func ParseOverlap(v url.Values) (OverlapRequest, error) { return ParseOverlapSince(v, time.Time{}) }

// ParseOverlapSince is ParseOverlap with the first day with data, where
// range=all starts (zero: catalog.DefaultLaunch).
func ParseOverlapSince(v url.Values, first time.Time) (OverlapRequest, error) {
	var r OverlapRequest
	switch iv := one(v, "interval"); iv {
	case "", "none":
	case "month":
		r.Interval = Month
	default:
		return r, &ParamError{Param: "interval", Value: iv, Allowed: "want month (one row set per month) or none (the whole range as one period)"}
	}
	// interval here is month or none, not the slice's vocabulary.
	sv := url.Values{}
	for k, x := range v {
		if k != "interval" {
			sv[k] = x
		}
	}
	sl, errs := ParseSlice(sv, SliceOptions{Days: 365, Dims: sliceDims, Read: ReadTZ, First: first})
	if len(errs) > 0 {
		return r, errs.First()
	}
	if sl.Range != "" {
		r.From, r.To = sl.From, sl.To
	}
	r.Filters = sl.Filters
	r.TZ = sl.TZ
	for _, d := range []Dim{DimModality, DimEventType} {
		if len(v[string(d)]) > 0 {
			return r, &ParamError{Param: string(d), Value: one(v, string(d)), Allowed: "the overlap slices by assistant, channel and country only"}
		}
	}
	return r, nil
}

// OverlapPair is the people active on both A and B.
type OverlapPair struct {
	A, B string
	Both uint64
}

// OverlapPeriod is one period's overlap.
type OverlapPeriod struct {
	Period   time.Time // first day
	From, To time.Time // the days counted (inside the range, complete days only)
	Complete bool      // the whole period was counted
	// People active on any included assistant; Active and Exclusive per
	// assistant (in Assistants order); Pairs for every A < B.
	People    uint64
	Active    []uint64
	Exclusive []uint64
	Pairs     []OverlapPair
}

// OverlapResult is the answer to an OverlapRequest.
type OverlapResult struct {
	Request         OverlapRequest
	From, To        time.Time
	LastCompleteDay time.Time
	// Source is the table the people were read from (person-month,
	// person-day, or raw events in a zone without rollups).
	Source     string
	Assistants []string
	Periods    []OverlapPeriod
}

// Lift is how much more likely a person of A is to be active on B than
// anyone of the period is: (both / a) / (b / people) = both·people / (a·b),
// symmetric in A and B, 2 decimals; 1 is what independent audiences
// would share by chance. people is everyone active on any of the
// assistants compared in the period and slice. nil when a or b is 0.
func Lift(both, a, b, people uint64) *float64 {
	if a == 0 || b == 0 || people == 0 {
		return nil
	}
	v := round(float64(both)*float64(people)/(float64(a)*float64(b)), 2)
	return &v
}

// SharePct is both ÷ users in percent, 2 decimals (0 when users is 0).
func SharePct(both, users uint64) float64 {
	if users == 0 {
		return 0
	}
	return round(float64(both)/float64(users)*100, 2)
}

// Overlap answers r over complete days only.
func Overlap(ctx context.Context, s *store.Store, r OverlapRequest) (OverlapResult, error) {
	res := OverlapResult{Request: r}
	var fr DataFreshness
	var err error
	if r.Freshness != nil {
		fr = *r.Freshness
	} else if fr, err = Freshness(ctx, s, r.Now); err != nil {
		return res, err
	}
	r.Freshness = &fr
	p := presenceIn(r.TZ, &fr)
	last := fr.LastCompleteDay(p.loc())
	res.LastCompleteDay = last
	from, to := r.From, r.To
	if to.IsZero() {
		to = last
		from = time.Date(to.Year(), to.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -11, 0)
	}
	if to.After(last) {
		to = last
	}
	res.From, res.To = from, to
	res.Source = p.Source(Month, from, to)
	if fr.Empty() || to.Before(from) {
		return res, nil
	}
	res.Assistants = r.Filters.Assistants
	if len(res.Assistants) == 0 {
		if res.Assistants, err = assistantsIn(ctx, s, presenceIn(r.TZ, &fr), from, to, r.Filters); err != nil {
			return res, err
		}
	}
	if len(res.Assistants) > MaxOverlapAssistants {
		return res, &ParamError{Param: "assistant", Value: fmt.Sprint(len(res.Assistants)), Allowed: fmt.Sprintf("at most %d assistants at once: name them with assistant=", MaxOverlapAssistants)}
	}
	if len(res.Assistants) == 0 {
		return res, nil
	}
	var periods []time.Time
	if r.Interval == Month {
		periods = periodsOf(Month, from, to)
	} else {
		periods = []time.Time{from}
	}
	byPeriod, err := overlapMasks(ctx, s, r, res.Assistants, from, to, len(periods))
	if err != nil {
		return res, err
	}
	k := len(res.Assistants)
	for _, p := range periods {
		op := OverlapPeriod{Period: p, From: p, To: to, Active: make([]uint64, k), Exclusive: make([]uint64, k)}
		if r.Interval == Month {
			end := nextPeriod(p, Month).AddDate(0, 0, -1)
			if op.From.Before(from) {
				op.From = from
			}
			op.To = end
			if to.Before(end) {
				op.To = to
			}
			op.Complete = !p.Before(from) && !end.After(to)
		} else {
			op.Complete = r.To.IsZero() || !r.To.After(last)
		}
		masks := byPeriod[len(res.Periods)]
		for i := 0; i < k; i++ {
			for j := i + 1; j < k; j++ {
				op.Pairs = append(op.Pairs, OverlapPair{A: res.Assistants[i], B: res.Assistants[j]})
			}
		}
		for mask, n := range masks {
			op.People += n
			if bits.OnesCount64(mask) == 1 {
				op.Exclusive[bits.TrailingZeros64(mask)] += n
			}
			pi := 0
			for i := 0; i < k; i++ {
				in := mask&(1<<i) != 0
				if in {
					op.Active[i] += n
				}
				for j := i + 1; j < k; j++ {
					if in && mask&(1<<j) != 0 {
						op.Pairs[pi].Both += n
					}
					pi++
				}
			}
		}
		res.Periods = append(res.Periods, op)
	}
	return res, nil
}

// overlapWordBits is the bits of a word overlapMasks fills: 64 (a
// UInt64); a test makes it smaller to exercise more than one word.
var overlapWordBits = 64

// overlapMasks counts, for each of n periods (months from the month of
// from, or one period), the people by the set of assistants they were
// active on (a bit mask, bit i for assistants[i]).
//
// It groups by person only: a person's periods × assistants are the bits
// of a few UInt64 words (perWord periods of k bits in each, so no period
// straddles two words), and the masks are cut out of them afterwards.
// Grouping by person and month made a hash table of people × months
// entries: 2.4 s for 12 months at 100 M events, against 0.8 s this way.
func overlapMasks(ctx context.Context, s *store.Store, r OverlapRequest, assistants []string, from, to time.Time, n int) ([]map[uint64]uint64, error) {
	k := len(assistants)
	perWord := overlapWordBits / k
	words := (n + perWord - 1) / perWord
	q := &sqlText{}
	// The period of a row: its month's distance from from's month.
	period := func() {
		if r.Interval == Month {
			q.add("(toRelativeMonthNum(day) - toRelativeMonthNum(toDate(?)))", date(from))
		} else {
			q.add("0")
		}
	}
	q.add("SELECT toUInt64(m) AS period, mask, count() AS people FROM (SELECT user_key")
	for w := range words {
		q.add(", groupBitOrIf(bitShiftLeft(toUInt64(1), toUInt64((")
		period()
		q.add(fmt.Sprintf(" %% %d) * %d + indexOf([", perWord, k))
		for i, a := range assistants {
			if i > 0 {
				q.add(", ")
			}
			q.add("?", a)
		}
		q.add("], CAST(assistant AS String)) - 1)), intDiv(")
		period()
		q.add(fmt.Sprintf(", %d) = %d) AS w%d", perWord, w, w))
	}
	q.add(" FROM ")
	f := r.Filters
	f.Assistants = assistants
	// Whole months come from the person-month table, whatever the
	// interval: a period here is a month or the whole range.
	presenceIn(r.TZ, r.Freshness).rows(q, Month, from, to, f)
	cols := make([]string, words)
	for w := range cols {
		cols[w] = fmt.Sprintf("w%d", w)
	}
	low := ^uint64(0) >> (64 - k) // k ones
	q.add(fmt.Sprintf(" GROUP BY user_key) ARRAY JOIN range(%d) AS m WHERE (bitAnd(bitShiftRight([%s][intDiv(m, %d) + 1], toUInt64((m %% %d) * %d)), toUInt64(%d)) AS mask) != 0 GROUP BY m, mask ORDER BY m, mask",
		n, strings.Join(cols, ", "), perWord, perWord, k, low) + settingsClause)
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer rows.Close()
	out := make([]map[uint64]uint64, n)
	for rows.Next() {
		var p, mask, people uint64
		if err := rows.Scan(&p, &mask, &people); err != nil {
			return nil, fmt.Errorf("query: read overlap: %w", err)
		}
		if p >= uint64(n) {
			return nil, fmt.Errorf("query: read overlap: period %d of %d", p, n)
		}
		if out[p] == nil {
			out[p] = map[uint64]uint64{}
		}
		out[p][mask] += people
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query: read overlap: %w", err)
	}
	return out, nil
}

// assistantsIn lists the assistants with events in [from, to] on the
// filtered channels and countries, in order.
func assistantsIn(ctx context.Context, s *store.Store, p presence, from, to time.Time, f Filters) ([]string, error) {
	q := &sqlText{}
	f.Assistants = nil
	switch {
	case p.raw:
		q.add("SELECT CAST(assistant AS String) AS a FROM ")
		p.rows(q, Day, from, to, f)
		q.add(" GROUP BY a ORDER BY a" + settingsClause)
	default:
		q.add("SELECT CAST(assistant AS String) AS a FROM " + p.table("events_day") + " WHERE ")
		if p.zone {
			q.add("tz = ? AND ", p.tz)
		}
		q.add("day >= toDate(?) AND day <= toDate(?)", date(from), date(to))
		filterSQL(q, f)
		q.add(" GROUP BY a HAVING sum(events) > 0 ORDER BY a" + settingsClause)
	}
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("query: read assistants: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Index is the position of assistant a in res.Assistants, or -1.
func (res OverlapResult) Index(a string) int { return slices.Index(res.Assistants, a) }

// OverlapCSVHeader: one row per period and ordered pair (assistant, other),
// with the assistant's users and exclusive people repeated on its rows.
var OverlapCSVHeader = []string{"period", "from", "to", "complete", "assistant", "users", "exclusive", "other", "both", "share_pct", "lift"}

// WriteOverlapCSV writes the overlap in OverlapCSVHeader columns.
func WriteOverlapCSV(w io.Writer, res OverlapResult) error {
	cw := newCSV(w)
	_ = cw.Write(OverlapCSVHeader)
	for _, p := range res.Periods {
		for i, a := range res.Assistants {
			for j, b := range res.Assistants {
				if i == j {
					continue
				}
				both := p.both(i, j, len(res.Assistants))
				_ = cw.Write([]string{p.Period.Format(catalog.DateLayout), p.From.Format(catalog.DateLayout), p.To.Format(catalog.DateLayout),
					strconv.FormatBool(p.Complete), a, strconv.FormatUint(p.Active[i], 10), strconv.FormatUint(p.Exclusive[i], 10),
					b, strconv.FormatUint(both, 10), FormatNumber(SharePct(both, p.Active[i])), optNumber(Lift(both, p.Active[i], p.Active[j], p.People), "")})
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// both is the people on assistants i and j (any order) of k.
func (p OverlapPeriod) both(i, j, k int) uint64 {
	if i > j {
		i, j = j, i
	}
	// Pairs are in (0,1), (0,2), …, (1,2), … order.
	idx := i*k - i*(i+1)/2 + (j - i - 1)
	return p.Pairs[idx].Both
}

// Both is the people active on both a and b in p (0 for an unknown name).
func (res OverlapResult) Both(p OverlapPeriod, a, b string) uint64 {
	i, j := res.Index(a), res.Index(b)
	if i < 0 || j < 0 || i == j {
		return 0
	}
	return p.both(i, j, len(res.Assistants))
}

// WriteOverlapJSON writes {"from","to","interval","channel","country",
// "exact":true,"bound", "last_complete_day","assistants",
// "periods":[{"period","from","to","complete","people",
// "assistants":[{"assistant","users","exclusive","exclusive_pct"}],
// "pairs":[{"a","b","both","share_of_a_pct","share_of_b_pct"}]}]}.
func WriteOverlapJSON(w io.Writer, res OverlapResult) error {
	type assistantJSON struct {
		Assistant    string  `json:"assistant"`
		Users        uint64  `json:"users"`
		Exclusive    uint64  `json:"exclusive"`
		ExclusivePct float64 `json:"exclusive_pct"`
	}
	type pairJSON struct {
		A        string   `json:"a"`
		B        string   `json:"b"`
		Both     uint64   `json:"both"`
		ShareOfA float64  `json:"share_of_a_pct"`
		ShareOfB float64  `json:"share_of_b_pct"`
		Lift     *float64 `json:"lift"`
	}
	type periodJSON struct {
		Period     string          `json:"period"`
		From       string          `json:"from"`
		To         string          `json:"to"`
		Complete   bool            `json:"complete"`
		People     uint64          `json:"people"`
		Assistants []assistantJSON `json:"assistants"`
		Pairs      []pairJSON      `json:"pairs"`
	}
	interval := "none"
	if res.Request.Interval == Month {
		interval = "month"
	}
	out := struct {
		From            string       `json:"from"`
		To              string       `json:"to"`
		Interval        string       `json:"interval"`
		Channels        []string     `json:"channel"`
		Countries       []string     `json:"country"`
		Exact           bool         `json:"exact"`
		Bound           string       `json:"bound"`
		LastCompleteDay string       `json:"last_complete_day"`
		TZ              string       `json:"tz"`
		Source          string       `json:"source"`
		Assistants      []string     `json:"assistants"`
		Periods         []periodJSON `json:"periods"`
	}{From: res.From.Format(catalog.DateLayout), To: res.To.Format(catalog.DateLayout), Interval: interval,
		TZ: zoneName(res.Request.TZ), Source: res.Source,
		Channels: orNone(res.Request.Filters.Channels), Countries: orNone(res.Request.Filters.Countries),
		Exact: true, Bound: OverlapBound, LastCompleteDay: res.LastCompleteDay.Format(catalog.DateLayout),
		Assistants: orNone(res.Assistants), Periods: []periodJSON{}}
	for _, p := range res.Periods {
		pj := periodJSON{Period: p.Period.Format(catalog.DateLayout), From: p.From.Format(catalog.DateLayout), To: p.To.Format(catalog.DateLayout),
			Complete: p.Complete, People: p.People, Assistants: []assistantJSON{}, Pairs: []pairJSON{}}
		for i, a := range res.Assistants {
			pj.Assistants = append(pj.Assistants, assistantJSON{a, p.Active[i], p.Exclusive[i], SharePct(p.Exclusive[i], p.Active[i])})
		}
		for _, pr := range p.Pairs {
			i, j := res.Index(pr.A), res.Index(pr.B)
			pj.Pairs = append(pj.Pairs, pairJSON{pr.A, pr.B, pr.Both, SharePct(pr.Both, p.Active[i]), SharePct(pr.Both, p.Active[j]),
				Lift(pr.Both, p.Active[i], p.Active[j], p.People)})
		}
		out.Periods = append(out.Periods, pj)
	}
	return json.NewEncoder(w).Encode(out)
}

// OverlapBound is what the answer says about its exactness.
const OverlapBound = "exact: distinct keyed user ids counted on the server, nothing sampled; two user ids count as one only if their 64-bit keys collide (expected n²/2⁶⁵: 3·10⁻⁸ people at a million)"

func orNone(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
