package query_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// The expected answers below are computed from the events in plain loops,
// without the package's SQL or helpers.

func field(e ev, dim string) string {
	switch dim {
	case "assistant":
		return e.assistant
	case "channel":
		return e.channel
	case "country":
		return e.country
	case "modality":
		return e.modality
	case "event_type":
		return e.etype
	}
	panic(dim)
}

func matches(e ev, f map[string][]string) bool {
	for dim, vals := range f {
		ok := false
		for _, v := range vals {
			if field(e, dim) == v {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func gPeriod(day time.Time, iv string) time.Time {
	switch iv {
	case "week":
		for day.Weekday() != time.Monday {
			day = day.AddDate(0, 0, -1)
		}
	case "month":
		day = time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return day
}

type gRow struct {
	period string
	dims   []string
	value  float64
}

type gReq struct {
	metric, interval string
	from, to         time.Time
	by               []string
	filters          map[string][]string
	shareOf          []string
	tz               *time.Location
}

func (g gReq) dayOf(e ev) time.Time {
	if g.tz == nil {
		return e.day()
	}
	l := e.t.In(g.tz)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

func key(e ev, by []string) string {
	var parts []string
	for _, b := range by {
		parts = append(parts, field(e, b))
	}
	return strings.Join(parts, "\x00")
}

func golden(evs []ev, g gReq) []gRow {
	by := g.by
	if g.metric == "modality_mix" {
		found := false
		for _, b := range by {
			found = found || b == "modality"
		}
		if !found {
			by = append(append([]string(nil), by...), "modality")
		}
	}
	in := func(day time.Time) bool { return !day.Before(g.from) && !day.After(g.to) }
	type pk struct{ p, g string }
	groups := map[string]bool{}
	users := map[pk]map[uint64]bool{}
	dau := map[pk]map[uint64]bool{} // by day
	sums := map[pk]float64{}
	first := map[string]time.Time{} // group + user
	whole := map[pk]map[uint64]bool{}
	add := func(m map[pk]map[uint64]bool, k pk, u uint64) {
		if m[k] == nil {
			m[k] = map[uint64]bool{}
		}
		m[k][u] = true
	}
	for _, e := range evs {
		if !matches(e, g.filters) {
			continue
		}
		day := g.dayOf(e)
		gk := key(e, by)
		fk := gk + "\x01" + fmt.Sprint(e.user)
		if !day.After(g.to) {
			if f, ok := first[fk]; !ok || day.Before(f) {
				first[fk] = day
			}
		}
		if !in(day) {
			continue
		}
		groups[gk] = true
		p := gPeriod(day, g.interval).Format("2006-01-02")
		add(users, pk{p, gk}, e.user)
		add(dau, pk{day.Format("2006-01-02"), gk}, e.user)
		add(whole, pk{p, key(e, g.shareOf)}, e.user)
		sums[pk{p, gk}] += float64(e.count)
	}
	newUsers := map[pk]float64{}
	for fk, f := range first {
		if in(f) {
			gk := strings.SplitN(fk, "\x01", 2)[0]
			newUsers[pk{gPeriod(f, g.interval).Format("2006-01-02"), gk}]++
		}
	}
	var gl []string
	for k := range groups {
		gl = append(gl, k)
	}
	sort.Strings(gl)
	if len(by) == 0 {
		gl = []string{""}
	}
	var out []gRow
	for p := gPeriod(g.from, g.interval); !p.After(g.to); {
		next := p.AddDate(0, 0, 1)
		if g.interval == "week" {
			next = p.AddDate(0, 0, 7)
		} else if g.interval == "month" {
			next = p.AddDate(0, 1, 0)
		}
		ps := p.Format("2006-01-02")
		for _, gk := range gl {
			var v float64
			switch g.metric {
			case "active_users":
				v = float64(len(users[pk{ps, gk}]))
			case "events", "modality_mix":
				v = sums[pk{ps, gk}]
			case "new_users":
				v = newUsers[pk{ps, gk}]
			case "stickiness":
				sum, days := 0, 0
				for day := p; day.Before(next); day = day.AddDate(0, 0, 1) {
					if in(day) {
						days++
						sum += len(dau[pk{day.Format("2006-01-02"), gk}])
					}
				}
				if n := len(users[pk{ps, gk}]); n > 0 {
					v = math.Round(float64(sum)/float64(days)/float64(n)*1e4) / 1e4
				}
			case "share":
				var sk []string
				parts := strings.Split(gk, "\x00")
				for _, s := range g.shareOf {
					for i, b := range by {
						if b == s {
							sk = append(sk, parts[i])
						}
					}
				}
				if n := len(whole[pk{ps, strings.Join(sk, "\x00")}]); n > 0 {
					v = math.Round(float64(len(users[pk{ps, gk}]))/float64(n)*100*100) / 100
				}
			}
			var dims []string
			if len(by) > 0 {
				dims = strings.Split(gk, "\x00")
			}
			out = append(out, gRow{ps, dims, v})
		}
		p = next
	}
	return out
}

func (g gReq) values() url.Values {
	// partial=include: every period of the range, also those the range
	// cuts (the default leaves incomplete share and stickiness periods out;
	// TestCompletePeriods checks that).
	v := url.Values{"metric": {g.metric}, "interval": {g.interval},
		"from": {g.from.Format("2006-01-02")}, "to": {g.to.Format("2006-01-02")}, "partial": {"include"}}
	if len(g.by) > 0 {
		v.Set("by", strings.Join(g.by, ","))
	}
	for k, vals := range g.filters {
		v.Set(k, strings.Join(vals, ","))
	}
	if len(g.shareOf) > 0 {
		v.Set("share_of", strings.Join(g.shareOf, ","))
	}
	if g.tz != nil {
		v.Set("tz", g.tz.String())
	}
	return v
}

func compareRows(t *testing.T, name string, got []query.SeriesRow, want []gRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", name, len(got), len(want))
		return
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Period.Format("2006-01-02") != w.period || strings.Join(g.Dims, ",") != strings.Join(w.dims, ",") || g.Value != w.value {
			t.Errorf("%s: row %d = %s %v %v, want %s %v %v", name, i, g.Period.Format("2006-01-02"), g.Dims, g.Value, w.period, w.dims, w.value)
			return
		}
	}
}

func TestSeriesGolden(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()

	ranges := []struct{ from, to string }{
		{"2026-01-05", "2026-02-01"}, // whole ISO weeks
		{"2026-01-01", "2026-02-28"}, // whole months
		{"2026-01-07", "2026-02-10"}, // odd edges
	}
	slices := []struct {
		by      []string
		filters map[string][]string
		shareOf []string
	}{
		{nil, nil, nil},
		{[]string{"assistant", "channel"}, nil, []string{"channel"}},
		{[]string{"assistant"}, map[string][]string{"channel": {"whatsapp", "web"}, "country": {"EG"}}, nil},
		{[]string{"country", "modality"}, map[string][]string{"assistant": {"chatgpt"}, "event_type": {"message"}}, []string{"country"}},
	}
	n := 0
	for _, finalized := range []bool{false, true} {
		if finalized {
			days, err := rollup.Finalize(ctx, s, 10000)
			if err != nil || days < 80 {
				t.Fatalf("finalize: %d days, %v", days, err)
			}
		}
		for _, metric := range query.MetricNames() {
			for _, iv := range []string{"day", "week", "month"} {
				for _, rg := range ranges {
					for _, sl := range slices {
						for _, exact := range []bool{false, true} {
							g := gReq{metric: metric, interval: iv, from: d(rg.from), to: d(rg.to), by: sl.by, filters: sl.filters}
							if metric == "share" {
								g.shareOf = sl.shareOf
							}
							v := g.values()
							if exact {
								v.Set("exact", "true")
							}
							req, err := query.ParseSeries(v)
							if err != nil {
								t.Fatalf("parse %v: %v", v, err)
							}
							res, err := query.Series(ctx, s, req)
							if err != nil {
								t.Fatalf("%v: %v", v.Encode(), err)
							}
							compareRows(t, fmt.Sprintf("%s source=%s finalized=%v", v.Encode(), res.Source, finalized), res.Rows, golden(evs, g))
							n++
						}
					}
				}
			}
		}
	}
	t.Logf("%d series checked", n)
}

func TestSeriesGapsAreZero(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	req, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "from": {"2026-01-18"}, "to": {"2026-01-24"}, "by": {"assistant"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := query.Series(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	zeros := 0
	for _, r := range res.Rows {
		if p := r.Period.Format("2006-01-02"); p >= "2026-01-20" && p <= "2026-01-22" {
			if r.Value != 0 {
				t.Errorf("%s %v = %v, want 0 (no events that day)", p, r.Dims, r.Value)
			}
			zeros++
		}
	}
	if zeros != 3*3 {
		t.Errorf("%d zero rows in the gap, want 9 (3 days x 3 assistants)", zeros)
	}
}

func TestSeriesTimeZone(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	for _, zone := range []string{"Asia/Tokyo", "America/Los_Angeles"} {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Skipf("no tz data: %v", err)
		}
		for _, metric := range []string{"active_users", "events", "new_users"} {
			for _, iv := range []string{"day", "week"} {
				g := gReq{metric: metric, interval: iv, from: d("2026-01-05"), to: d("2026-02-01"), tz: loc}
				req, err := query.ParseSeries(g.values())
				if err != nil {
					t.Fatal(err)
				}
				res, err := query.Series(context.Background(), s, req)
				if err != nil {
					t.Fatal(err)
				}
				compareRows(t, g.values().Encode(), res.Rows, golden(evs, g))
			}
		}
	}
}

func TestSeriesComparePrevious(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	cases := []struct {
		iv, from, to, prevFrom, prevTo string
	}{
		{"day", "2026-02-01", "2026-02-14", "2026-01-18", "2026-01-31"},
		{"week", "2026-02-02", "2026-02-22", "2026-01-12", "2026-02-01"},
		{"month", "2026-02-01", "2026-02-28", "2026-01-01", "2026-01-31"},
	}
	for _, c := range cases {
		for _, metric := range []string{"active_users", "events"} {
			g := gReq{metric: metric, interval: c.iv, from: d(c.from), to: d(c.to), by: []string{"assistant"}}
			v := g.values()
			v.Set("compare", "previous")
			req, err := query.ParseSeries(v)
			if err != nil {
				t.Fatal(err)
			}
			res, err := query.Series(context.Background(), s, req)
			if err != nil {
				t.Fatal(err)
			}
			cur := golden(evs, g)
			pg := g
			pg.from, pg.to = d(c.prevFrom), d(c.prevTo)
			prev := golden(evs, pg)
			prevBy := map[string]float64{}
			periods := map[string]int{}
			for _, r := range prev {
				if _, ok := periods[r.period]; !ok {
					periods[r.period] = len(periods)
				}
				prevBy[fmt.Sprint(periods[r.period], r.dims)] = r.value
			}
			curIdx := map[string]int{}
			if len(res.Rows) != len(cur) {
				t.Fatalf("%s: %d rows, want %d", v.Encode(), len(res.Rows), len(cur))
			}
			for i, r := range res.Rows {
				p := r.Period.Format("2006-01-02")
				if _, ok := curIdx[p]; !ok {
					curIdx[p] = len(curIdx)
				}
				if r.Value != cur[i].value {
					t.Errorf("%s row %d value %v, want %v", v.Encode(), i, r.Value, cur[i].value)
				}
				want := prevBy[fmt.Sprint(curIdx[p], r.Dims)]
				if r.Previous == nil || *r.Previous != want {
					t.Errorf("%s row %d (%s %v) previous %v, want %v", v.Encode(), i, p, r.Dims, r.Previous, want)
					continue
				}
				if want == 0 {
					if r.ChangePct != nil {
						t.Errorf("change_pct with previous 0: %v", *r.ChangePct)
					}
				} else if r.ChangePct == nil || *r.ChangePct != math.Round((r.Value-want)/want*100*100)/100 {
					t.Errorf("%s row %d change_pct %v", v.Encode(), i, r.ChangePct)
				}
			}
		}
	}
}

// TestApproximateWithinTwoPercent: 130,000 people, 260,000 events in one
// month; monthly active users go through uniq states that sample beyond
// 65,536 people per state.
func TestApproximateWithinTwoPercent(t *testing.T) {
	s := chtestStore(t)
	const people = 130000
	var evs []ev
	for u := uint64(1); u <= people; u++ {
		a := assistants[u%3]
		for k := 0; k < 2; k++ {
			day := d("2026-01-01").AddDate(0, 0, int((u*7+uint64(k)*13)%31))
			evs = append(evs, ev{t: day.Add(time.Duration(u%86400) * time.Second), assistant: a, channel: "whatsapp", country: "EG",
				modality: "text", etype: "message", user: u*2654435761 + 17, count: 1})
		}
	}
	insert(t, s, evs)
	for _, c := range []struct {
		v    url.Values
		want func(gReq) []gRow
	}{
		{url.Values{"metric": {"active_users"}, "interval": {"month"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}}, nil},
		{url.Values{"metric": {"active_users"}, "interval": {"month"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}, "by": {"assistant"}}, nil},
		{url.Values{"metric": {"active_users"}, "interval": {"week"}, "from": {"2026-01-05"}, "to": {"2026-01-25"}}, nil},
		{url.Values{"metric": {"active_users"}, "interval": {"day"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}}, nil},
		{url.Values{"metric": {"share"}, "interval": {"month"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}, "by": {"assistant"}}, nil},
	} {
		req, err := query.ParseSeries(c.v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Series(context.Background(), s, req)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Approximate {
			t.Errorf("%s: expected the approximate rollup path, got %s", c.v.Encode(), res.Source)
		}
		var by []string
		if b := c.v.Get("by"); b != "" {
			by = strings.Split(b, ",")
		}
		want := golden(evs, gReq{metric: c.v.Get("metric"), interval: c.v.Get("interval"), from: d(c.v.Get("from")), to: d(c.v.Get("to")), by: by})
		if len(want) != len(res.Rows) {
			t.Fatalf("%s: %d rows, want %d", c.v.Encode(), len(res.Rows), len(want))
		}
		worst := 0.0
		for i, w := range want {
			if w.value == 0 {
				continue
			}
			e := math.Abs(res.Rows[i].Value-w.value) / w.value
			worst = math.Max(worst, e)
			if e > 0.02 {
				t.Errorf("%s: %s %v = %v, exact %v: error %.2f%% > 2%%", c.v.Encode(), w.period, w.dims, res.Rows[i].Value, w.value, e*100)
			}
		}
		t.Logf("%s: worst relative error %.3f%%", c.v.Encode(), worst*100)
	}
}

// TestFinalsFollowLateEvents: a finalized day that receives more events is
// answered from the states until the next Finalize, and is right both ways.
func TestFinalsFollowLateEvents(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()
	if _, err := rollup.Finalize(ctx, s, 10000); err != nil {
		t.Fatal(err)
	}
	var late []ev
	for i := uint64(0); i < 40; i++ {
		late = append(late, ev{t: d("2026-01-14").Add(time.Duration(i) * time.Minute), assistant: "chatgpt", channel: "whatsapp", country: "EG",
			modality: "text", etype: "message", user: 900000 + i%25, count: 1})
	}
	insert(t, s, late)
	all := append(append([]ev(nil), evs...), late...)
	check := func(stage string) {
		for _, g := range []gReq{
			{metric: "active_users", interval: "day", from: d("2026-01-10"), to: d("2026-01-20"), by: []string{"assistant", "channel"}},
			{metric: "active_users", interval: "day", from: d("2026-01-10"), to: d("2026-01-20"), by: []string{"assistant"}, filters: map[string][]string{"channel": {"whatsapp"}}},
			{metric: "share", interval: "day", from: d("2026-01-10"), to: d("2026-01-20"), by: []string{"assistant"}, filters: map[string][]string{"channel": {"whatsapp"}}},
			{metric: "stickiness", interval: "week", from: d("2026-01-05"), to: d("2026-01-25"), by: []string{"channel"}},
		} {
			for _, exact := range []string{"false", "true"} {
				v := g.values()
				v.Set("exact", exact)
				req, err := query.ParseSeries(v)
				if err != nil {
					t.Fatal(err)
				}
				res, err := query.Series(ctx, s, req)
				if err != nil {
					t.Fatal(err)
				}
				compareRows(t, stage+" "+v.Encode()+" "+res.Source, res.Rows, golden(all, g))
			}
		}
	}
	check("stale")
	n, err := rollup.Finalize(ctx, s, 10000)
	if err != nil || n != 1 {
		t.Fatalf("refinalize: %d days, %v; want 1 day (2026-01-14)", n, err)
	}
	check("refinalized")
}
