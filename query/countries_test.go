package query_test

import (
	"context"
	"math"
	"net/url"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/rollup"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// TestCountriesCountsPeoplePerCountry: the distinct people per country in
// a slice, counted in plain loops over the test's events; the slice's
// country filter does not narrow the list it is chosen from.
func TestCountriesCountsPeoplePerCountry(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()
	for _, c := range []struct {
		name, assistant, channel string
		from, to                 string
	}{
		{"everything", "", "", "2025-12-01", "2026-02-28"},
		{"chatgpt on whatsapp, January", "chatgpt", "whatsapp", "2026-01-01", "2026-01-31"},
		{"copilot, the empty gap", "copilot", "", "2026-01-20", "2026-01-22"},
	} {
		t.Run(c.name, func(t *testing.T) {
			people := map[string]map[uint64]bool{}
			for _, e := range evs {
				day := e.day().Format("2006-01-02")
				if day < c.from || day > c.to || (c.assistant != "" && e.assistant != c.assistant) || (c.channel != "" && e.channel != c.channel) || e.country == "" {
					continue
				}
				if people[e.country] == nil {
					people[e.country] = map[uint64]bool{}
				}
				people[e.country][e.user] = true
			}
			v := url.Values{"from": {c.from}, "to": {c.to}, "country": {"FR"}}
			if c.assistant != "" {
				v.Set("assistant", c.assistant)
			}
			if c.channel != "" {
				v.Set("channel", c.channel)
			}
			if _, err := query.ParseCountries(v, d("2025-12-01")); err == nil {
				t.Fatal("a country filter should be refused by the API's parser")
			}
			v.Del("country")
			sl, err := query.ParseCountries(v, d("2025-12-01"))
			if err != nil {
				t.Fatal(err)
			}
			sl.Filters.Countries = []string{"FR"} // ignored: the list is what a country filter picks from
			res, err := query.Countries(ctx, s, sl)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Countries) != len(people) {
				t.Fatalf("%d countries %+v, want %d", len(res.Countries), res.Countries, len(people))
			}
			for i, got := range res.Countries {
				if want := uint64(len(people[got.Code])); got.People != want {
					t.Errorf("%s: %d people, want %d", got.Code, got.People, want)
				}
				if got.Name != catalog.CountryName(got.Code) || got.Name == got.Code {
					t.Errorf("%s: name %q", got.Code, got.Name)
				}
				if i > 0 && res.Countries[i-1].People < got.People {
					t.Errorf("not sorted by people: %+v", res.Countries)
				}
			}
		})
	}
}

// TestCountryRanking: per country the people of the range, of the
// comparison window (20 days moved back by whole weeks: 21 days) and
// the change, and the share of its people on each assistant, counted in
// plain loops over the events' days in UTC and in Asia/Kolkata (built:
// the zone's person-level tables; Asia/Tokyo: raw events).
func TestCountryRanking(t *testing.T) {
	ctx := context.Background()
	s := chtest.NewStore(t)
	b := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata"}}, chtest.Logger())
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	evs := stickinessEvents()
	sendEvents(t, s, "cr-", evs)
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tz, source string }{{"", "rollup_person_day"}, {"Asia/Kolkata", "rollup_zone_person_day"}, {"Asia/Tokyo", "events"}} {
		v := url.Values{"from": {"2026-04-01"}, "to": {"2026-04-20"}, "compare": {"previous"}, "tz": {c.tz}}
		sl, err := query.ParseCountries(v, d("2026-03-01"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.CountryRanking(ctx, s, sl, d("2026-05-10"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Source != c.source {
			t.Errorf("%q: read %s, want %s", c.tz, res.Source, c.source)
		}
		if got := optDay(res.CompareFrom) + ".." + optDay(res.CompareTo); got != "2026-03-11..2026-03-30" {
			t.Errorf("%q: compared with %s, want 2026-03-11..2026-03-30", c.tz, got)
		}
		loc := time.UTC
		if c.tz != "" {
			loc, _ = time.LoadLocation(c.tz)
		}
		now, before := map[string]map[uint64]bool{}, map[string]map[uint64]bool{}
		on := map[string]map[uint64]bool{} // country|assistant
		add := func(m map[string]map[uint64]bool, k string, u uint64) {
			if m[k] == nil {
				m[k] = map[uint64]bool{}
			}
			m[k][u] = true
		}
		for _, e := range evs {
			l := e.t.In(loc)
			day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
			switch {
			case !day.Before(d("2026-04-01")) && !day.After(d("2026-04-20")):
				add(now, e.country, e.user)
				add(on, e.country+"|"+e.assistant, e.user)
			case !day.Before(d("2026-03-11")) && !day.After(d("2026-03-30")):
				add(before, e.country, e.user)
			}
		}
		if len(res.Countries) != len(now) || len(res.Assistants) != 3 {
			t.Fatalf("%q: %d countries, %v assistants; want %d, 3", c.tz, len(res.Countries), res.Assistants, len(now))
		}
		for _, got := range res.Countries {
			n, p := len(now[got.Code]), len(before[got.Code])
			if got.People != uint64(n) || got.Previous == nil || *got.Previous != uint64(p) {
				t.Errorf("%q %s: %d people, previous %v; want %d, %d", c.tz, got.Code, got.People, got.Previous, n, p)
			}
			if want := math.Round((float64(n)-float64(p))/float64(p)*10000) / 100; got.ChangePct == nil || *got.ChangePct != want {
				t.Errorf("%q %s: change %v, want %v", c.tz, got.Code, got.ChangePct, want)
			}
			for j, a := range res.Assistants {
				if want := math.Round(float64(len(on[got.Code+"|"+a]))/float64(n)*10000) / 100; got.SharePct[j] != want {
					t.Errorf("%q %s %s: share %v, want %v", c.tz, got.Code, a, got.SharePct[j], want)
				}
			}
		}
	}
}

func optDay(t time.Time) string { return t.Format("2006-01-02") }
