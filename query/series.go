package query

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// SeriesRow is one period of one group. Dims holds the values of the
// request's By dimensions, in that order.
type SeriesRow struct {
	Period time.Time
	Dims   []string
	Value  float64
	// PreviousPeriod is, with Compare, the start of the period this one is
	// compared with (CompareWindow); Previous is the group's value there.
	PreviousPeriod time.Time
	Previous       *float64
	// ChangePct is, with Compare, (Value-Previous)/Previous*100; nil when
	// Previous is 0, and for an incomplete period unless Partial.
	ChangePct *float64
	// Complete is true when the whole period lies inside the range and
	// ended on or before the last complete day (DataFreshness).
	Complete bool
}

// SeriesMeta describes a series answer: the request as understood and how
// it was computed.
type SeriesMeta struct {
	Metric   Metric
	Interval Interval
	From, To time.Time
	By       []Dim
	// Compare is what the rows are compared with; CompareFrom and
	// CompareTo are that window (CompareWindow), zero without compare.
	Compare                Compare
	CompareFrom, CompareTo time.Time
	TZ                     string // "" for UTC
	Approximate            bool   // distinct counts came from uniq rollup states
	Source                 string // the table read: rollup_users_day, rollup_person_day, events, …
	Partial                bool   // partial=include
	// Freshness is how far the data reached when the answer was computed;
	// LastCompleteDay is its last complete day in the request's zone (zero
	// when nothing is stored). Periods after the last stored event's day
	// or after today are not in the answer.
	Freshness       DataFreshness
	LastCompleteDay time.Time
}

// SeriesResult is a whole series answer.
type SeriesResult struct {
	SeriesMeta
	Rows []SeriesRow
}

// source is a table that can answer a metric, with its expressions.
type source struct {
	table       string
	periodCol   string // set when the table is already per period (week/month states)
	dayExpr     string // the day of a row; may hold one '?' (the time zone)
	dayArgs     []any
	users       string // distinct people
	sum         string // sum of count
	approximate bool
	raw         bool
	tz          string // a zone table: the rows of this zone
	firstSeen   bool   // a first-seen table: minMerge(first) per person
}

func (s source) day(q *sqlText) { q.add(s.dayExpr, s.dayArgs...) }

var rollupDims = []Dim{DimAssistant, DimChannel, DimCountry}

