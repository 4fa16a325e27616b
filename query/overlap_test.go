package query_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// goldenOverlap computes, in plain loops from the events, each person's
// set of assistants in [from, to] on the slice, then the people per
// assistant, per pair and exclusive to one.
func goldenOverlap(evs []ev, from, to time.Time, channel, country string) (people int, active, exclusive map[string]int, both map[[2]string]int) {
	sets := map[uint64]map[string]bool{}
	for _, e := range evs {
		if e.day().Before(from) || e.day().After(to) || (channel != "" && e.channel != channel) || (country != "" && e.country != country) {
			continue
		}
		if sets[e.user] == nil {
			sets[e.user] = map[string]bool{}
		}
		sets[e.user][e.assistant] = true
	}
	active, exclusive, both = map[string]int{}, map[string]int{}, map[[2]string]int{}
	for _, set := range sets {
		people++
		for a := range set {
			active[a]++
			if len(set) == 1 {
				exclusive[a]++
			}
			for b := range set {
				if a < b {
					both[[2]string{a, b}]++
				}
			}
		}
	}
	return
}

func TestOverlapMatchesPersonLevelCounts(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name             string
		interval         query.Interval
		from, to         time.Time
		channel, country string
	}{
		{"by month", query.Month, d("2025-12-01"), d("2026-02-28"), "", ""},
		{"whole range, whatsapp", "", d("2025-12-10"), d("2026-02-20"), "whatsapp", ""},
		{"by month from mid-December, FR", query.Month, d("2025-12-15"), d("2026-02-28"), "", "FR"},
		// Words of 8 bits: two months of four assistants each, so the
		// three months take two words.
		{"by month, months in two words", query.Month, d("2025-12-01"), d("2026-02-28"), "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.name, "two words") {
				defer query.SetOverlapWordBits(8)()
			}
			r := query.OverlapRequest{From: c.from, To: c.to, Interval: c.interval, Now: now}
			if c.channel != "" {
				r.Filters.Channels = []string{c.channel}
			}
			if c.country != "" {
				r.Filters.Countries = []string{c.country}
			}
			res, err := query.Overlap(ctx, s, r)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Assistants, []string{"chatgpt", "copilot", "meta_ai"}) {
				t.Fatalf("assistants %v", res.Assistants)
			}
			var bounds [][2]time.Time
			if c.interval == query.Month {
				for m := time.Date(c.from.Year(), c.from.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(c.to); m = m.AddDate(0, 1, 0) {
					f, l := m, m.AddDate(0, 1, -1)
					if f.Before(c.from) {
						f = c.from
					}
					if l.After(c.to) {
						l = c.to
					}
					bounds = append(bounds, [2]time.Time{f, l})
				}
			} else {
				bounds = [][2]time.Time{{c.from, c.to}}
			}
			if len(res.Periods) != len(bounds) {
				t.Fatalf("%d periods, want %d", len(res.Periods), len(bounds))
			}
			anyPair := false
			for i, p := range res.Periods {
				people, active, exclusive, both := goldenOverlap(evs, bounds[i][0], bounds[i][1], c.channel, c.country)
				if p.People != uint64(people) {
					t.Errorf("%s: %d people, want %d", p.Period.Format("2006-01"), p.People, people)
				}
				for ai, a := range res.Assistants {
					if p.Active[ai] != uint64(active[a]) || p.Exclusive[ai] != uint64(exclusive[a]) {
						t.Errorf("%s %s: active %d exclusive %d, want %d and %d", p.Period.Format("2006-01-02"), a, p.Active[ai], p.Exclusive[ai], active[a], exclusive[a])
					}
				}
				for _, pr := range p.Pairs {
					if pr.Both != uint64(both[[2]string{pr.A, pr.B}]) {
						t.Errorf("%s %s+%s: %d, want %d", p.Period.Format("2006-01-02"), pr.A, pr.B, pr.Both, both[[2]string{pr.A, pr.B}])
					}
					if pr.Both > 0 {
						anyPair = true
					}
					if res.Both(p, pr.B, pr.A) != pr.Both {
						t.Errorf("Both is not symmetric for %s+%s", pr.A, pr.B)
					}
				}
				if p.From != bounds[i][0] || p.To != bounds[i][1] {
					t.Errorf("period %d counts %v..%v, want %v..%v", i, p.From, p.To, bounds[i][0], bounds[i][1])
				}
			}
			if !anyPair {
				t.Fatal("no person on two assistants: the test data does not exercise the overlap")
			}
		})
	}

	// Complete days only: with the clock on 2026-02-15, February counts
	// 2026-02-01..14 and is marked incomplete.
	res, err := query.Overlap(ctx, s, query.OverlapRequest{From: d("2026-01-01"), To: d("2026-02-28"), Interval: query.Month, Now: time.Date(2026, 2, 15, 10, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Periods) != 2 || !res.Periods[0].Complete || res.Periods[1].Complete || res.Periods[1].To != d("2026-02-14") {
		t.Fatalf("periods %+v", res.Periods)
	}
	people, _, _, _ := goldenOverlap(evs, d("2026-02-01"), d("2026-02-14"), "", "")
	if res.Periods[1].People != uint64(people) {
		t.Errorf("February to the 14th: %d people, want %d", res.Periods[1].People, people)
	}
}
