package queryapi

import (
	"encoding/csv"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCountriesJSONAndCSV: GET /countries answers the people per country
// of the slice, counted here by replaying queryServer's events in a loop,
// the same in JSON and CSV, with names; a country filter is refused.
func TestCountriesJSONAndCSV(t *testing.T) {
	h, _ := queryServer(t, Deps{})
	// queryServer's events, person by person: the days each is active
	// with the assistant of each event.
	as, ks := []string{"chatgpt", "meta_ai", "copilot"}, []string{"EG", "FR"}
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	want := map[string]map[uint64]bool{}
	from, to := start.AddDate(0, 0, 10), start.AddDate(0, 0, 40)
	for u := uint64(1); u <= 60; u++ {
		for day := 0; day < 80; day++ {
			if (u*31+uint64(day)*17)%5 > 1 {
				continue
			}
			for k := uint64(0); k < 1+(u+uint64(day))%3; k++ {
				d := start.AddDate(0, 0, day)
				if as[(u+k*uint64(day%2))%3] != "meta_ai" || d.Before(from) || d.After(to) {
					continue
				}
				if want[ks[u%2]] == nil {
					want[ks[u%2]] = map[uint64]bool{}
				}
				want[ks[u%2]][u] = true
			}
		}
	}
	q := "/api/v1/countries?assistant=meta_ai&from=" + from.Format("2006-01-02") + "&to=" + to.Format("2006-01-02")
	jr := apiGet(h, q, "")
	cr := apiGet(h, q+"&format=csv", "")
	if jr.Code != 200 || cr.Code != 200 {
		t.Fatalf("status %d / %d: %s %s", jr.Code, cr.Code, jr.Body.String(), cr.Body.String())
	}
	var body struct {
		Days      string
		Countries []struct {
			Code, Name string
			People     uint64
		}
	}
	if err := json.Unmarshal(jr.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(cr.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(body.Countries) != len(want) || len(recs)-1 != len(want) || body.Days != "UTC" {
		t.Fatalf("JSON %+v, CSV %v; want %d countries", body, recs, len(want))
	}
	names := map[string]string{"EG": "Egypt", "FR": "France"}
	for i, c := range body.Countries {
		if c.People != uint64(len(want[c.Code])) || c.Name != names[c.Code] {
			t.Errorf("%s: %d people, name %q; want %d, %q", c.Code, c.People, c.Name, len(want[c.Code]), names[c.Code])
		}
		if r := recs[i+1]; r[0] != c.Code || r[1] != c.Name || r[2] != strconv.FormatUint(c.People, 10) {
			t.Errorf("CSV row %v, JSON %+v", r, c)
		}
	}
	if r := apiGet(h, q+"&country=FR", ""); r.Code != 400 || !strings.Contains(r.Body.String(), "country") {
		t.Errorf("a country filter: %d %s", r.Code, r.Body.String())
	}
}
