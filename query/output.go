package query

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
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

// The API, the dashboard downloads and the scheduled exports all write
// through these functions: the same columns, the same number formatting.

// Endpoints that ExportCSV accepts (the last part of /api/v1/NAME).
const (
	EndpointSeries    = "series"
	EndpointMigration = "migration"
	EndpointRetention = "retention"
)

// PeriodStart is the first day of the day, ISO week (Monday) or month
// holding t: where a range by that interval starts its first whole period.
func PeriodStart(t time.Time, iv Interval) time.Time { return periodStart(t, iv) }

// CSVFileName is the name of a CSV file of name over the days [from, to]:
// name_from_to.csv, or name_from_to_synthetic.csv when the data includes
// synthetic demo events (HasDemoData). Scheduled files (named by their
// export) and downloads (named by their metric or view) both go by it.
func CSVFileName(name string, from, to time.Time, synthetic bool) string {
	n := name + "_" + from.Format(catalog.DateLayout) + "_" + to.Format(catalog.DateLayout)
	if synthetic {
		n += "_synthetic"
	}
	return n + ".csv"
}

// FormatNumber renders a value the same way in JSON and CSV: the shortest
// decimal that reads back as the same float64, never an exponent.
func FormatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// SeriesCSV is the column layout of a series CSV. A file read alone must
// say what it holds, so after the numbers come the time zone of its days
// and one column per filter applied, repeated on every row:
//
//	period, the By columns, value, [previous_period, previous, change_pct,] complete,
//	tz, [filter_assistant, filter_channel, filter_country,
//	filter_modality, filter_event_type]
//
// tz is the IANA zone (UTC when none was given); a filter_<dim> column is
// there only when that filter is applied and holds its values as a comma
// list, sorted, as the request's parameter reads.
type SeriesCSV struct {
	meta   SeriesMeta
	header []string
	tail   []string // tz and the filters: the same on every row
}

// NewSeriesCSV is the layout of the answer described by m to a request
// with filters f.
func NewSeriesCSV(m SeriesMeta, f Filters) SeriesCSV {
	c := SeriesCSV{meta: m, header: []string{"period"}}
	for _, d := range m.By {
		c.header = append(c.header, string(d))
	}
	c.header = append(c.header, "value")
	if m.Compare.On() {
		c.header = append(c.header, "previous_period", "previous", "change_pct")
	}
	tz := m.TZ
	if tz == "" {
		tz = "UTC"
	}
	c.header = append(c.header, "complete", "tz")
	c.tail = []string{tz}
	for _, d := range Dims {
		if vals := f.Values(d); len(vals) > 0 {
			c.header = append(c.header, "filter_"+string(d))
			c.tail = append(c.tail, strings.Join(vals, ","))
		}
	}
	return c
}

// SeriesCSVOf is the layout of the answer to r.
func SeriesCSVOf(r SeriesRequest) SeriesCSV { return NewSeriesCSV(DescribeSeries(r), r.Filters) }

// Header is the header row.
func (c SeriesCSV) Header() []string { return c.header }

// Record is one row in the columns of Header. A change that cannot be
// computed (previous is 0) is an empty field.
func (c SeriesCSV) Record(row SeriesRow) []string {
	rec := make([]string, 0, len(c.header))
	rec = append(rec, row.Period.Format(catalog.DateLayout))
	rec = append(rec, row.Dims...)
	rec = append(rec, FormatNumber(row.Value))
	if c.meta.Compare.On() {
		rec = append(rec, optDate(row.PreviousPeriod), optNumber(row.Previous, ""), optNumber(row.ChangePct, ""))
	}
	rec = append(rec, strconv.FormatBool(row.Complete))
	return append(rec, c.tail...)
}

func optDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(catalog.DateLayout)
}

func optNumber(p *float64, null string) string {
	if p == nil {
		return null
	}
	return FormatNumber(*p)
}

func newCSV(w io.Writer) *csv.Writer {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	return cw
}

// WriteSeriesCSV streams the answer to r as CSV.
func WriteSeriesCSV(ctx context.Context, s *store.Store, r SeriesRequest, w io.Writer) error {
	cw := newCSV(w)
	layout := SeriesCSVOf(r)
	if err := cw.Write(layout.Header()); err != nil {
		return err
	}
	n := 0
	_, err := StreamSeries(ctx, s, r, func(row SeriesRow) error {
		if err := cw.Write(layout.Record(row)); err != nil {
			return err
		}
		if n++; n%10000 == 0 {
			cw.Flush()
			return cw.Error()
		}
		return nil
	})
	cw.Flush()
	if err != nil {
		return err
	}
	return cw.Error()
}

