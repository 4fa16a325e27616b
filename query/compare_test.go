package query_test

import (
	"context"
	"math"
	"math/rand/v2"
	"net/url"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// compareEvents: 60 people, each on one assistant, active on about one
// day in three from 2024-09-01 to 2026-02-28, more on weekends for some:
// a comparison that puts a Sunday against a Friday shows it.
func compareEvents() []ev {
	r := rand.New(rand.NewPCG(7, 11))
	var out []ev
	for u := uint64(1); u <= 60; u++ {
		a := assistants[u%3]
		for day := d("2024-09-01"); !day.After(d("2026-02-28")); day = day.AddDate(0, 0, 1) {
			p := 0.3
			if wd := day.Weekday(); u%2 == 0 && (wd == time.Saturday || wd == time.Sunday) {
				p = 0.8
			}
			if r.Float64() > p {
				continue
			}
			out = append(out, ev{t: day.Add(time.Duration(r.IntN(86400)) * time.Second), assistant: a, channel: "web", country: "FR",
				modality: "text", etype: "message", user: u, count: 1})
		}
	}
	return out
}

// usersOn counts the distinct people of assistant a in [from, to].
func usersOn(evs []ev, a string, from, to time.Time) float64 {
	return usersBy(evs, func(e ev) bool { return e.assistant == a && !e.day().Before(from) && !e.day().After(to) },
		func(ev) string { return "" })[""]
}

func TestCompareWindows(t *testing.T) {
	for _, c := range []struct {
		name                     string
		iv                       query.Interval
		cmp                      query.Compare
		from, to, pfrom, pto, p0 string // p0: the period the first one faces
	}{
		// 30 days rounded up to 35: weekdays face weekdays.
		{"30 days", query.Day, query.ComparePrevious, "2025-11-01", "2025-11-30", "2025-09-27", "2025-10-26", "2025-09-27"},
		{"7 days", query.Day, query.ComparePrevious, "2025-11-01", "2025-11-07", "2025-10-25", "2025-10-31", "2025-10-25"},
		// range=12m on 2026-12-06 by month: December 2025 to the 6th of
		// December 2026; the cut-short December does not count: 12 months.
		{"12m by month", query.Month, query.ComparePrevious, "2025-12-01", "2026-12-06", "2024-12-01", "2025-12-06", "2024-12-01"},
		{"a whole month", query.Month, query.ComparePrevious, "2025-11-01", "2025-11-30", "2025-10-01", "2025-10-31", "2025-10-01"},
		{"28d by week", query.Week, query.ComparePrevious, "2026-11-02", "2026-12-02", "2026-10-05", "2026-11-04", "2026-10-05"},
		{"year by day", query.Day, query.CompareYear, "2026-11-01", "2026-11-30", "2025-11-02", "2025-12-01", "2025-11-02"},
		{"year by week", query.Week, query.CompareYear, "2026-11-02", "2026-11-29", "2025-11-03", "2025-11-30", "2025-11-03"},
		{"year by month", query.Month, query.CompareYear, "2025-12-01", "2026-12-06", "2024-12-01", "2025-12-06", "2024-12-01"},
	} {
		r := query.SeriesRequest{Interval: c.iv, From: d(c.from), To: d(c.to), Compare: c.cmp}
		from, to, shift, ok := query.CompareWindow(r)
		f := func(t time.Time) string { return t.Format("2006-01-02") }
		if !ok || f(from) != c.pfrom || f(to) != c.pto || f(shift(d(c.from))) != c.p0 {
			t.Errorf("%s: window %s..%s (first faces %s), want %s..%s (%s)", c.name, f(from), f(to), f(shift(d(c.from))), c.pfrom, c.pto, c.p0)
		}
		if c.iv == query.Day && from.Weekday() != d(c.from).Weekday() {
			t.Errorf("%s: %s faces a %s", c.name, d(c.from).Weekday(), from.Weekday())
		}
	}
	if _, _, _, ok := query.CompareWindow(query.SeriesRequest{Interval: query.Day, From: d("2025-11-01"), To: d("2025-11-30")}); ok {
		t.Error("compare none has a window")
	}
}

// TestCompareYearByMonth: each month against the same month a year
// earlier, counted from the test's own events.
func TestCompareYearByMonth(t *testing.T) {
	s := chtestStore(t)
	evs := compareEvents()
	insert(t, s, evs)
	req, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "interval": {"month"}, "by": {"assistant"},
		"from": {"2025-09-01"}, "to": {"2026-02-28"}, "compare": {"year"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := query.Series(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Compare != query.CompareYear || res.CompareFrom != d("2024-09-01") || res.CompareTo != d("2025-02-28") {
		t.Errorf("compared with %s %v..%v, want year 2024-09-01..2025-02-28", res.Compare, res.CompareFrom, res.CompareTo)
	}
	if len(res.Rows) != 6*3 {
		t.Fatalf("%d rows, want 18", len(res.Rows))
	}
	for _, row := range res.Rows {
		a := row.Dims[0]
		end := row.Period.AddDate(0, 1, -1)
		py := row.Period.AddDate(-1, 0, 0)
		want, prev := usersOn(evs, a, row.Period, end), usersOn(evs, a, py, py.AddDate(0, 1, -1))
		if row.Value != want || row.Previous == nil || *row.Previous != prev || !row.PreviousPeriod.Equal(py) {
			t.Errorf("%s %s: %v against %v (%s), want %v against %v (%s)", row.Period.Format("2006-01"), a, row.Value, row.Previous,
				row.PreviousPeriod.Format("2006-01-02"), want, prev, py.Format("2006-01-02"))
			continue
		}
		if c := math.Round((want-prev)/prev*100*100) / 100; row.ChangePct == nil || *row.ChangePct != c {
			t.Errorf("%s %s: change %v, want %v", row.Period.Format("2006-01"), a, row.ChangePct, c)
		}
	}
}

// TestComparePreviousSameWeekday: 30 days by day against the previous
// window puts each day against the same weekday: day d faces d-35.
func TestComparePreviousSameWeekday(t *testing.T) {
	s := chtestStore(t)
	evs := compareEvents()
	insert(t, s, evs)
	req, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "interval": {"day"}, "by": {"assistant"},
		"from": {"2025-11-01"}, "to": {"2025-11-30"}, "compare": {"previous"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := query.Series(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.CompareFrom != d("2025-09-27") || res.CompareTo != d("2025-10-26") {
		t.Errorf("compared with %v..%v, want 2025-09-27..2025-10-26", res.CompareFrom, res.CompareTo)
	}
	if len(res.Rows) != 30*3 {
		t.Fatalf("%d rows, want 90", len(res.Rows))
	}
	for _, row := range res.Rows {
		a, p := row.Dims[0], row.Period
		back := p.AddDate(0, 0, -35)
		want, prev := usersOn(evs, a, p, p), usersOn(evs, a, back, back)
		if row.Value != want || row.Previous == nil || *row.Previous != prev || row.PreviousPeriod.Weekday() != p.Weekday() {
			t.Errorf("%s %s: %v against %v on %s, want %v against %v on %s", p.Format("Mon 2006-01-02"), a, row.Value, row.Previous,
				row.PreviousPeriod.Format("Mon 2006-01-02"), want, prev, back.Format("Mon 2006-01-02"))
		}
	}
}
