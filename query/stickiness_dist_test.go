package query_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// stickinessEvents: 60 people over 2026-03-01..2026-04-20, each active on
// a different number of days (person u on about u % 8 days of each week),
// at any second of the day, so zones move some across midnight.
func stickinessEvents() []ev {
	r := rand.New(rand.NewPCG(11, 3))
	var out []ev
	for u := 1; u <= 60; u++ {
		for day := d("2026-03-01"); day.Before(d("2026-04-21")); day = day.AddDate(0, 0, 1) {
			if r.IntN(7) >= u%8 {
				continue
			}
			for range 1 + r.IntN(2) {
				out = append(out, ev{t: day.Add(time.Duration(r.IntN(86400)) * time.Second), assistant: assistants[r.IntN(3)], channel: channels[r.IntN(3)],
					country: countries[r.IntN(2)], modality: modalities[0], etype: etypes[0], user: uint64(u), count: 1})
			}
		}
	}
	return out
}

// TestStickinessDistribution: the people per days-active bucket of each
// whole window, overall and by assistant, in UTC, in a built zone and in a
// zone without rollups, equal plain loops over the events' days; the
// windows end on the range's last complete day and never start before from.
func TestStickinessDistribution(t *testing.T) {
	ctx := context.Background()
	s := chtest.NewStore(t)
	b := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata"}}, chtest.Logger())
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	evs := stickinessEvents()
	sendEvents(t, s, "st-", evs)
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	now := d("2026-05-10")
	cells := 0
	for _, c := range []struct {
		tz, source string
		window     int
		by         string
		from, to   string
	}{
		{"", "rollup_person_day", 7, "", "2026-03-02", "2026-04-19"},
		{"", "rollup_person_day", 7, "assistant", "2026-03-04", "2026-04-18"},
		{"", "rollup_person_day", 28, "assistant", "2026-03-01", "2026-04-20"},
		{"Asia/Kolkata", "rollup_zone_person_day", 7, "assistant", "2026-03-02", "2026-04-19"},
		{"Asia/Tokyo", "events", 28, "", "2026-03-01", "2026-04-20"},
	} {
		v := url.Values{"window": {strconv.Itoa(c.window)}, "from": {c.from}, "to": {c.to}, "tz": {c.tz}}
		if c.by != "" {
			v.Set("by", c.by)
		}
		req, err := query.ParseStickiness(v)
		if err != nil {
			t.Fatal(err)
		}
		req.Now = now
		res, err := query.StickinessDistribution(ctx, s, req)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if res.Source != c.source {
			t.Errorf("%v: read %s, want %s", v, res.Source, c.source)
		}
		loc := time.UTC
		if c.tz != "" {
			loc, _ = time.LoadLocation(c.tz)
		}
		// The windows: back from to, whole ones inside [from, to].
		from, to := d(c.from), d(c.to)
		n := (int(to.Sub(from).Hours()/24) + 1) / c.window
		groups := 1
		if c.by != "" {
			groups = 3
		}
		if len(res.Rows) != n*groups*c.window || len(res.Windows) != n*groups {
			t.Fatalf("%v: %d rows, %d windows; want %d windows of %d groups", v, len(res.Rows), len(res.Windows), n, groups)
		}
		// days[window end|group][user] = set of days
		days := map[string]map[uint64]map[time.Time]bool{}
		for _, e := range evs {
			l := e.t.In(loc)
			day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
			if day.After(to) || day.Before(to.AddDate(0, 0, -n*c.window+1)) {
				continue
			}
			k := int(to.Sub(day).Hours()/24) / c.window
			g := ""
			if c.by != "" {
				g = e.assistant
			}
			key := to.AddDate(0, 0, -k*c.window).Format("2006-01-02") + "|" + g
			if days[key] == nil {
				days[key] = map[uint64]map[time.Time]bool{}
			}
			if days[key][e.user] == nil {
				days[key][e.user] = map[time.Time]bool{}
			}
			days[key][e.user][day] = true
		}
		for i, row := range res.Rows {
			if i > 0 && row.WindowEnd.Before(res.Rows[i-1].WindowEnd) {
				t.Errorf("%v: windows out of order", v)
			}
			if row.WindowStart.Before(from) || row.WindowEnd.After(to) || row.WindowEnd.Sub(row.WindowStart).Hours()/24 != float64(c.window-1) {
				t.Errorf("%v: window %s..%s", v, row.WindowStart.Format("2006-01-02"), row.WindowEnd.Format("2006-01-02"))
			}
			g := ""
			if c.by != "" {
				g = row.Dims[0]
			}
			set := days[row.WindowEnd.Format("2006-01-02")+"|"+g]
			var want, all uint64
			for _, ds := range set {
				all++
				if len(ds) == row.DaysActive {
					want++
				}
			}
			if row.People != want {
				t.Errorf("%v %s %s: %d people on %d days, want %d", v, row.WindowEnd.Format("2006-01-02"), g, row.People, row.DaysActive, want)
			}
			if all > 0 && math.Abs(row.SharePct-math.Round(float64(want)/float64(all)*10000)/100) > 1e-9 {
				t.Errorf("%v: share %v, want %v of %v", v, row.SharePct, want, all)
			}
			if want > 0 {
				cells++
			}
		}
		for _, sw := range res.Windows {
			g := ""
			if c.by != "" {
				g = sw.Dims[0]
			}
			var power uint64
			for _, ds := range days[sw.WindowEnd.Format("2006-01-02")+"|"+g] {
				if len(ds) >= query.PowerDays[c.window] {
					power++
				}
			}
			if sw.Power != power || sw.People != uint64(len(days[sw.WindowEnd.Format("2006-01-02")+"|"+g])) {
				t.Errorf("%v %s %s: %d power users of %d, want %d", v, sw.WindowEnd.Format("2006-01-02"), g, sw.Power, sw.People, power)
			}
		}
		// CSV and JSON carry the same rows.
		var jb, cb bytes.Buffer
		if err := query.WriteStickinessJSON(&jb, res); err != nil {
			t.Fatal(err)
		}
		if err := query.WriteStickinessCSV(&cb, res); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Rows []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal(jb.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&cb).ReadAll()
		if err != nil || len(recs) != len(doc.Rows)+1 {
			t.Fatalf("%v: CSV %d records, JSON %d rows (%v)", v, len(recs), len(doc.Rows), err)
		}
		for i, row := range doc.Rows {
			if p := strconv.FormatFloat(row["people"].(float64), 'f', -1, 64); recs[i+1][len(recs[i+1])-3] != p || recs[i+1][1] != row["window_end"] {
				t.Errorf("%v row %d: CSV %v, JSON %v", v, i, recs[i+1], row)
			}
		}
	}
	if cells < 60 {
		t.Errorf("only %d non-zero cells compared", cells)
	}
	if _, err := query.ParseStickiness(url.Values{"window": {"14"}}); err == nil {
		t.Error("window=14 accepted")
	}
	if _, err := query.ParseStickiness(url.Values{"by": {"channel"}}); err == nil {
		t.Error("by=channel accepted")
	}
}
