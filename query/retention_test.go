package query_test

import (
	"context"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

func TestRetentionGolden(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	cases := []struct {
		iv, from, to string
		filters      map[string][]string
	}{
		{"week", "2026-01-05", "2026-02-22", nil},
		{"week", "2026-01-07", "2026-02-10", map[string][]string{"channel": {"whatsapp"}}},
		{"month", "2025-12-01", "2026-02-28", map[string][]string{"assistant": {"chatgpt", "meta_ai"}, "country": {"EG"}}},
	}
	for _, c := range cases {
		from, to := d(c.from), d(c.to)
		// Plain loops: first day per person on the slice, then activity.
		first := map[uint64]time.Time{}
		active := map[[2]string]map[uint64]bool{}
		for _, e := range evs {
			if !matches(e, c.filters) || e.day().After(to) {
				continue
			}
			if f, ok := first[e.user]; !ok || e.day().Before(f) {
				first[e.user] = e.day()
			}
		}
		for _, e := range evs {
			if !matches(e, c.filters) || e.day().Before(from) || e.day().After(to) {
				continue
			}
			f := first[e.user]
			if f.Before(from) {
				continue
			}
			k := [2]string{gPeriod(f, c.iv).Format("2006-01-02"), gPeriod(e.day(), c.iv).Format("2006-01-02")}
			if active[k] == nil {
				active[k] = map[uint64]bool{}
			}
			active[k][e.user] = true
		}
		v := url.Values{"interval": {c.iv}, "from": {c.from}, "to": {c.to}}
		for k, vals := range c.filters {
			v[k] = vals
		}
		req, err := query.ParseRetention(v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Retention(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		var periods []time.Time
		for p := gPeriod(from, c.iv); !p.After(to); {
			periods = append(periods, p)
			if c.iv == "week" {
				p = p.AddDate(0, 0, 7)
			} else {
				p = p.AddDate(0, 1, 0)
			}
		}
		i := 0
		for ci, cp := range periods {
			cl := cp.Format("2006-01-02")
			size := uint64(len(active[[2]string{cl, cl}]))
			for pi := ci; pi < len(periods); pi++ {
				pl := periods[pi].Format("2006-01-02")
				n := uint64(len(active[[2]string{cl, pl}]))
				if i >= len(res.Rows) {
					t.Fatalf("%s: only %d rows", v.Encode(), len(res.Rows))
				}
				r := res.Rows[i]
				i++
				rate := 0.0
				if size > 0 {
					rate = math.Round(float64(n)/float64(size)*100*100) / 100
				}
				if r.Cohort.Format("2006-01-02") != cl || r.Period.Format("2006-01-02") != pl || r.Offset != pi-ci ||
					r.CohortSize != size || r.Users != n || r.RatePct != rate {
					t.Errorf("%s: row %+v, want cohort %s period %s offset %d size %d users %d rate %v", v.Encode(), r, cl, pl, pi-ci, size, n, rate)
				}
			}
		}
		if i != len(res.Rows) {
			t.Errorf("%s: %d rows, want %d", v.Encode(), len(res.Rows), i)
		}
	}
}
