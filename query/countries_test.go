package query_test

import (
	"context"
	"net/url"
	"testing"

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
