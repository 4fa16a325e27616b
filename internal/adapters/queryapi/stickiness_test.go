package queryapi

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestStickinessJSONAndCSV: GET /stickiness answers, per whole 7-day
// window and assistant, the people active on each number of days, counted
// here by replaying queryServer's events in a loop; the same rows in JSON
// and CSV; a bad window or by is a 400 naming the parameter.
func TestStickinessJSONAndCSV(t *testing.T) {
	h, _ := queryServer(t, Deps{})
	as := []string{"chatgpt", "meta_ai", "copilot"}
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	from, to := time.Date(2025, 12, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 20, 0, 0, 0, 0, time.UTC)
	n := (int(to.Sub(from).Hours()/24) + 1) / 7 // whole windows back from to
	type key struct {
		end string
		a   string
		u   uint64
	}
	days := map[key]map[int]bool{}
	for u := uint64(1); u <= 60; u++ {
		for day := 0; day < 80; day++ {
			if (u*31+uint64(day)*17)%5 > 1 {
				continue
			}
			d := start.AddDate(0, 0, day)
			back := int(to.Sub(d).Hours() / 24)
			if back < 0 || back >= n*7 {
				continue
			}
			for k := uint64(0); k < 1+(u+uint64(day))%3; k++ {
				kk := key{to.AddDate(0, 0, -(back/7)*7).Format("2006-01-02"), as[(u+k*uint64(day%2))%3], u}
				if days[kk] == nil {
					days[kk] = map[int]bool{}
				}
				days[kk][day] = true
			}
		}
	}
	want := map[string]int{}
	for k, ds := range days {
		want[fmt.Sprintf("%s|%s|%d", k.end, k.a, len(ds))]++
	}
	q := "/api/v1/stickiness?window=7&by=assistant&from=" + from.Format("2006-01-02") + "&to=" + to.Format("2006-01-02")
	jr := apiGet(h, q, "")
	cr := apiGet(h, q+"&format=csv", "")
	if jr.Code != 200 || cr.Code != 200 {
		t.Fatalf("status %d / %d: %s %s", jr.Code, cr.Code, jr.Body.String(), cr.Body.String())
	}
	var body struct {
		Window    int
		Source    string
		PowerDays int `json:"power_days"`
		Rows      []struct {
			WindowEnd  string `json:"window_end"`
			Assistant  string
			DaysActive int `json:"days_active"`
			People     int
			SharePct   float64 `json:"share_pct"`
		}
	}
	if err := json.Unmarshal(jr.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Window != 7 || body.Source != "rollup_person_day" || body.PowerDays != 5 {
		t.Errorf("head %+v", body)
	}
	recs, err := csv.NewReader(strings.NewReader(cr.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(body.Rows) != n*3*7 || len(recs) != len(body.Rows)+1 {
		t.Fatalf("%d JSON rows, %d CSV rows; want %d windows x 3 assistants x 7 buckets", len(body.Rows), len(recs)-1, n)
	}
	if got := strings.Join(recs[0], ","); got != "window_start,window_end,assistant,days_active,people,share_pct,tz" {
		t.Errorf("CSV header %s", got)
	}
	nonzero := 0
	for i, r := range body.Rows {
		w := want[fmt.Sprintf("%s|%s|%d", r.WindowEnd, r.Assistant, r.DaysActive)]
		if r.People != w {
			t.Errorf("%s %s %d days: %d people, want %d", r.WindowEnd, r.Assistant, r.DaysActive, r.People, w)
		}
		if w > 0 {
			nonzero++
		}
		if recs[i+1][1] != r.WindowEnd || recs[i+1][2] != r.Assistant || recs[i+1][4] != fmt.Sprint(r.People) {
			t.Errorf("JSON %+v, CSV %v", r, recs[i+1])
		}
	}
	if nonzero < 20 {
		t.Errorf("only %d non-zero buckets: the data proves little", nonzero)
	}
	for _, c := range []struct{ q, param string }{
		{"window=14", "window"},
		{"by=channel", "by"},
		{"modality=voice", "modality"},
	} {
		r := apiGet(h, "/api/v1/stickiness?"+c.q, "")
		if r.Code != 400 || !strings.Contains(r.Body.String(), c.param) {
			t.Errorf("%s: %d %s, want 400 naming %s", c.q, r.Code, r.Body.String(), c.param)
		}
	}
}