// WriteSeriesJSON writes res in the API's JSON shape: the request as
// understood, then tidy rows whose keys are period, the By columns, value,
// and with Compare previous and change_pct (null when it cannot be
// computed).
func WriteSeriesJSON(w io.Writer, res SeriesResult) error {
	sw, err := newSeriesJSON(w, res.SeriesMeta)
	if err != nil {
		return err
	}
	for _, row := range res.Rows {
		sw.row(row)
	}
	return sw.close()
}

// StreamSeriesJSON streams the answer to r in WriteSeriesJSON's shape,
// byte for byte, with one period of groups in memory at a time: a large
// answer costs the process no more than a small one.
func StreamSeriesJSON(ctx context.Context, s *store.Store, r SeriesRequest, w io.Writer) error {
	var sw *seriesJSON
	n := 0
	meta, err := StreamSeriesAnswer(ctx, s, r, func(m SeriesMeta) error {
		var err error
		sw, err = newSeriesJSON(w, m)
		return err
	}, func(row SeriesRow) error {
		sw.row(row)
		if n++; n%10000 == 0 {
			return sw.bw.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if sw == nil { // nothing to stream: the range ends before any data
		if sw, err = newSeriesJSON(w, meta); err != nil {
			return err
		}
	}
	return sw.close()
}

// compareWord is the compare of an answer: none when it compares with
// nothing.
func compareWord(c Compare) Compare {
	if c.On() {
		return c
	}
	return CompareNone
}

func optDatePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.Format(catalog.DateLayout)
	return &s
}

// seriesJSON writes one series answer: the head, then rows as they come.
type seriesJSON struct {
	bw      *bufio.Writer
	by      []string
	compare bool
	n       int
}

func newSeriesJSON(w io.Writer, m SeriesMeta) (*seriesJSON, error) {
	sw := &seriesJSON{bw: bufio.NewWriter(w), by: make([]string, len(m.By)), compare: m.Compare.On()}
	for i, d := range m.By {
		sw.by[i] = string(d)
	}
	tz := m.TZ
	if tz == "" {
		tz = "UTC"
	}
	head, err := json.Marshal(struct {
		Metric      Metric   `json:"metric"`
		Interval    Interval `json:"interval"`
		From        string   `json:"from"`
		To          string   `json:"to"`
		By          []string `json:"by"`
		TZ          string   `json:"tz"`
		Compare     Compare  `json:"compare"`
		CompareFrom *string  `json:"compare_from,omitempty"`
		CompareTo   *string  `json:"compare_to,omitempty"`
		Approximate bool     `json:"approximate"`
		Source      string   `json:"source"`
		Partial     string   `json:"partial"`
		freshnessJSON
	}{m.Metric, m.Interval, m.From.Format(catalog.DateLayout), m.To.Format(catalog.DateLayout), sw.by, tz, compareWord(m.Compare),
		optDatePtr(m.CompareFrom), optDatePtr(m.CompareTo), m.Approximate, m.Source,
		partialWord(m.Partial), newFreshnessJSON(m.Freshness, m.LastCompleteDay)})
	if err != nil {
		return nil, err
	}
	sw.bw.Write(head[:len(head)-1])
	sw.bw.WriteString(`,"rows":[`)
	return sw, nil
}

func (sw *seriesJSON) row(row SeriesRow) {
	bw := sw.bw
	if sw.n > 0 {
		bw.WriteByte(',')
	}
	sw.n++
	bw.WriteString(`{"period":"` + row.Period.Format(catalog.DateLayout) + `"`)
	for j, d := range sw.by {
		bw.WriteString(`,"` + d + `":`)
		b, _ := json.Marshal(row.Dims[j])
		bw.Write(b)
	}
	bw.WriteString(`,"value":` + FormatNumber(row.Value))
	if sw.compare {
		if row.PreviousPeriod.IsZero() {
			bw.WriteString(`,"previous_period":null`)
		} else {
			bw.WriteString(`,"previous_period":"` + row.PreviousPeriod.Format(catalog.DateLayout) + `"`)
		}
		bw.WriteString(`,"previous":` + optNumber(row.Previous, "null"))
		bw.WriteString(`,"change_pct":` + optNumber(row.ChangePct, "null"))
	}
	bw.WriteString(`,"complete":` + strconv.FormatBool(row.Complete))
	bw.WriteByte('}')
}

func (sw *seriesJSON) close() error {
	sw.bw.WriteString("]}\n")
	return sw.bw.Flush()
}

func partialWord(include bool) string {
	if include {
		return "include"
	}
	return "exclude"
}

// freshnessJSON is the freshness part of every answer: data_through (the
// last stored event, RFC 3339 UTC; null when nothing is stored),
// last_complete_day (YYYY-MM-DD in the answer's zone; null when nothing is
// stored) and charts_behind_seconds.
type freshnessJSON struct {
	DataThrough         *string `json:"data_through"`
	LastCompleteDay     *string `json:"last_complete_day"`
	ChartsBehindSeconds float64 `json:"charts_behind_seconds"`
}

func newFreshnessJSON(f DataFreshness, last time.Time) freshnessJSON {
	out := freshnessJSON{ChartsBehindSeconds: f.ChartsBehind.Seconds()}
	if !f.Empty() {
		t := f.DataThrough.UTC().Format(time.RFC3339)
		out.DataThrough = &t
	}
	if !last.IsZero() {
		d := last.Format(catalog.DateLayout)
		out.LastCompleteDay = &d
	}
	return out
}

// MigrationCSVHeader: one row per outcome; every row repeats the cohort
// size and the linked count so that a spreadsheet can compute shares, the
// outcome's linked and unlinked members, its percentage of the cohort, the
// baseline's figures for the same outcome, and how much of the after
// window was observed. A launch (empty cohort) adds one row per origin of
// the people acquired: outcome acquired_active_before (assistant and
// channel where they were) or acquired_new, users, and cohort 0.
var MigrationCSVHeader = []string{"outcome", "assistant", "channel", "users", "cohort", "linked",
	"linked_users", "unlinked_users", "pct", "baseline_date", "baseline_cohort", "baseline_users", "baseline_pct",
	"observed_days", "after_days"}

// baselineOf returns the baseline's users for each outcome key.
func baselineOf(res MigrationResult) map[string]uint64 {
	out := map[string]uint64{}
	if res.Baseline != nil {
		for _, o := range res.Baseline.Outcomes {
			out[OutcomeKey(o)] += o.Users
		}
	}
	return out
}

// WriteMigrationCSV writes res as CSV.
func WriteMigrationCSV(w io.Writer, res MigrationResult) error {
	cw := newCSV(w)
	cw.Write(MigrationCSVHeader)
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	base := baselineOf(res)
	bDate, bCohort := "", ""
	if res.Baseline != nil {
		bDate, bCohort = res.Baseline.Date.Format(catalog.DateLayout), u(res.Baseline.Cohort)
	}
	for _, o := range res.Outcomes {
		bUsers, bPct := "", ""
		if res.Baseline != nil {
			n := base[OutcomeKey(o)]
			bUsers, bPct = u(n), FormatNumber(Pct(n, res.Baseline.Cohort))
		}
		cw.Write([]string{o.Outcome, o.Assistant, o.Channel, u(o.Users), u(res.Cohort), u(res.Linked),
			u(o.Linked), u(o.Unlinked()), FormatNumber(Pct(o.Users, res.Cohort)), bDate, bCohort, bUsers, bPct,
			strconv.Itoa(res.ObservedDays), strconv.Itoa(res.AfterDays)})
	}
	if res.Launch != nil {
		for _, o := range res.Launch.Origins {
			cw.Write([]string{"acquired_" + o.Outcome, o.Assistant, o.Channel, u(o.Users), u(res.Cohort), u(res.Linked),
				"", "", FormatNumber(Pct(o.Users, res.Launch.Acquired)), "", "", "", "",
				strconv.Itoa(res.ObservedDays), strconv.Itoa(res.AfterDays)})
		}
	}
	cw.Flush()
	return cw.Error()
}

type migrationOutcomeJSON struct {
	Outcome   string `json:"outcome"`
	Assistant string `json:"assistant,omitempty"`
	Channel   string `json:"channel,omitempty"`
	Users     uint64 `json:"users"`
	// linked_users and unlinked_users split the outcome's people (the
	// cohort's own linked count is the result's linked), as in the CSV.
	Linked        uint64   `json:"linked_users"`
	Unlinked      uint64   `json:"unlinked_users"`
	Pct           float64  `json:"pct"`
	BaselineUsers *uint64  `json:"baseline_users,omitempty"`
	BaselinePct   *float64 `json:"baseline_pct,omitempty"`
}

func outcomesJSON(outs []MigrationOutcome, cohort uint64, base map[string]uint64, baseCohort *uint64) []migrationOutcomeJSON {
	list := []migrationOutcomeJSON{}
	for _, o := range outs {
		j := migrationOutcomeJSON{Outcome: o.Outcome, Assistant: o.Assistant, Channel: o.Channel, Users: o.Users,
			Linked: o.Linked, Unlinked: o.Unlinked(), Pct: Pct(o.Users, cohort)}
		if baseCohort != nil {
			n := base[OutcomeKey(o)]
			p := Pct(n, *baseCohort)
			j.BaselineUsers, j.BaselinePct = &n, &p
		}
		list = append(list, j)
	}
	return list
}

type migrationBaselineJSON struct {
	Date         string                 `json:"date"`
	Cohort       uint64                 `json:"cohort"`
	Linked       uint64                 `json:"linked"`
	ObservedDays int                    `json:"observed_days"`
	Complete     bool                   `json:"complete"`
	Outcomes     []migrationOutcomeJSON `json:"outcomes"`
}

type migrationOriginJSON struct {
	Origin    string  `json:"origin"`
	Assistant string  `json:"assistant,omitempty"`
	Channel   string  `json:"channel,omitempty"`
	Users     uint64  `json:"users"`
	Pct       float64 `json:"pct"`
}

type migrationLaunchJSON struct {
	Acquired uint64                `json:"acquired"`
	Origins  []migrationOriginJSON `json:"origins"`
}

// WriteMigrationJSON writes res in the API's JSON shape.
func WriteMigrationJSON(w io.Writer, res MigrationResult) error {
	out := struct {
		Assistant          string                 `json:"assistant"`
		Channel            string                 `json:"channel"`
		Date               string                 `json:"date"`
		BeforeDays         int                    `json:"before_days"`
		AfterDays          int                    `json:"after_days"`
		Cohort             uint64                 `json:"cohort"`
		Linked             uint64                 `json:"linked"`
		Unlinked           uint64                 `json:"unlinked"`
		ObservedDays       int                    `json:"observed_days"`
		Complete           bool                   `json:"complete"`
		CohortObservedDays int                    `json:"cohort_observed_days"`
		Outcomes           []migrationOutcomeJSON `json:"outcomes"`
		Baseline           *migrationBaselineJSON `json:"baseline"`
		Launch             *migrationLaunchJSON   `json:"launch"`
		freshnessJSON
	}{Assistant: res.Assistant, Channel: res.Channel, Date: res.Date.Format(catalog.DateLayout), BeforeDays: res.BeforeDays,
		AfterDays: res.AfterDays, Cohort: res.Cohort, Linked: res.Linked, Unlinked: res.Cohort - res.Linked,
		ObservedDays: res.ObservedDays, Complete: res.Complete, CohortObservedDays: res.CohortObservedDays,
		freshnessJSON: newFreshnessJSON(res.Freshness, res.Freshness.LastCompleteDay(time.UTC))}
	var baseCohort *uint64
	if b := res.Baseline; b != nil {
		baseCohort = &b.Cohort
		out.Baseline = &migrationBaselineJSON{Date: b.Date.Format(catalog.DateLayout), Cohort: b.Cohort, Linked: b.Linked,
			ObservedDays: b.ObservedDays, Complete: b.Complete, Outcomes: outcomesJSON(b.Outcomes, b.Cohort, nil, nil)}
	}
	out.Outcomes = outcomesJSON(res.Outcomes, res.Cohort, baselineOf(res), baseCohort)
	if l := res.Launch; l != nil {
		out.Launch = &migrationLaunchJSON{Acquired: l.Acquired, Origins: []migrationOriginJSON{}}
		for _, o := range l.Origins {
			out.Launch.Origins = append(out.Launch.Origins, migrationOriginJSON{o.Outcome, o.Assistant, o.Channel, o.Users, Pct(o.Users, l.Acquired)})
		}
	}
	return json.NewEncoder(w).Encode(out)
}

// RetentionCSVHeader are the retention columns.
var RetentionCSVHeader = []string{"cohort", "period", "offset", "cohort_size", "users", "rate_pct", "observed_days", "complete"}

func retentionRecord(row RetentionRow) []string {
	return []string{row.Cohort.Format(catalog.DateLayout), row.Period.Format(catalog.DateLayout), strconv.Itoa(row.Offset),
		strconv.FormatUint(row.CohortSize, 10), strconv.FormatUint(row.Users, 10), FormatNumber(row.RatePct),
		strconv.Itoa(row.ObservedDays), strconv.FormatBool(row.Complete)}
}

// WriteRetentionCSV writes res as CSV.
func WriteRetentionCSV(w io.Writer, res RetentionResult) error {
	cw := newCSV(w)
	cw.Write(RetentionCSVHeader)
	for _, row := range res.Rows {
		cw.Write(retentionRecord(row))
	}
	cw.Flush()
	return cw.Error()
}

// WriteRetentionJSON writes res in the API's JSON shape.
func WriteRetentionJSON(w io.Writer, res RetentionResult) error {
	var buf bytes.Buffer
	fr, err := json.Marshal(newFreshnessJSON(res.Freshness, res.Freshness.LastCompleteDay(presenceIn(res.TZ, nil).loc())))
	if err != nil {
		return err
	}
	fmt.Fprintf(&buf, `{"interval":%q,"from":%q,"to":%q,"tz":%q,"source":%q,%s,"rows":[`, res.Interval, res.From.Format(catalog.DateLayout), res.To.Format(catalog.DateLayout),
		zoneName(res.TZ), res.Source, fr[1:len(fr)-1])
	for i, row := range res.Rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"cohort":%q,"period":%q,"offset":%d,"cohort_size":%d,"users":%d,"rate_pct":%s,"observed_days":%d,"complete":%t}`,
			row.Cohort.Format(catalog.DateLayout), row.Period.Format(catalog.DateLayout), row.Offset, row.CohortSize, row.Users, FormatNumber(row.RatePct),
			row.ObservedDays, row.Complete)
	}
	// The left-censored cohorts (none: []) and the weighted average curve
	// that leaves them out (retentionAverage).
	buf.WriteString(`],"left_censored_cohorts":[`)
	for i, c := range res.LeftCensored {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.Quote(c.Format(catalog.DateLayout)))
	}
	buf.WriteString(`],"average":[`)
	for i, a := range res.Average {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"offset":%d,"cohorts":%d,"people":%d,"users":%d,"rate_pct":%s}`, a.Offset, a.Cohorts, a.People, a.Users, FormatNumber(a.RatePct))
	}
	buf.WriteString("]}\n")
	_, err = w.Write(buf.Bytes())
	return err
}

