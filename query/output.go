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

// FormatNumber renders a value the same way in JSON and CSV: the shortest
// decimal that reads back as the same float64, never an exponent.
func FormatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// SeriesCSVHeader is period, the By columns, value, and with Compare
// previous and change_pct.
func SeriesCSVHeader(m SeriesMeta) []string {
	h := []string{"period"}
	for _, d := range m.By {
		h = append(h, string(d))
	}
	h = append(h, "value")
	if m.Compare {
		h = append(h, "previous", "change_pct")
	}
	return h
}

// SeriesCSVRecord is one row in the columns of SeriesCSVHeader. A change
// that cannot be computed (previous is 0) is an empty field.
func SeriesCSVRecord(m SeriesMeta, row SeriesRow) []string {
	rec := make([]string, 0, len(row.Dims)+4)
	rec = append(rec, row.Period.Format(catalog.DateLayout))
	rec = append(rec, row.Dims...)
	rec = append(rec, FormatNumber(row.Value))
	if m.Compare {
		rec = append(rec, optNumber(row.Previous, ""), optNumber(row.ChangePct, ""))
	}
	return rec
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
	meta := DescribeSeries(r)
	if err := cw.Write(SeriesCSVHeader(meta)); err != nil {
		return err
	}
	n := 0
	_, err := StreamSeries(ctx, s, r, func(row SeriesRow) error {
		if err := cw.Write(SeriesCSVRecord(meta, row)); err != nil {
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
	bw := bufio.NewWriter(w)
	m := res.SeriesMeta
	by := make([]string, len(m.By))
	for i, d := range m.By {
		by[i] = string(d)
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
		Compare     bool     `json:"compare"`
		Approximate bool     `json:"approximate"`
		Source      string   `json:"source"`
	}{m.Metric, m.Interval, m.From.Format(catalog.DateLayout), m.To.Format(catalog.DateLayout), by, tz, m.Compare, m.Approximate, m.Source})
	if err != nil {
		return err
	}
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"rows":[`)
	for i, row := range res.Rows {
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString(`{"period":"` + row.Period.Format(catalog.DateLayout) + `"`)
		for j, d := range by {
			bw.WriteString(`,"` + d + `":`)
			b, _ := json.Marshal(row.Dims[j])
			bw.Write(b)
		}
		bw.WriteString(`,"value":` + FormatNumber(row.Value))
		if m.Compare {
			bw.WriteString(`,"previous":` + optNumber(row.Previous, "null"))
			bw.WriteString(`,"change_pct":` + optNumber(row.ChangePct, "null"))
		}
		bw.WriteByte('}')
	}
	bw.WriteString("]}\n")
	return bw.Flush()
}

// MigrationCSVHeader: one row per outcome; every row repeats the cohort
// size and the linked count so that a spreadsheet can compute shares.
var MigrationCSVHeader = []string{"outcome", "assistant", "channel", "users", "cohort", "linked"}

// WriteMigrationCSV writes res as CSV.
func WriteMigrationCSV(w io.Writer, res MigrationResult) error {
	cw := newCSV(w)
	cw.Write(MigrationCSVHeader)
	for _, o := range res.Outcomes {
		cw.Write([]string{o.Outcome, o.Assistant, o.Channel, strconv.FormatUint(o.Users, 10),
			strconv.FormatUint(res.Cohort, 10), strconv.FormatUint(res.Linked, 10)})
	}
	cw.Flush()
	return cw.Error()
}

type migrationOutcomeJSON struct {
	Outcome   string `json:"outcome"`
	Assistant string `json:"assistant,omitempty"`
	Channel   string `json:"channel,omitempty"`
	Users     uint64 `json:"users"`
}

// WriteMigrationJSON writes res in the API's JSON shape.
func WriteMigrationJSON(w io.Writer, res MigrationResult) error {
	out := struct {
		Assistant  string                 `json:"assistant"`
		Channel    string                 `json:"channel"`
		Date       string                 `json:"date"`
		BeforeDays int                    `json:"before_days"`
		AfterDays  int                    `json:"after_days"`
		Cohort     uint64                 `json:"cohort"`
		Linked     uint64                 `json:"linked"`
		Outcomes   []migrationOutcomeJSON `json:"outcomes"`
	}{res.Assistant, res.Channel, res.Date.Format(catalog.DateLayout), res.BeforeDays, res.AfterDays, res.Cohort, res.Linked, nil}
	for _, o := range res.Outcomes {
		out.Outcomes = append(out.Outcomes, migrationOutcomeJSON(o))
	}
	return json.NewEncoder(w).Encode(out)
}

// RetentionCSVHeader are the retention columns.
var RetentionCSVHeader = []string{"cohort", "period", "offset", "cohort_size", "users", "rate_pct"}

func retentionRecord(row RetentionRow) []string {
	return []string{row.Cohort.Format(catalog.DateLayout), row.Period.Format(catalog.DateLayout), strconv.Itoa(row.Offset),
		strconv.FormatUint(row.CohortSize, 10), strconv.FormatUint(row.Users, 10), FormatNumber(row.RatePct)}
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
	fmt.Fprintf(&buf, `{"interval":%q,"from":%q,"to":%q,"rows":[`, res.Interval, res.From.Format(catalog.DateLayout), res.To.Format(catalog.DateLayout))
	for i, row := range res.Rows {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"cohort":%q,"period":%q,"offset":%d,"cohort_size":%d,"users":%d,"rate_pct":%s}`,
			row.Cohort.Format(catalog.DateLayout), row.Period.Format(catalog.DateLayout), row.Offset, row.CohortSize, row.Users, FormatNumber(row.RatePct))
	}
	buf.WriteString("]}\n")
	_, err := w.Write(buf.Bytes())
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
	}
	return &ParamError{Param: "endpoint", Value: endpoint, Allowed: "want series, migration or retention"}
}
