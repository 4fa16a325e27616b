package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// TestRetentionLeftCensoredAndAverage: the cohort of the data's first
// period is flagged (everyone active when the data starts); the average
// curve pools the complete cells of the other cohorts, each weighted by
// its size, checked against plain loops over the inserted events.
func TestRetentionLeftCensoredAndAverage(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	firstDay := evs[0].day()
	for _, e := range evs {
		if e.day().Before(firstDay) {
			firstDay = e.day()
		}
	}
	// fixedNow: 2026-02-11 14:00, the last complete day is 2026-02-10.
	lastComplete := d("2026-02-10")
	for _, c := range []struct{ iv, from, to string }{
		{"week", "2025-11-24", "2026-02-22"},
		{"month", "2025-12-01", "2026-02-28"},
		{"week", "2026-01-05", "2026-02-22"},
	} {
		from, to := d(c.from), d(c.to)
		lastDay := d("2026-02-11") // today: the range is cut there
		// Plain loops: first day per person, activity per (cohort, period).
		first := map[uint64]time.Time{}
		for _, e := range evs {
			if f, ok := first[e.user]; !ok || e.day().Before(f) {
				first[e.user] = e.day()
			}
		}
		active := map[[2]time.Time]map[uint64]bool{}
		for _, e := range evs {
			f := first[e.user]
			if f.Before(from) || f.After(lastDay) || e.day().Before(from) || e.day().After(lastDay) {
				continue
			}
			k := [2]time.Time{gPeriod(f, c.iv), gPeriod(e.day(), c.iv)}
			if active[k] == nil {
				active[k] = map[uint64]bool{}
			}
			active[k][e.user] = true
		}
		next := func(p time.Time) time.Time {
			if c.iv == "week" {
				return p.AddDate(0, 0, 7)
			}
			return p.AddDate(0, 1, 0)
		}
		var periods []time.Time
		for p := gPeriod(from, c.iv); !p.After(lastDay); p = next(p) {
			periods = append(periods, p)
		}
		// Left-censored: the period of the first event, and the next one
		// when the data starts after that period's first day.
		var censored []string
		for _, p := range periods {
			if p.Equal(gPeriod(firstDay, c.iv)) || (!firstDay.Equal(gPeriod(firstDay, c.iv)) && p.Equal(next(gPeriod(firstDay, c.iv)))) {
				censored = append(censored, p.Format("2006-01-02"))
			}
		}
		type avg struct{ people, users, cohorts int }
		var want []avg
		for ci, cp := range periods {
			if slices.Contains(censored, cp.Format("2006-01-02")) {
				continue
			}
			size := len(active[[2]time.Time{cp, cp}])
			if size == 0 {
				continue
			}
			for pi := ci; pi < len(periods); pi++ {
				end := next(periods[pi]).AddDate(0, 0, -1)
				if periods[pi].Before(from) || end.After(lastComplete) || end.After(to) {
					continue // not complete
				}
				for len(want) <= pi-ci {
					want = append(want, avg{})
				}
				w := &want[pi-ci]
				w.people += size
				w.users += len(active[[2]time.Time{cp, periods[pi]}])
				w.cohorts++
			}
		}
		req, err := query.ParseRetention(url.Values{"interval": {c.iv}, "from": {c.from}, "to": {c.to}})
		if err != nil {
			t.Fatal(err)
		}
		req.Now = fixedNow
		res, err := query.Retention(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s: left-censored %v", c.iv, c.from, censored)
		var got []string
		for _, lc := range res.LeftCensored {
			got = append(got, lc.Format("2006-01-02"))
		}
		if !slices.Equal(got, censored) {
			t.Errorf("%s %s: left-censored cohorts %q, want %q (the data starts on %s)", c.iv, c.from, got, censored, firstDay.Format("2006-01-02"))
		}
		var kept []avg
		for _, w := range want {
			if w.people > 0 {
				kept = append(kept, w)
			}
		}
		if len(res.Average) != len(kept) {
			t.Fatalf("%s %s: %d average points %+v, want %d %+v", c.iv, c.from, len(res.Average), res.Average, len(kept), kept)
		}
		for i, a := range res.Average {
			w := kept[i]
			rate := math.Round(float64(w.users)/float64(w.people)*100*100) / 100
			if a.Offset != i || int(a.People) != w.people || int(a.Users) != w.users || a.Cohorts != w.cohorts || a.RatePct != rate {
				t.Errorf("%s %s: average at %d = %+v, want %d of %d people in %d cohorts = %v %%", c.iv, c.from, i, a, w.users, w.people, w.cohorts, rate)
			}
		}
		var b bytes.Buffer
		if err := query.WriteRetentionJSON(&b, res); err != nil {
			t.Fatal(err)
		}
		var out struct {
			Censored []string `json:"left_censored_cohorts"`
			Rows     []any    `json:"rows"`
			Average  []struct {
				Offset  int     `json:"offset"`
				RatePct float64 `json:"rate_pct"`
			} `json:"average"`
		}
		if err := json.Unmarshal(b.Bytes(), &out); err != nil {
			t.Fatalf("%v: %s", err, b.String())
		}
		if out.Censored == nil || !slices.Equal(out.Censored, got) {
			t.Errorf("%s %s: JSON left_censored_cohorts %v, want %q", c.iv, c.from, out.Censored, got)
		}
		if len(out.Average) != len(res.Average) || len(out.Rows) != len(res.Rows) {
			t.Errorf("%s %s: JSON has %d average points and %d rows", c.iv, c.from, len(out.Average), len(out.Rows))
		}
	}
}
