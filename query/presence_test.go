package query_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// checkPeople compares the per-person questions asked in zone tz ("" for
// UTC) with plain loops over evs: the audience overlap by month and over
// the whole range (whole months read from the person-month table, the
// cut months at both ends from person-days), and weekly retention (whole
// weeks from the person-week table). wantSource says which table the
// answers must name.
func checkPeople(t *testing.T, s *store.Store, tz string, evs []ev, wantSource func(string) bool) {
	t.Helper()
	ctx := context.Background()
	loc := time.UTC
	if tz != "" {
		var err error
		if loc, err = time.LoadLocation(tz); err != nil {
			t.Fatal(err)
		}
	}
	now := d("2026-12-15")
	fr, err := query.Freshness(ctx, s, now)
	if err != nil {
		t.Fatal(err)
	}
	dayOf := func(e ev) time.Time {
		l := e.t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	}
	from, to := d("2026-03-10"), d("2026-11-04") // months cut at both ends
	cells := 0
	for _, iv := range []query.Interval{query.Month, ""} {
		res, err := query.Overlap(ctx, s, query.OverlapRequest{From: from, To: to, Interval: iv, TZ: tz, Now: now, Freshness: &fr})
		if err != nil {
			t.Fatalf("%q overlap %q: %v", tz, iv, err)
		}
		if !wantSource(res.Source) {
			t.Errorf("%q overlap %q read %s", tz, iv, res.Source)
		}
		for _, p := range res.Periods {
			// Each person's assistants in the period's days.
			sets := map[uint64]map[string]bool{}
			for _, e := range evs {
				day := dayOf(e)
				if day.Before(p.From) || day.After(p.To) {
					continue
				}
				if sets[e.user] == nil {
					sets[e.user] = map[string]bool{}
				}
				sets[e.user][e.assistant] = true
			}
			if p.People != uint64(len(sets)) {
				t.Errorf("%q overlap %s: %d people, want %d", tz, p.Period.Format("2006-01-02"), p.People, len(sets))
			}
			for i, a := range res.Assistants {
				var n uint64
				for _, set := range sets {
					if set[a] {
						n++
					}
				}
				if p.Active[i] != n {
					t.Errorf("%q overlap %s %s: %d active, want %d", tz, p.Period.Format("2006-01-02"), a, p.Active[i], n)
				}
				cells++
			}
			for _, pr := range p.Pairs {
				var n uint64
				for _, set := range sets {
					if set[pr.A] && set[pr.B] {
						n++
					}
				}
				if pr.Both != n {
					t.Errorf("%q overlap %s %s+%s: %d, want %d", tz, p.Period.Format("2006-01-02"), pr.A, pr.B, pr.Both, n)
				}
				cells++
			}
		}
		if iv == query.Month && len(res.Periods) != 9 {
			t.Errorf("%q overlap by month: %d periods, want 9", tz, len(res.Periods))
		}
	}

	// Weekly retention on ChatGPT, 2026-03-11 (a Wednesday) to 2026-11-15.
	rfrom, rto := d("2026-03-11"), d("2026-11-15")
	f := query.Filters{Assistants: []string{"chatgpt"}}
	res, err := query.Retention(ctx, s, query.RetentionRequest{Interval: query.Week, From: rfrom, To: rto, Filters: f, TZ: tz, Now: now})
	if err != nil {
		t.Fatalf("%q retention: %v", tz, err)
	}
	if !wantSource(res.Source) {
		t.Errorf("%q retention read %s", tz, res.Source)
	}
	first := map[uint64]time.Time{}
	for _, e := range evs {
		if e.assistant != "chatgpt" {
			continue
		}
		if f, ok := first[e.user]; !ok || dayOf(e).Before(f) {
			first[e.user] = dayOf(e)
		}
	}
	monday := func(t time.Time) time.Time { return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7)) }
	active := map[[2]time.Time]map[uint64]bool{} // cohort week, week -> people
	for _, e := range evs {
		f, day := first[e.user], dayOf(e)
		if e.assistant != "chatgpt" || f.Before(rfrom) || f.After(rto) || day.Before(rfrom) || day.After(rto) {
			continue
		}
		k := [2]time.Time{monday(f), monday(day)}
		if active[k] == nil {
			active[k] = map[uint64]bool{}
		}
		active[k][e.user] = true
	}
	nonzero := 0
	for _, row := range res.Rows {
		want := uint64(len(active[[2]time.Time{row.Cohort, row.Period}]))
		if row.Users != want {
			t.Errorf("%q retention cohort %s week %s: %d, want %d", tz, row.Cohort.Format("2006-01-02"), row.Period.Format("2006-01-02"), row.Users, want)
		}
		if size := uint64(len(active[[2]time.Time{row.Cohort, row.Cohort}])); row.CohortSize != size {
			t.Errorf("%q retention cohort %s: size %d, want %d", tz, row.Cohort.Format("2006-01-02"), row.CohortSize, size)
		}
		if want > 0 {
			nonzero++
		}
		cells++
	}
	// The impact of 2026-04-03 on ChatGPT on WhatsApp: the treated and
	// control series' daily people and events are the zone's days.
	ires, err := query.Impact(ctx, s, query.ImpactRequest{Date: d("2026-04-03"), Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		Controls: []query.SeriesKey{{Assistant: "meta_ai"}}, BeforeDays: 14, AfterDays: 14, TZ: tz, Now: now, Freshness: &fr})
	if err != nil {
		t.Fatalf("%q impact: %v", tz, err)
	}
	if len(ires.Days) != 28 {
		t.Fatalf("%q impact: %d days, want 28", tz, len(ires.Days))
	}
	for _, day := range ires.Days {
		people := [2]map[uint64]bool{{}, {}}
		var events [2]float64
		for _, e := range evs {
			if !dayOf(e).Equal(day.Day) {
				continue
			}
			k := -1
			switch {
			case e.assistant == "chatgpt" && e.channel == "whatsapp":
				k = 0
			case e.assistant == "meta_ai":
				k = 1
			}
			if k >= 0 {
				people[k][e.user] = true
				events[k] += float64(e.count)
			}
		}
		for mi, want := range [][2]float64{{float64(len(people[0])), float64(len(people[1]))}, events} {
			if day.Treated[mi] != want[0] || day.Control[mi] != want[1] {
				t.Errorf("%q impact %s %s: treated %v control %v, want %v %v", tz, day.Day.Format("2006-01-02"), query.ImpactMetrics[mi],
					day.Treated[mi], day.Control[mi], want[0], want[1])
			}
			cells += 2
		}
	}
	if nonzero < 10 || cells < 600 {
		t.Errorf("%q: only %d cells compared (%d non-zero retention cells)", tz, cells, nonzero)
	}
}