// usedDims is every dimension a request groups or filters by.
func usedDims(r SeriesRequest) []Dim {
	out := append([]Dim(nil), r.By...)
	for _, d := range Dims {
		if len(r.Filters.Values(d)) > 0 && !hasDim(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func subset(ds, of []Dim) bool {
	for _, d := range ds {
		if !hasDim(of, d) {
			return false
		}
	}
	return true
}

// aligned reports whether [from, to] covers whole periods.
func aligned(iv Interval, from, to time.Time) bool {
	switch iv {
	case Week:
		return from.Weekday() == time.Monday && to.Weekday() == time.Sunday
	case Month:
		return from.Day() == 1 && to.AddDate(0, 0, 1).Day() == 1
	}
	return true
}

func rawSource(tz string) source {
	s := source{table: "events", users: "uniqExact(user_key)", sum: "sum(count)", raw: true}
	if tz == "" {
		s.dayExpr = "event_date"
	} else {
		s.dayExpr, s.dayArgs = "toDate(event_time, ?)", []any{tz}
	}
	return s
}

var personDay = source{table: "rollup_person_day", dayExpr: "day", users: "uniqExact(user_key)", sum: "sum(events)"}

// zoneRollups reports whether r's zone has rollups of its own (UTC's are
// the plain rollup tables): a zone listed in ADOPTSCOPE_TIME_ZONES whose
// backfill is done, as the request's freshness says.
func zoneRollups(r SeriesRequest) bool {
	return r.TZ != "" && r.Freshness != nil && r.Freshness.ZoneBuilt(r.TZ)
}

// zoned is s read from its zone table: the table named with "zone_" after
// "rollup_", restricted to the zone's rows.
func zoned(s source, tz string) source {
	s.table = "rollup_zone_" + strings.TrimPrefix(s.table, "rollup_")
	s.tz = tz
	return s
}

// usersSource picks the cheapest table that answers distinct people for
// the request over [from, to] at interval iv exactly, or within the
// documented bound of uniq when exactness was not asked for. A zone
// without rollups of its own reads raw events.
func usersSource(r SeriesRequest, iv Interval, from, to time.Time) source {
	if (r.TZ != "" && !zoneRollups(r)) || !subset(usedDims(r), rollupDims) {
		return rawSource(r.TZ)
	}
	var s source
	if r.Exact || !aligned(iv, from, to) {
		s = personDay
	} else {
		s = source{dayExpr: "day", users: "uniqMerge(users)", approximate: true}
		switch iv {
		case Day:
			s.table = "rollup_users_day"
		case Week:
			s.table, s.periodCol = "rollup_users_week", "week"
		case Month:
			s.table, s.periodCol = "rollup_users_month", "month"
		}
	}
	if r.TZ != "" {
		s = zoned(s, r.TZ)
		s.sum = "" // the zone person-day table holds presence only
	}
	return s
}

func sumSource(r SeriesRequest) source {
	s := source{table: "rollup_events_day", dayExpr: "day", sum: "sum(events)"}
	if r.TZ != "" {
		if !zoneRollups(r) {
			return rawSource(r.TZ)
		}
		s = zoned(s, r.TZ)
	}
	return s
}

// firstSeen holds each person's first day per assistant, channel, country.
var firstSeen = source{table: "rollup_first_seen", firstSeen: true}

// firstSeenSource answers new users: the first-seen rollup (of the zone)
// when its dimensions suffice, raw events otherwise.
func firstSeenSource(r SeriesRequest) source {
	if (r.TZ != "" && !zoneRollups(r)) || !subset(usedDims(r), rollupDims) {
		return rawSource(r.TZ)
	}
	if r.TZ != "" {
		return zoned(firstSeen, r.TZ)
	}
	return firstSeen
}

// periodOf renders the period of a day expression.
func periodOf(iv Interval, day string) string {
	switch iv {
	case Week:
		return "toMonday(" + day + ")"
	case Month:
		return "toStartOfMonth(" + day + ")"
	}
	return day
}

// rangeWhere appends the WHERE conditions selecting [from, to] and the
// filters.
func rangeWhere(q *sqlText, s source, iv Interval, from, to time.Time, f Filters) {
	q.add(" WHERE ")
	if s.tz != "" {
		q.add("tz = ? AND ", s.tz)
	}
	if s.periodCol != "" {
		q.add(s.periodCol+" >= toDate(?) AND "+s.periodCol+" <= toDate(?)", date(periodStart(from, iv)), date(periodStart(to, iv)))
	} else {
		if s.raw && len(s.dayArgs) > 0 {
			// Prune by the stored UTC date first; the zone shifts by less
			// than a day either way.
			q.add("event_date >= toDate(?) AND event_date <= toDate(?) AND ", date(from.AddDate(0, 0, -1)), date(to.AddDate(0, 0, 1)))
		}
		s.day(q)
		q.add(" >= toDate(?) AND ", date(from))
		s.day(q)
		q.add(" <= toDate(?)", date(to))
	}
	filterSQL(q, f)
}

// periodExpr appends the period of a row of s.
func periodExpr(q *sqlText, s source, iv Interval) {
	if s.periodCol != "" {
		q.add(s.periodCol)
		return
	}
	if iv == Day {
		s.day(q)
		return
	}
	switch iv {
	case Week:
		q.add("toMonday(")
	case Month:
		q.add("toStartOfMonth(")
	}
	s.day(q)
	q.add(")")
}

// usersSQL: p, dims…, value (alias val) of distinct people per period.
func usersSQL(s source, iv Interval, from, to time.Time, by []Dim, f Filters, val string) *sqlText {
	q := &sqlText{}
	q.add("SELECT toString(")
	periodExpr(q, s, iv)
	q.add(") AS p" + withComma(dimCols(by)) + ", toFloat64(" + s.users + ") AS " + val + " FROM " + s.table)
	rangeWhere(q, s, iv, from, to, f)
	q.add(" GROUP BY p" + withComma(dimAliases(by)))
	return q
}

// seriesSQL builds the query for one range: columns p, dims…, v, w, ordered
// by p then dims.
// usersPart is the SQL of distinct people per period (p, dims…, val) and
// the source it reads: daily finals where they answer, else the cheapest
// table per usersSource.
func usersPart(r SeriesRequest, iv Interval, from, to time.Time, by []Dim, val string, finals bool) (*sqlText, source) {
	if iv == Day && finals {
		if g, ok := finalsGrain(by, r.Filters); ok && subset(usedDims(r), rollupDims) && (r.TZ == "" || zoneRollups(r)) {
			// Days without current finals (today) come from uniq states,
			// or with exact=true from the person-day table.
			src := source{table: "rollup_users_final", dayExpr: "day", approximate: !r.Exact}
			if r.TZ != "" {
				src = zoned(src, r.TZ)
			}
			return finalsUsersSQL(g, r.TZ, from, to, by, r.Filters, val, r.Exact), src
		}
	}
	src := usersSource(r, iv, from, to)
	return usersSQL(src, iv, from, to, by, r.Filters, val), src
}

func seriesSQL(r SeriesRequest, def MetricDef, from, to time.Time, finals bool) (*sqlText, source) {
	q := &sqlText{}
	by := r.By
	dims := withComma(dimAliases(by))
	var src source
	switch def.kind {
	case kindUsers:
		var part *sqlText
		part, src = usersPart(r, r.Interval, from, to, by, "v", finals)
		q.add("SELECT p" + dims + ", v, toFloat64(0) AS w FROM (")
		q.sub(part)
		q.add(")")
	case kindSum:
		src = sumSource(r)
		q.add("SELECT toString(")
		periodExpr(q, src, r.Interval)
		q.add(") AS p" + withComma(dimCols(by)) + ", toFloat64(" + src.sum + ") AS v, toFloat64(0) AS w FROM " + src.table)
		rangeWhere(q, src, r.Interval, from, to, r.Filters)
		q.add(" GROUP BY p" + dims)
	case kindFirstSeen:
		src = firstSeenSource(r)
		q.add("SELECT toString(" + periodOf(r.Interval, "first") + ") AS p" + dims + ", toFloat64(count()) AS v, toFloat64(0) AS w FROM (")
		q.add("SELECT " + strings.TrimPrefix(withComma(dimCols(by))+", user_key", ", "))
		if src.firstSeen {
			q.add(", minMerge(first) AS first FROM " + src.table + " WHERE 1")
			if src.tz != "" {
				q.add(" AND tz = ?", src.tz)
			}
		} else {
			q.add(", min(")
			src.day(q)
			q.add(") AS first FROM " + src.table + " WHERE ")
			if src.raw {
				q.add("event_date <= toDate(?) AND ", date(to.AddDate(0, 0, 1)))
			}
			src.day(q)
			q.add(" <= toDate(?)", date(to))
		}
		filterSQL(q, r.Filters)
		q.add(" GROUP BY " + strings.TrimPrefix(dims+", user_key", ", "))
		q.add(") WHERE first >= toDate(?) AND first <= toDate(?) GROUP BY p"+dims, date(from), date(to))
	case kindStickiness:
		dayPart, daySrc := usersPart(r, Day, from, to, by, "dau", finals)
		var part *sqlText
		part, src = usersPart(r, r.Interval, from, to, by, "w", finals)
		q.add("SELECT p" + dims + ", v, w FROM (")
		q.add("SELECT toString(" + periodOf(r.Interval, "toDate(dp)") + ") AS p" + dims + ", sum(dau) AS v FROM (")
		q.add("SELECT p AS dp" + dims + ", dau FROM (")
		q.sub(dayPart)
		q.add(")) GROUP BY p" + dims)
		// Joined subqueries carry aliases: the new analyzer (mandatory
		// from 26.9) refuses a JOIN of unaliased subqueries.
		q.add(") AS days ALL LEFT JOIN (")
		q.sub(part)
		q.add(") AS periods USING (p" + dims + ")")
		src.approximate = src.approximate || daySrc.approximate
	case kindShare:
		var part, whole *sqlText
		part, src = usersPart(r, r.Interval, from, to, by, "v", finals)
		wr := r
		wr.Filters = shareWholeFilters(r)
		whole, wsrc := usersPart(wr, r.Interval, from, to, r.ShareOf, "w", finals)
		q.add("SELECT p" + dims + ", v, w FROM (")
		q.sub(part)
		q.add(") AS part ALL LEFT JOIN (") // aliases: see kindStickiness
		q.sub(whole)
		q.add(") AS whole USING (p" + withComma(dimAliases(r.ShareOf)) + ")")
		src.approximate = src.approximate || wsrc.approximate
	default:
		panic("query: unknown metric kind")
	}
	q.add(" ORDER BY p" + dims + settingsClause)
	return q, src
}

// shareWholeFilters are the filters of a share's whole: a filter on a by
// dimension outside share_of chooses which rows are shown, it does not
// shrink the whole (Meta AI's share of WhatsApp is against every
// assistant on WhatsApp, with or without assistant=meta_ai). Filters on
// share_of dimensions and on dimensions outside by define the slice and
// stay.
func shareWholeFilters(r SeriesRequest) Filters {
	var f Filters
	for _, d := range Dims {
		if hasDim(r.By, d) && !hasDim(r.ShareOf, d) {
			continue
		}
		f.set(d, r.Filters.Values(d))
	}
	return f
}

// groupsSQL lists the groups (distinct By values) with any event in
// [from, to], in output order.
func groupsSQL(r SeriesRequest, from, to time.Time) *sqlText {
	q := groupsCore(r, from, to)
	q.add(" ORDER BY " + dimAliases(r.By) + settingsClause)
	return q
}

// groupsCore is the distinct By values with any event in [from, to].
func groupsCore(r SeriesRequest, from, to time.Time) *sqlText {
	q := &sqlText{}
	src := sumSource(SeriesRequest{})
	if r.TZ != "" {
		// Day boundaries move by less than a day: a group seen only just
		// outside the zone's range shows as zeros, which is harmless.
		from, to = from.AddDate(0, 0, -1), to.AddDate(0, 0, 1)
	}
	q.add("SELECT DISTINCT " + dimCols(r.By) + " FROM " + src.table)
	rangeWhere(q, src, Day, from, to, r.Filters)
	return q
}

// countGroupsSQL counts the groups of groupsSQL: an answer is sized
// before its groups are read.
func countGroupsSQL(r SeriesRequest, from, to time.Time) *sqlText {
	q := &sqlText{}
	q.add("SELECT count() FROM (").sub(groupsCore(r, from, to)).add(")" + settingsClause)
	return q
}

// DescribeSeries returns the meta data of the answer to r without running it.
func DescribeSeries(r SeriesRequest) SeriesMeta {
	def := metrics[r.Metric]
	_, src := seriesSQL(r, def, r.From, r.To, true)
	m := SeriesMeta{Metric: r.Metric, Interval: r.Interval, From: r.From, To: r.To, By: r.By,
		Compare: CompareNone, TZ: r.TZ, Approximate: src.approximate, Source: src.table, Partial: r.Partial}
	if from, to, _, ok := CompareWindow(r); ok {
		m.Compare, m.CompareFrom, m.CompareTo = r.Compare, from, to
	}
	return m
}

// Series answers r with every row in memory. Use StreamSeries for answers
// that may be large.
func Series(ctx context.Context, s *store.Store, r SeriesRequest) (SeriesResult, error) {
	var res SeriesResult
	meta, err := StreamSeries(ctx, s, r, func(row SeriesRow) error {
		res.Rows = append(res.Rows, row)
		return nil
	})
	res.SeriesMeta = meta
	return res, err
}

// StreamSeries answers r, calling fn once per row in output order (period,
// then the By columns). Memory holds one period of groups at a time, so an
// export of millions of rows streams.
func StreamSeries(ctx context.Context, s *store.Store, r SeriesRequest, fn func(SeriesRow) error) (SeriesMeta, error) {
	return StreamSeriesAnswer(ctx, s, r, nil, fn)
}

// StreamSeriesAnswer is StreamSeries that also hands the answer's meta
// data (its freshness included) to head, once the answer has been sized
// and before its first row: a streamed JSON answer writes its head there.
//
// An answer is sized before anything runs: groups x periods over the
// store's read budget (ReadBudget.MaxRows) is refused with a *LimitError.
// Periods that end before the first stored event are left out rather than
// filled with zeros: a range reaching back before the data does not grow
// the answer.
func StreamSeriesAnswer(ctx context.Context, s *store.Store, r SeriesRequest, head func(SeriesMeta) error,
	fn func(SeriesRow) error) (SeriesMeta, error) {
	def, ok := metrics[r.Metric]
	if !ok {
		return SeriesMeta{}, &ParamError{Param: "metric", Value: string(r.Metric), Allowed: "want one of " + joinNames(MetricNames())}
	}
	if r.Interval == "" {
		r.Interval = Day
	}
	meta := DescribeSeries(r)
	loc, err := location(r.TZ)
	if err != nil {
		return meta, err
	}
	var fr DataFreshness
	if r.Freshness != nil {
		fr = *r.Freshness
	} else if fr, err = Freshness(ctx, s, r.Now); err != nil {
		return meta, err
	}
	// The sources follow the zones the freshness says are built.
	r.Freshness = &fr
	d := DescribeSeries(r)
	meta.Source, meta.Approximate = d.Source, d.Approximate
	meta.Freshness, meta.LastCompleteDay = fr, fr.LastCompleteDay(loc)
	// Periods after the data's last day or after today do not exist yet.
	to := r.To
	if last := fr.LastDay(loc); last.Before(to) {
		to = last
	}
	if to.Before(r.From) {
		return meta, nil
	}
	periods := periodsOf(r.Interval, r.From, to)
	// The window compared with keeps the length of the range asked for,
	// shifted by whole intervals (CompareWindow).
	prevFrom, prevTo, shift, compare := CompareWindow(r)
	complete := func(p time.Time) bool {
		end := nextPeriod(p, r.Interval).AddDate(0, 0, -1)
		return !p.Before(r.From) && !end.After(r.To) && !end.After(meta.LastCompleteDay)
	}
	// Ratios of an incomplete period mislead (a two-day month is very
	// sticky): left out unless asked for.
	dropIncomplete := !r.Partial && (def.kind == kindShare || def.kind == kindStickiness)

	// Periods that end before the first stored event hold nothing: not
	// zero-filled, however far back the range reaches.
	skip := 0
	if !fr.FirstEvent.IsZero() {
		first := dayIn(fr.FirstEvent, loc)
		for skip < len(periods) && nextPeriod(periods[skip], r.Interval).AddDate(0, 0, -1).Before(first) {
			skip++
		}
	}

	// The groups, so that every group has a row in every period; counted
	// first, so that an answer over the budget is refused before it runs.
	groups := [][]string{nil}
	if len(r.By) > 0 {
		gFrom := r.From
		if compare && prevFrom.Before(gFrom) {
			gFrom = prevFrom
		}
		var n uint64
		if err := scanOne(ctx, s, countGroupsSQL(r, gFrom, to), &n); err != nil {
			return meta, err
		}
		if err := checkAnswerSize(s.Read, int(n), len(periods)-skip); err != nil {
			return meta, err
		}
		if groups, err = readGroups(ctx, s, groupsSQL(r, gFrom, to), len(r.By)); err != nil {
			return meta, err
		}
	}
	if head != nil {
		if err := head(meta); err != nil {
			return meta, err
		}
	}

	cur, err := openPeriodReader(ctx, s, r, def, r.From, to)
	if err != nil {
		return meta, err
	}
	defer cur.close()
	var prev *periodReader
	if compare {
		if prev, err = openPeriodReader(ctx, s, r, def, prevFrom, prevTo); err != nil {
			return meta, err
		}
		defer prev.close()
	}

	for i, p := range periods {
		if i < skip {
			continue
		}
		vals, err := cur.read(p)
		if err != nil {
			return meta, err
		}
		var pvals map[string][2]float64
		var pp time.Time // the period p faces
		if prev != nil {
			pp = periodStart(shift(p), r.Interval)
			if pvals, err = prev.read(pp); err != nil {
				return meta, err
			}
		}
		done := complete(p)
		if dropIncomplete && !done {
			continue
		}
		for _, g := range groups {
			key := strings.Join(g, "\x00")
			row := SeriesRow{Period: p, Dims: g, Value: finalize(def, vals[key], p, r.Interval, r.From, to), Complete: done}
			if prev != nil {
				pv := finalize(def, pvals[key], pp, r.Interval, prevFrom, prevTo)
				row.Previous, row.PreviousPeriod = &pv, pp
				if pv != 0 && (done || r.Partial) {
					c := round((row.Value-pv)/pv*100, 2)
					row.ChangePct = &c
				}
			}
			if err := fn(row); err != nil {
				return meta, err
			}
		}
	}
	if err := cur.err(); err != nil {
		return meta, err
	}
	if prev != nil {
		if err := prev.err(); err != nil {
			return meta, err
		}
	}
	return meta, nil
}

// finalize turns the query's two numbers into the metric's value.
func finalize(def MetricDef, vw [2]float64, period time.Time, iv Interval, from, to time.Time) float64 {
	v, w := vw[0], vw[1]
	switch def.kind {
	case kindStickiness:
		days := daysInPeriod(period, iv, from, to)
		if w == 0 || days == 0 {
			return 0
		}
		v = v / float64(days) / w
	case kindShare:
		if w == 0 {
			return 0
		}
		v = v / w * 100
	}
	if def.digits >= 0 {
		v = round(v, def.digits)
	}
	return v
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// LimitError refuses an answer larger than the read budget before it
// runs, and says how to ask for less.
type LimitError struct {
	Groups, Periods, Limit int
}

// HTTPStatus: the request is well formed, its answer is too large.
func (e *LimitError) HTTPStatus() int { return 422 }

func (e *LimitError) Error() string {
	return fmt.Sprintf("the answer would hold %d rows (%d groups x %d periods), over the limit of %d rows per answer "+
		"(ADOPTSCOPE_QUERY_MAX_ROWS): narrow the dates, use a longer interval, group by fewer dimensions or filter the slice",
		e.Groups*e.Periods, e.Groups, e.Periods, e.Limit)
}

// checkAnswerSize refuses groups x periods over the budget's rows.
func checkAnswerSize(b store.ReadBudget, groups, periods int) error {
	b = b.WithDefaults()
	if groups > 0 && periods > 0 && groups*periods > b.MaxRows {
		return &LimitError{Groups: groups, Periods: periods, Limit: b.MaxRows}
	}
	return nil
}

// scanOne runs a one-row query and scans it into dest.
func scanOne(ctx context.Context, s *store.Store, q *sqlText, dest ...any) error {
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return err
	}
	defer cancel()
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("query: %w", err)
		}
		return fmt.Errorf("query: no row")
	}
	if err := rows.Scan(dest...); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return rows.Err()
}

func readGroups(ctx context.Context, s *store.Store, q *sqlText, n int) ([][]string, error) {
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		g := make([]string, n)
		dest := make([]any, n)
		for i := range g {
			dest[i] = &g[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("query: read groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// periodReader reads an ordered series query one period at a time.
type periodReader struct {
	rows interface {
		Next() bool
		Scan(...any) error
		Err() error
		Close() error
	}
	cancel  context.CancelFunc
	nDims   int
	peeked  bool
	done    bool
	p       string
	dims    []string
	v, w    float64
	scanErr error
}

func openPeriodReader(ctx context.Context, s *store.Store, r SeriesRequest, def MetricDef, from, to time.Time) (*periodReader, error) {
	q, _ := seriesSQL(r, def, from, to, s.Cluster == "")
	rows, cancel, err := run(ctx, s, q)
	if err != nil {
		return nil, err
	}
	return &periodReader{rows: rows, cancel: cancel, nDims: len(r.By), dims: make([]string, len(r.By))}, nil
}

func (pr *periodReader) advance() bool {
	if pr.done {
		return false
	}
	if pr.peeked {
		return true
	}
	if !pr.rows.Next() {
		pr.done = true
		return false
	}
	dest := []any{&pr.p}
	for i := range pr.dims {
		dest = append(dest, &pr.dims[i])
	}
	dest = append(dest, &pr.v, &pr.w)
	if err := pr.rows.Scan(dest...); err != nil {
		pr.scanErr = fmt.Errorf("query: read row: %w", err)
		pr.done = true
		return false
	}
	pr.peeked = true
	return true
}

// read returns the values of period p by group key; rows of earlier
// periods (there should be none) are skipped.
func (pr *periodReader) read(p time.Time) (map[string][2]float64, error) {
	label := p.Format(catalog.DateLayout)
	out := map[string][2]float64{}
	for pr.advance() {
		if pr.p > label {
			break
		}
		if pr.p == label {
			out[strings.Join(pr.dims, "\x00")] = [2]float64{pr.v, pr.w}
		}
		pr.peeked = false
	}
	return out, pr.scanErr
}

func (pr *periodReader) err() error {
	if pr.scanErr != nil {
		return pr.scanErr
	}
	return pr.rows.Err()
}

func (pr *periodReader) close() {
	pr.rows.Close()
	pr.cancel()
}

// periodStart is the first day of the period holding t.
func periodStart(t time.Time, iv Interval) time.Time {
	t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch iv {
	case Week:
		wd := (int(t.Weekday()) + 6) % 7 // Monday 0
		return t.AddDate(0, 0, -wd)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return t
}

func nextPeriod(t time.Time, iv Interval) time.Time {
	switch iv {
	case Week:
		return t.AddDate(0, 0, 7)
	case Month:
		return t.AddDate(0, 1, 0)
	}
	return t.AddDate(0, 0, 1)
}

// periodsOf lists the starts of the periods that overlap [from, to].
func periodsOf(iv Interval, from, to time.Time) []time.Time {
	var out []time.Time
	for p := periodStart(from, iv); !p.After(to); p = nextPeriod(p, iv) {
		out = append(out, p)
	}
	return out
}

// daysInPeriod counts the days of the period starting at p inside [from, to].
func daysInPeriod(p time.Time, iv Interval, from, to time.Time) int {
	start, end := p, nextPeriod(p, iv).AddDate(0, 0, -1)
	if start.Before(from) {
		start = from
	}
	if end.After(to) {
		end = to
	}
	if end.Before(start) {
		return 0
	}
	return int(end.Sub(start).Hours()/24) + 1
}

// previousRange is [from, to] moved back by n periods: the previous range
// of equal length. Month ends stay month ends (31 March -> 29 February).
// CompareWindow is the window r's periods are compared with, and the
// shift that takes a period of r to the period it faces there. The shift
// is always whole intervals, so a day faces the same weekday and a month
// a whole month:
//
//   - previous, by day: back by the range's length in days rounded up to
//     whole weeks (30 days compare with the 30 days 35 days before);
//   - previous, by week or month: back by the range's number of weeks or
//     months, not counting a last period the range cuts short (a rolling
//     preset's current week or month), so the 12 months of range=12m
//     compare with the 12 months before, November with November;
//   - year: the same period a year earlier: 364 days (52 weeks) back by
//     day and by week, weekday-aligned; 12 months back by month.
//
// ok is false when r compares with nothing.
func CompareWindow(r SeriesRequest) (from, to time.Time, shift func(time.Time) time.Time, ok bool) {
	iv := r.Interval
	if iv == "" {
		iv = Day
	}
	days, months := 0, 0
	switch r.Compare {
	case CompareYear:
		if iv == Month {
			months = 12
		} else {
			days = 364
		}
	case ComparePrevious:
		switch iv {
		case Day:
			n := int(r.To.Sub(r.From).Hours()/24) + 1
			days = (n + 6) / 7 * 7
		default:
			ps := periodsOf(iv, r.From, r.To)
			n := len(ps)
			if n > 1 && nextPeriod(ps[n-1], iv).AddDate(0, 0, -1).After(r.To) {
				n-- // the last period is cut short: the window is the whole ones
			}
			if iv == Week {
				days = 7 * n
			} else {
				months = n
			}
		}
	default:
		return time.Time{}, time.Time{}, nil, false
	}
	if months > 0 {
		shift = func(t time.Time) time.Time { return addMonthsClamped(t, -months) }
	} else {
		shift = func(t time.Time) time.Time { return t.AddDate(0, 0, -days) }
	}
	return shift(r.From), shift(r.To), shift, true
}

func addMonthsClamped(t time.Time, n int) time.Time {
	first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, n, 0)
	last := first.AddDate(0, 1, -1)
	isLast := t.AddDate(0, 0, 1).Day() == 1
	if isLast || t.Day() > last.Day() {
		return last
	}
	return first.AddDate(0, 0, t.Day()-1)
}