// ExportCSV parses params for endpoint (series, migration or retention)
// exactly as the API does and writes the answer as CSV. A *ParamError
// means the parameters are invalid.
func ExportCSV(ctx context.Context, s *store.Store, endpoint string, params url.Values, w io.Writer) error {
	switch endpoint {
	case EndpointSeries:
		r, err := ParseSeries(params)
		if err != nil {
			return err
		}
		return WriteSeriesCSV(ctx, s, r, w)
	case EndpointMigration:
		r, err := ParseMigration(params)
		if err != nil {
			return err
		}
		res, err := Migration(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteMigrationCSV(w, res)
	case EndpointRetention:
		r, err := ParseRetention(params)
		if err != nil {
			return err
		}
		res, err := Retention(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteRetentionCSV(w, res)
	case EndpointDependency:
		r, err := ParseDependency(params)
		if err != nil {
			return err
		}
		res, err := Dependency(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteDependencyCSV(w, res)
	case EndpointLifecycle:
		r, err := ParseLifecycle(params)
		if err != nil {
			return err
		}
		res, err := Lifecycle(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteLifecycleCSV(w, res)
	case EndpointCountries:
		sl, err := ParseCountries(params, time.Time{})
		if err != nil {
			return err
		}
		res, err := CountryRanking(ctx, s, sl, time.Time{})
		if err != nil {
			return err
		}
		return WriteCountriesCSV(w, res)
	case EndpointOverlap:
		r, err := ParseOverlap(params)
		if err != nil {
			return err
		}
		res, err := Overlap(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteOverlapCSV(w, res)
	case EndpointStickiness:
		r, err := ParseStickiness(params)
		if err != nil {
			return err
		}
		res, err := StickinessDistribution(ctx, s, r)
		if err != nil {
			return err
		}
		return WriteStickinessCSV(w, res)
	}
	return &ParamError{Param: "endpoint", Value: endpoint, Allowed: "want series, migration, retention, dependency, lifecycle, stickiness, overlap or countries"}
}

// EndpointDependency and EndpointKPIs are the other answers the API
// writes (/api/v1/dependency, /api/v1/kpis).
const (
	EndpointDependency = "dependency"
	EndpointKPIs       = "kpis"
)

// DependencyCSVHeader: one row per period and assistant, the percentage
// drawn next to the counts it is computed from.
var DependencyCSVHeader = []string{"period", "assistant", "maker", "users", "dependent_users", "dependent_pct", "dependent_channels",
	"only_dependent_users", "only_dependent_pct", "only_on", "complete"}

// WriteDependencyCSV writes res as CSV.
func WriteDependencyCSV(w io.Writer, res DependencyResult) error {
	cw := newCSV(w)
	cw.Write(DependencyCSVHeader)
	info := map[string]DependencyAssistant{}
	for _, a := range res.Assistants {
		info[a.Assistant] = a
	}
	for _, row := range res.Rows {
		a := info[row.Assistant]
		only := make([]string, len(row.OnlyOn))
		for i, o := range row.OnlyOn {
			only[i] = o.Owner + "=" + strconv.FormatUint(o.Users, 10)
		}
		cw.Write([]string{row.Period.Format(catalog.DateLayout), row.Assistant, a.Maker, strconv.FormatUint(row.Users, 10),
			strconv.FormatUint(row.DependentUsers, 10), FormatNumber(row.Pct), strings.Join(a.Channels, " "),
			strconv.FormatUint(row.OnlyDependentUsers, 10), FormatNumber(row.OnlyPct), strings.Join(only, " "), strconv.FormatBool(row.Complete)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteDependencyJSON writes res in the API's JSON shape.
func WriteDependencyJSON(w io.Writer, res DependencyResult) error {
	type assistantJSON struct {
		Assistant string   `json:"assistant"`
		Maker     string   `json:"maker"`
		Channels  []string `json:"dependent_channels"`
	}
	type ownerJSON struct {
		Owner string  `json:"owner"`
		Users uint64  `json:"users"`
		Pct   float64 `json:"pct"`
	}
	type rowJSON struct {
		Period             string      `json:"period"`
		Assistant          string      `json:"assistant"`
		Users              uint64      `json:"users"`
		DependentUsers     uint64      `json:"dependent_users"`
		Pct                float64     `json:"dependent_pct"`
		OnlyDependentUsers uint64      `json:"only_dependent_users"`
		OnlyPct            float64     `json:"only_dependent_pct"`
		OnlyOn             []ownerJSON `json:"only_on"`
		Complete           bool        `json:"complete"`
	}
	tz := res.TZ
	if tz == "" {
		tz = "UTC"
	}
	out := struct {
		Interval   Interval        `json:"interval"`
		From       string          `json:"from"`
		To         string          `json:"to"`
		TZ         string          `json:"tz"`
		Partial    string          `json:"partial"`
		Assistants []assistantJSON `json:"assistants"`
		Rows       []rowJSON       `json:"rows"`
		freshnessJSON
	}{Interval: res.Interval, From: res.From.Format(catalog.DateLayout), To: res.To.Format(catalog.DateLayout), TZ: tz,
		Partial: partialWord(res.Partial), Assistants: []assistantJSON{}, Rows: []rowJSON{},
		freshnessJSON: newFreshnessJSON(res.Freshness, res.LastCompleteDay)}
	for _, a := range res.Assistants {
		ch := a.Channels
		if ch == nil {
			ch = []string{}
		}
		out.Assistants = append(out.Assistants, assistantJSON{a.Assistant, a.Maker, ch})
	}
	for _, r := range res.Rows {
		only := make([]ownerJSON, len(r.OnlyOn))
		for i, o := range r.OnlyOn {
			only[i] = ownerJSON(o)
		}
		out.Rows = append(out.Rows, rowJSON{r.Period.Format(catalog.DateLayout), r.Assistant, r.Users, r.DependentUsers, r.Pct,
			r.OnlyDependentUsers, r.OnlyPct, only, r.Complete})
	}
	return json.NewEncoder(w).Encode(out)
}

// kpiJSON is a count's tile: change_pct. previous_from and previous_to
// are the period compared with.
type kpiJSON struct {
	Value     float64  `json:"value"`
	Previous  float64  `json:"previous"`
	ChangePct *float64 `json:"change_pct"`
	From      string   `json:"from"`
	To        string   `json:"to"`
	PrevFrom  string   `json:"previous_from"`
	PrevTo    string   `json:"previous_to"`
}

// ratioJSON is a ratio's tile (stickiness): change_pp, in percentage
// points.
type ratioJSON struct {
	Value    float64  `json:"value"`
	Previous float64  `json:"previous"`
	ChangePP *float64 `json:"change_pp"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	PrevFrom string   `json:"previous_from"`
	PrevTo   string   `json:"previous_to"`
}

func newKPIJSON(k KPI) kpiJSON {
	f := func(t time.Time) string { return t.Format(catalog.DateLayout) }
	return kpiJSON{k.Value, k.Previous, k.ChangePct, f(k.From), f(k.To), f(k.PrevFrom), f(k.PrevTo)}
}

func newRatioJSON(k KPI) ratioJSON {
	j := newKPIJSON(k)
	return ratioJSON{j.Value, j.Previous, k.ChangePP, j.From, j.To, j.PrevFrom, j.PrevTo}
}

// KPICSVHeader: one row per assistant and KPI; change_pct for counts,
// change_pp (percentage points) for stickiness.
var KPICSVHeader = []string{"assistant", "kpi", "from", "to", "value", "previous_from", "previous_to", "previous", "change_pct", "change_pp"}

// WriteKPIsCSV writes res as CSV.
func WriteKPIsCSV(w io.Writer, res KPIResult) error {
	cw := newCSV(w)
	cw.Write(KPICSVHeader)
	for _, a := range res.Assistants {
		for _, k := range []struct {
			name string
			v    KPI
		}{{"dau", a.DAU}, {"wau", a.WAU}, {"mau", a.MAU}, {"stickiness", a.Stickiness}} {
			j := newKPIJSON(k.v)
			cw.Write([]string{a.Assistant, k.name, j.From, j.To, FormatNumber(j.Value), j.PrevFrom, j.PrevTo, FormatNumber(j.Previous),
				optNumber(k.v.ChangePct, ""), optNumber(k.v.ChangePP, "")})
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteKPIsJSON writes res in the API's JSON shape.
func WriteKPIsJSON(w io.Writer, res KPIResult) error {
	type assistantJSON struct {
		Assistant  string    `json:"assistant"`
		DAU        kpiJSON   `json:"dau"`
		WAU        kpiJSON   `json:"wau"`
		MAU        kpiJSON   `json:"mau"`
		Stickiness ratioJSON `json:"stickiness"`
	}
	tz := res.TZ
	if tz == "" {
		tz = "UTC"
	}
	out := struct {
		TZ          string          `json:"tz"`
		Approximate bool            `json:"approximate"`
		Assistants  []assistantJSON `json:"assistants"`
		freshnessJSON
	}{TZ: tz, Approximate: res.Approximate, Assistants: []assistantJSON{}, freshnessJSON: newFreshnessJSON(res.Freshness, res.LastCompleteDay)}
	for _, a := range res.Assistants {
		out.Assistants = append(out.Assistants, assistantJSON{a.Assistant, newKPIJSON(a.DAU), newKPIJSON(a.WAU), newKPIJSON(a.MAU), newRatioJSON(a.Stickiness)})
	}
	return json.NewEncoder(w).Encode(out)
}

// WriteFreshnessJSON writes f: data_through, last_complete_day (UTC),
// charts_behind_seconds and first_event (RFC 3339; null when nothing is
// stored).
func WriteFreshnessJSON(w io.Writer, f DataFreshness) error {
	out := struct {
		freshnessJSON
		FirstEvent *string `json:"first_event"`
		Now        string  `json:"now"`
	}{freshnessJSON: newFreshnessJSON(f, f.LastCompleteDay(time.UTC)), Now: f.Now.UTC().Format(time.RFC3339)}
	if !f.FirstEvent.IsZero() {
		t := f.FirstEvent.UTC().Format(time.RFC3339)
		out.FirstEvent = &t
	}
	return json.NewEncoder(w).Encode(out)
}
