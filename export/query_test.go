package export

import (
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// TestQueryIsReadAsTheAPIReadsIt: an export's query is held to the query
// API's rules, from, to and range included, before the export's range
// replaces them; a preset in the query becomes the rolling range.
func TestQueryIsReadAsTheAPIReadsIt(t *testing.T) {
	for _, tc := range []struct {
		q, rng    string
		wantErr   string // a part of the message; "" accepted
		wantRange Range
		wantQuery string
	}{
		{"metric=active_users&compare=previous", "", "", "last_28_days", "compare=previous&metric=active_users"},
		{"from=2026-01-01&to=2026-01-31&interval=week", "last_7_days", "", "last_7_days", "interval=week&metric=active_users"},
		{"range=90d&interval=week", "", "", "last_90_days", "interval=week&metric=active_users"},
		{"range=12m", "previous_month", "", "previous_month", "metric=active_users"},
		{"from=1990-01-01", "", `query: from "1990-01-01": want a date from 2000-01-01 to 2100-12-31`, "", ""},
		{"range=5d", "", `query: parameter range="5d" is invalid`, "", ""},
		{"compare=on", "", `query: parameter compare="on" is invalid: want one of none, previous, year`, "", ""},
		{"country=fr", "", `query: country "fr" is not a country code`, "", ""},
		{"metric=active_users", "since:1990-01-01", `range "since:1990-01-01": want since:YYYY-MM-DD with a date from 2000-01-01 to 2100-12-31`, "", ""},
	} {
		e := Export{Name: "x", Query: tc.q, Range: Range(tc.rng), Schedule: "0 6 * * MON"}
		err := e.Normalize()
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want %q", tc.q, err, tc.wantErr)
			}
			continue
		}
		if err != nil || e.Range != tc.wantRange || e.Query != tc.wantQuery {
			t.Errorf("%s: %v, range %q query %q; want range %q query %q", tc.q, err, e.Range, e.Query, tc.wantRange, tc.wantQuery)
		}
	}
}

func TestRangeOf(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }
	for _, tc := range []struct {
		p        query.Preset
		from, to string
		want     Range
	}{
		{query.Range7d, "", "", "last_7_days"},
		{query.Range28d, "", "", "last_28_days"},
		{query.Range90d, "", "", "last_90_days"},
		{query.Range12m, "", "", "last_12_months"},
		{query.RangeAll, "2024-06-01", "2026-02-11", "since:2024-06-01"},
		{query.RangeCustom, "2026-02-01", "2026-02-07", "last_7_days"},
		{query.RangeCustom, "2026-02-01", "2026-02-08", "last_28_days"},
		{"", "2026-01-01", "2026-02-11", "since:2026-01-01"},
	} {
		if got := RangeOf(tc.p, d(tc.from), d(tc.to)); got != tc.want {
			t.Errorf("RangeOf(%q, %s, %s) = %q, want %q", tc.p, tc.from, tc.to, got, tc.want)
		}
	}
}
