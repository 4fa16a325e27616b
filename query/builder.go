package query

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// sqlText accumulates SQL and the values bound to its placeholders, in the
// order they appear. Identifiers only ever come from this package's
// constants (Dim values, table names); every user value goes through arg.
type sqlText struct {
	b    strings.Builder
	args []any
}

// add appends SQL whose '?' placeholders take args, in order.
func (q *sqlText) add(sql string, args ...any) *sqlText {
	if n := strings.Count(sql, "?"); n != len(args) {
		panic(fmt.Sprintf("query: %d placeholders, %d args in %q", n, len(args), sql))
	}
	q.b.WriteString(sql)
	q.args = append(q.args, args...)
	return q
}

// sub appends another builder's SQL and arguments.
func (q *sqlText) sub(o *sqlText) *sqlText {
	q.b.WriteString(o.b.String())
	q.args = append(q.args, o.args...)
	return q
}

// in appends "col IN (?, ?, …)", one placeholder per value (a Go slice
// bound to one '?' renders as an array on 18.16 and fails).
func (q *sqlText) in(col string, vals []string) *sqlText {
	q.b.WriteString(col + " IN (")
	for i, v := range vals {
		if i > 0 {
			q.b.WriteString(", ")
		}
		q.b.WriteString("?")
		q.args = append(q.args, v)
	}
	q.b.WriteString(")")
	return q
}

func (q *sqlText) String() string { return q.b.String() }

// date binds a date as text: binding a time.Time against a Date column
// compares wrongly on 18.16.
func date(t time.Time) string { return t.Format(catalog.DateLayout) }

// queryTimeout bounds every query the package runs, on the client and, via
// max_execution_time in the SQL, on the server (a cancelled context does not
// stop a query on the server).
const queryTimeout = 60 * time.Second

const settingsClause = " SETTINGS max_execution_time = 60"

func run(ctx context.Context, s *store.Store, q *sqlText) (driver.Rows, context.CancelFunc, error) {
	ctx, cancel := context.WithTimeout(s.ReadContext(ctx), queryTimeout)
	rows, err := s.Conn.Query(ctx, q.String(), q.args...)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("query: %w", err)
	}
	return rows, cancel, nil
}

// filterSQL appends " AND dim IN (…)" for every filtered dimension.
func filterSQL(q *sqlText, f Filters) {
	for _, d := range Dims {
		if vals := f.Values(d); len(vals) > 0 {
			q.add(" AND ")
			q.in(string(d), vals)
		}
	}
}

// dimCols renders "CAST(d AS String) AS d_d, …" for dims: plain strings
// join and sort the same on every server version, and the d_ aliases avoid
// 18.16's trouble with an alias equal to a column name.
func dimCols(ds []Dim) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("CAST(%s AS String) AS d_%s", d, d))
	}
	return strings.Join(parts, ", ")
}

// dimAliases renders "d_a, d_b".
func dimAliases(ds []Dim) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, "d_"+string(d))
	}
	return strings.Join(parts, ", ")
}

// withComma prefixes a non-empty list with ", ".
func withComma(s string) string {
	if s == "" {
		return ""
	}
	return ", " + s
}
