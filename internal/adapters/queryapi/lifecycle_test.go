package queryapi

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestLifecycleJSONAndCSV: GET /lifecycle answers per week and channel
// the new, returning, resurrecting and dormant people counted here by
// replaying queryServer's events in a loop (people change channel on day
// 40), the same rows in JSON and CSV; a bad interval or by is a 400
// naming the parameter.
func TestLifecycleJSONAndCSV(t *testing.T) {
	h, _ := queryServer(t, Deps{})
	as, cs := []string{"chatgpt", "meta_ai", "copilot"}, []string{"whatsapp", "ios", "web"}
	start := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	from, to := time.Date(2025, 12, 8, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 15, 0, 0, 0, 0, time.UTC)
	type key struct {
		c string
		u uint64
	}
	weeks := map[key]map[time.Time]bool{}
	first := map[key]time.Time{}
	weekOf := func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }
	for u := uint64(1); u <= 60; u++ {
		for day := 0; day < 80; day++ {
			if (u*31+uint64(day)*17)%5 > 1 {
				continue
			}
			for k := uint64(0); k < 1+(u+uint64(day))%3; k++ {
				d := start.AddDate(0, 0, day)
				if as[(u+k*uint64(day%2))%3] != "meta_ai" || d.After(to) {
					continue
				}
				kk := key{cs[(u/3+uint64(day/40))%3], u}
				if weeks[kk] == nil {
					weeks[kk] = map[time.Time]bool{}
				}
				weeks[kk][weekOf(d)] = true
				if f, ok := first[kk]; !ok || d.Before(f) {
					first[kk] = d
				}
			}
		}
	}
	want := map[string][4]int{}
	for w := from; !w.After(to); w = w.AddDate(0, 0, 7) {
		for k, ws := range weeks {
			c := want[w.Format("2006-01-02")+"|"+k.c]
			now, before := ws[w], ws[w.AddDate(0, 0, -7)]
			switch {
			case now && weekOf(first[k]).Equal(w):
				c[0]++
			case now && before:
				c[1]++
			case now:
				c[2]++
			case before:
				c[3]++
			}
			want[w.Format("2006-01-02")+"|"+k.c] = c
		}
	}
	q := "/api/v1/lifecycle?interval=week&by=channel&assistant=meta_ai&from=" + from.Format("2006-01-02") + "&to=" + to.Format("2006-01-02")
	jr := apiGet(h, q, "")
	cr := apiGet(h, q+"&format=csv", "")
	if jr.Code != 200 || cr.Code != 200 {
		t.Fatalf("status %d / %d: %s %s", jr.Code, cr.Code, jr.Body.String(), cr.Body.String())
	}
	var body struct {
		Interval, Source, TZ string
		By                   []string
		Rows                 []struct {
			Period, Channel                       string
			New, Returning, Resurrecting, Dormant int
			QuickRatio                            *float64 `json:"quick_ratio"`
			Complete                              bool
		}
	}
	if err := json.Unmarshal(jr.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Interval != "week" || body.Source != "rollup_person_week" || body.TZ != "UTC" || fmt.Sprint(body.By) != "[channel]" {
		t.Errorf("head %+v", body)
	}
	recs, err := csv.NewReader(strings.NewReader(cr.Body.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(body.Rows) != 10*3 || len(recs) != len(body.Rows)+1 {
		t.Fatalf("%d JSON rows, %d CSV rows; want 10 weeks x 3 channels", len(body.Rows), len(recs)-1)
	}
	if got := strings.Join(recs[0], ","); got != "period,channel,new,returning,resurrecting,dormant,quick_ratio,complete,tz,filter_assistant" {
		t.Errorf("CSV header %s", got)
	}
	moved := 0
	for i, r := range body.Rows {
		w := want[r.Period+"|"+r.Channel]
		if got := [4]int{r.New, r.Returning, r.Resurrecting, r.Dormant}; got != w {
			t.Errorf("%s %s: %v, want %v", r.Period, r.Channel, got, w)
		}
		moved += w[3]
		qr := ""
		if r.QuickRatio != nil {
			qr = fmt.Sprint(*r.QuickRatio)
		}
		if got := []string{r.Period, r.Channel, fmt.Sprint(r.New), fmt.Sprint(r.Returning), fmt.Sprint(r.Resurrecting), fmt.Sprint(r.Dormant), qr,
			fmt.Sprint(r.Complete), "UTC", "meta_ai"}; strings.Join(got, ",") != strings.Join(recs[i+1], ",") {
			t.Errorf("JSON %v, CSV %v", got, recs[i+1])
		}
	}
	if moved == 0 {
		t.Error("nobody dormant: the data proves nothing")
	}
	if name := cr.Header().Get("Content-Disposition"); !strings.Contains(name, "lifecycle_2025-12-08_2026-02-15.csv") {
		t.Errorf("CSV name %q", name)
	}
	for _, c := range []struct{ q, param string }{
		{"interval=day", "interval"},
		{"interval=quarter", "interval"},
		{"by=country", "by"},
		{"event_type=message", "event_type"},
	} {
		r := apiGet(h, "/api/v1/lifecycle?"+c.q, "")
		if r.Code != 400 || !strings.Contains(r.Body.String(), c.param) {
			t.Errorf("%s: %d %s, want 400 naming %s", c.q, r.Code, r.Body.String(), c.param)
		}
	}
}