func personPeriodTable(src string) bool {
	return strings.HasPrefix(src, "rollup_person_week") || strings.HasPrefix(src, "rollup_person_month")
}

func zonePersonPeriodTable(src string) bool {
	return src == "rollup_zone_person_week" || src == "rollup_zone_person_month"
}

// The per-person questions read tz from their URL like the series do (the
// dashboard's overlap and retention pages send the page's zone).
func TestPersonQuestionsParseTZ(t *testing.T) {
	v := map[string][]string{"tz": {"Asia/Kolkata"}}
	o, err := query.ParseOverlap(v)
	if err != nil || o.TZ != "Asia/Kolkata" {
		t.Errorf("overlap: tz %q, %v", o.TZ, err)
	}
	r, err := query.ParseRetention(v)
	if err != nil || r.TZ != "Asia/Kolkata" {
		t.Errorf("retention: tz %q, %v", r.TZ, err)
	}
	i, err := query.ParseImpact(map[string][]string{"tz": {"Asia/Kolkata"}, "date": {"2026-01-15"}, "assistant": {"chatgpt"}})
	if err != nil || i.TZ != "Asia/Kolkata" {
		t.Errorf("impact: tz %q, %v", i.TZ, err)
	}
	if _, err := query.ParseOverlap(map[string][]string{"tz": {"Mars/Olympus"}}); err == nil {
		t.Error("overlap: an unknown zone accepted")
	}
}
