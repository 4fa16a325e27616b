package query_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// distinctGroups counts the distinct values of the by fields among evs
// whose day lies in [from, to], in a plain loop.
func distinctGroups(evs []ev, by []string, from, to string) int {
	seen := map[string]bool{}
	for _, e := range evs {
		if day := e.day().Format("2006-01-02"); day < from || day > to {
			continue
		}
		seen[key(e, by)] = true
	}
	return len(seen)
}

func firstDay(evs []ev) time.Time {
	first := evs[0].day()
	for _, e := range evs {
		if e.day().Before(first) {
			first = e.day()
		}
	}
	return first
}

// An answer larger than the read budget is refused before it runs, with
// a 422 that names the limit and how to ask for less.
func TestSeriesOverBudgetRefused(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	by := []string{"assistant", "channel", "country", "modality", "event_type"}
	groups := distinctGroups(evs, by, "2016-12-10", "2026-02-28")
	days := int(d("2026-02-28").Sub(firstDay(evs)).Hours()/24) + 1 // the periods from the first event's day on
	s.Read = store.ReadBudget{MaxRows: groups*days - 1}
	req, err := query.ParseSeries(url.Values{"metric": {"events"}, "from": {"2016-12-10"}, "to": {"2026-02-28"},
		"by": {strings.Join(by, ",")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = query.Series(context.Background(), s, req)
	var le *query.LimitError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want a *query.LimitError", err)
	}
	if le.Groups != groups || le.Periods != days {
		t.Errorf("sized %d groups x %d periods, want %d x %d (periods before the first event are not counted)", le.Groups, le.Periods, groups, days)
	}
	status, msg, _ := httperr.Describe(err)
	if status != 422 || !strings.Contains(msg, fmt.Sprint(groups*days-1)) || !strings.Contains(msg, "ADOPTSCOPE_QUERY_MAX_ROWS") {
		t.Errorf("answer %d %q: want 422 naming the limit %d and its setting", status, msg, groups*days-1)
	}
	// At the limit it runs, and holds exactly that many rows.
	s.Read = store.ReadBudget{MaxRows: groups * days}
	res, err := query.Series(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != groups*days {
		t.Errorf("%d rows, want %d", len(res.Rows), groups*days)
	}
}

// A range that starts years before the first stored event gets no rows
// for the periods before it (they were zero-filled: 3,650 empty days
// per group).
func TestSeriesNoRowsBeforeFirstEvent(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	first := firstDay(evs)
	for _, iv := range []string{"day", "week", "month"} {
		req, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "interval": {iv}, "from": {"2016-12-10"}, "to": {"2026-02-28"}, "by": {"assistant"}, "compare": {"previous"}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Series(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		wantFirst := gPeriod(first, iv)
		if len(res.Rows) == 0 || !res.Rows[0].Period.Equal(wantFirst) {
			t.Fatalf("%s: first row %v, want the period of the first event %s", iv, res.Rows[0].Period, wantFirst.Format("2006-01-02"))
		}
		// The rows that remain are those of a range that starts there.
		g := gReq{metric: "active_users", interval: iv, from: d("2016-12-10"), to: d("2026-02-28"), by: []string{"assistant"}}
		var want []gRow
		for _, r := range golden(evs, g) {
			if r.period >= wantFirst.Format("2006-01-02") {
				want = append(want, r)
			}
		}
		compareRows(t, iv, res.Rows, want)
	}
}

// The API's streamed JSON is byte for byte what the whole answer written
// at once is.
func TestSeriesJSONStreamEqualsWhole(t *testing.T) {
	s := chtestStore(t)
	insert(t, s, goldenEvents())
	for _, v := range []url.Values{
		{"metric": {"active_users"}, "from": {"2025-11-20"}, "to": {"2026-02-28"}, "by": {"assistant,channel"}, "compare": {"previous"}},
		{"metric": {"events"}, "interval": {"week"}, "from": {"2025-12-01"}, "to": {"2026-02-28"}, "by": {"country"}},
		{"metric": {"active_users"}, "from": {"2010-01-01"}, "to": {"2010-02-01"}}, // before any data: no rows
	} {
		req, err := query.ParseSeries(v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Series(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		var whole, stream bytes.Buffer
		if err := query.WriteSeriesJSON(&whole, res); err != nil {
			t.Fatal(err)
		}
		if err := query.StreamSeriesJSON(context.Background(), s, req, &stream); err != nil {
			t.Fatal(err)
		}
		if whole.String() != stream.String() {
			t.Errorf("%s: streamed JSON differs from the whole answer:\n%s\n%s", v.Encode(), stream.String(), whole.String())
		}
	}
}

// Every read runs with the budget's max_memory_usage: with a budget too
// small for any query, ClickHouse itself refuses it.
func TestReadMemoryBudgetReachesServer(t *testing.T) {
	s := chtestStore(t)
	insert(t, s, goldenEvents())
	req, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "from": {"2025-12-01"}, "to": {"2026-02-28"}, "by": {"assistant"}, "exact": {"true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := query.Series(context.Background(), s, req); err != nil {
		t.Fatalf("with the default budget: %v", err)
	}
	s.Read = store.ReadBudget{MaxMemory: 1024}
	_, err = query.Series(context.Background(), s, req)
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "memory limit") {
		t.Fatalf("err = %v, want ClickHouse's memory limit error", err)
	}
}
