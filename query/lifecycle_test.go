package query_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// lifecycleWant computes a lifecycle in plain loops: per group and person
// the set of active periods and the first day ever (events up to to, from
// the data's start), then per period of [from, to] and group the four
// counts.
func lifecycleWant(evs []ev, loc *time.Location, iv string, from, to time.Time, by string, f map[string][]string) map[string][4]uint64 {
	type key struct {
		g string
		u uint64
	}
	day := func(e ev) time.Time {
		l := e.t.In(loc)
		return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
	}
	prev := func(p time.Time) time.Time {
		if iv == "month" {
			return p.AddDate(0, -1, 0)
		}
		return p.AddDate(0, 0, -7)
	}
	next := func(p time.Time) time.Time {
		if iv == "month" {
			return p.AddDate(0, 1, 0)
		}
		return p.AddDate(0, 0, 7)
	}
	active := map[key]map[time.Time]bool{}
	first := map[key]time.Time{}
	groups := map[string]bool{}
	for _, e := range evs {
		dy := day(e)
		if !matches(e, f) || dy.After(to) {
			continue
		}
		g := ""
		if by != "" {
			g = field(e, by)
		}
		k := key{g, e.user}
		if active[k] == nil {
			active[k] = map[time.Time]bool{}
		}
		active[k][gPeriod(dy, iv)] = true
		if fd, ok := first[k]; !ok || dy.Before(fd) {
			first[k] = dy
		}
		groups[g] = true
	}
	out := map[string][4]uint64{}
	for p := gPeriod(from, iv); !p.After(to); p = next(p) {
		for k, ps := range active {
			var c [4]uint64
			now, before := ps[p], ps[prev(p)]
			fp := gPeriod(first[k], iv)
			switch {
			case now && fp.Equal(p):
				c[0] = 1
			case now && before:
				c[1] = 1
			case now && fp.Before(p):
				c[2] = 1
			case !now && before:
				c[3] = 1
			}
			o := out[p.Format("2006-01-02")+"|"+k.g]
			for i := range c {
				o[i] += c[i]
			}
			out[p.Format("2006-01-02")+"|"+k.g] = o
		}
	}
	return out
}

// checkLifecycle compares every row of res with the loops, and that every
// non-zero expected cell has its row.
func checkLifecycle(t *testing.T, name string, res query.LifecycleResult, want map[string][4]uint64) int {
	t.Helper()
	seen := map[string]bool{}
	for _, row := range res.Rows {
		k := row.Period.Format("2006-01-02") + "|" + strings.Join(row.Dims, "|")
		seen[k] = true
		got := [4]uint64{row.New, row.Returning, row.Resurrecting, row.Dormant}
		if got != want[k] {
			t.Errorf("%s %s: new, returning, resurrecting, dormant = %v, want %v", name, k, got, want[k])
		}
		w := want[k]
		switch {
		case w[3] == 0 && row.QuickRatio != nil:
			t.Errorf("%s %s: quick ratio %v with nobody dormant", name, k, *row.QuickRatio)
		case w[3] > 0 && (row.QuickRatio == nil || *row.QuickRatio != float64(int((float64(w[0]+w[2])/float64(w[3]))*100+0.5))/100):
			t.Errorf("%s %s: quick ratio %v, want (%d+%d)/%d", name, k, row.QuickRatio, w[0], w[2], w[3])
		}
	}
	n := 0
	for k, w := range want {
		if w != [4]uint64{} {
			n++
			if !seen[k] {
				t.Errorf("%s %s: no row, want %v", name, k, w)
			}
		}
	}
	return n
}

// lifecycleStory are hand-made people on perplexity/web (an assistant the
// golden events do not use), whose weekly lifecycle is known:
//
//	101: active weeks of 2026-01-05 and 2026-01-19 (skips 2026-01-12):
//	     new, dormant, resurrecting, dormant;
//	102: active 2025-12-10 (before from) and 2026-01-13: resurrecting in
//	     2026-01-12, not new;
//	103: active every week 2026-01-05..2026-01-25: new, returning, returning, dormant (2026-01-26).
func lifecycleStory() []ev {
	at := func(day string, u uint64) ev {
		return ev{t: d(day).Add(13 * time.Hour), assistant: "perplexity", channel: "web", country: "FR", modality: "text", etype: "message", user: u, count: 1}
	}
	return []ev{
		at("2026-01-06", 101), at("2026-01-21", 101),
		at("2025-12-10", 102), at("2026-01-13", 102),
		at("2026-01-05", 103), at("2026-01-14", 103), at("2026-01-25", 103),
	}
}

func TestLifecycleGolden(t *testing.T) {
	ctx := context.Background()
	s := chtestStore(t)
	evs := append(goldenEvents(), lifecycleStory()...)
	insert(t, s, evs)
	now := d("2026-03-10")
	cases := []struct {
		iv, from, to, by string
		filters          map[string][]string
	}{
		{"week", "2026-01-05", "2026-02-22", "", nil},
		{"week", "2026-01-05", "2026-03-01", "assistant", nil},
		{"week", "2026-01-07", "2026-02-10", "channel", map[string][]string{"country": {"EG"}}},
		{"month", "2025-12-01", "2026-02-28", "assistant", map[string][]string{"channel": {"whatsapp", "web"}}},
		{"month", "2026-01-01", "2026-03-31", "", map[string][]string{"assistant": {"chatgpt"}}},
	}
	cells := 0
	for _, c := range cases {
		v := url.Values{"interval": {c.iv}, "from": {c.from}, "to": {c.to}}
		if c.by != "" {
			v.Set("by", c.by)
		}
		for k, vals := range c.filters {
			v[k] = vals
		}
		req, err := query.ParseLifecycle(v)
		if err != nil {
			t.Fatal(err)
		}
		req.Now = now
		res, err := query.Lifecycle(ctx, s, req)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if want := "rollup_person_" + v.Get("interval"); res.Source != want {
			t.Errorf("%v: read %s, want %s", v, res.Source, want)
		}
		// The data ends on 2026-02-28: later periods are absent.
		to := d(c.to)
		if to.After(d("2026-02-28")) {
			to = d("2026-02-28")
		}
		want := lifecycleWant(evs, time.UTC, c.iv, d(c.from), to, c.by, c.filters)
		if n := checkLifecycle(t, v.Encode(), res, want); n < 2 {
			t.Errorf("%v: only %d non-zero cells", v, n)
		}
		cells += len(res.Rows)
		for _, row := range res.Rows {
			if row.Period.After(d("2026-02-28")) {
				t.Errorf("%v: a row for %s, after the data's last day", v, row.Period.Format("2006-01-02"))
			}
			end := gPeriod(row.Period, c.iv).AddDate(0, 0, 6)
			if c.iv == "month" {
				end = row.Period.AddDate(0, 1, -1)
			}
			if wantDone := !end.After(d(c.to)) && !end.After(d("2026-02-28")); row.Complete != wantDone {
				t.Errorf("%v %s: complete %v, want %v", v, row.Period.Format("2006-01-02"), row.Complete, wantDone)
			}
		}
	}
	if cells < 50 {
		t.Errorf("only %d rows compared", cells)
	}

	// The story, read directly: perplexity by week.
	req, err := query.ParseLifecycle(url.Values{"interval": {"week"}, "from": {"2026-01-05"}, "to": {"2026-02-01"}, "assistant": {"perplexity"}})
	if err != nil {
		t.Fatal(err)
	}
	req.Now = now
	res, err := query.Lifecycle(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][4]uint64{}
	for _, row := range res.Rows {
		got[row.Period.Format("2006-01-02")] = [4]uint64{row.New, row.Returning, row.Resurrecting, row.Dormant}
	}
	story := map[string][4]uint64{
		// new, returning, resurrecting, dormant
		"2026-01-05": {2, 0, 0, 0}, // 101 and 103 new; 102 was last active in December
		"2026-01-12": {0, 1, 1, 1}, // 103 returning, 102 resurrecting (not new), 101 dormant
		"2026-01-19": {0, 1, 1, 1}, // 103 returning, 101 resurrecting, 102 dormant
		"2026-01-26": {0, 0, 0, 2}, // 101 and 103 dormant
	}
	for p, w := range story {
		if got[p] != w {
			t.Errorf("perplexity week %s: %v, want %v", p, got[p], w)
		}
	}
	if len(res.Rows) != 4 {
		t.Errorf("perplexity: %d rows, want 4", len(res.Rows))
	}
	if qr := res.Rows[0].QuickRatio; qr != nil {
		t.Errorf("week 2026-01-05: quick ratio %v with nobody dormant, want null", *qr)
	}
	if qr := res.Rows[1].QuickRatio; qr == nil || *qr != 1 {
		t.Errorf("week 2026-01-12: quick ratio %v, want (0+1)/1", qr)
	}

	// CSV holds the same rows and digits as JSON.
	var jb, cb bytes.Buffer
	req, _ = query.ParseLifecycle(url.Values{"interval": {"week"}, "from": {"2026-01-05"}, "to": {"2026-02-22"}, "by": {"assistant"}, "country": {"FR"}})
	req.Now = now
	res, err = query.Lifecycle(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := query.WriteLifecycleJSON(&jb, res); err != nil {
		t.Fatal(err)
	}
	if err := query.WriteLifecycleCSV(&cb, res); err != nil {
		t.Fatal(err)
	}
	compareLifecycleCSVJSON(t, jb.Bytes(), cb.Bytes(), "assistant")
}

// compareLifecycleCSVJSON checks that a lifecycle's CSV and JSON hold the
// same rows, in the same order, with the same digits.
func compareLifecycleCSVJSON(t *testing.T, js, cs []byte, by string) {
	t.Helper()
	var doc struct {
		Source string           `json:"source"`
		Rows   []map[string]any `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("JSON: %v\n%s", err, js)
	}
	recs, err := csv.NewReader(bytes.NewReader(cs)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	head := strings.Join(recs[0], ",")
	wantHead := "period," + by + ",new,returning,resurrecting,dormant,quick_ratio,complete,tz,filter_country"
	if head != wantHead {
		t.Errorf("CSV header %q, want %q", head, wantHead)
	}
	if len(recs)-1 != len(doc.Rows) || len(doc.Rows) < 10 {
		t.Fatalf("CSV %d rows, JSON %d", len(recs)-1, len(doc.Rows))
	}
	for i, row := range doc.Rows {
		str := func(k string) string {
			switch x := row[k].(type) {
			case nil:
				return ""
			case json.Number:
				return x.String()
			case bool:
				return strconv.FormatBool(x)
			case string:
				return x
			}
			return fmt.Sprint(row[k])
		}
		got := []string{str("period"), str(by), str("new"), str("returning"), str("resurrecting"), str("dormant"), str("quick_ratio"), str("complete"), "UTC", "FR"}
		if strings.Join(got, ",") != strings.Join(recs[i+1], ",") {
			t.Errorf("row %d: JSON %v, CSV %v", i, got, recs[i+1])
		}
	}
}

// TestLifecycleZones: in a built zone the lifecycle reads the zone's
// person-days, in another zone raw events, and both equal the loops over
// the events' days in that zone (Asia/Kolkata moves events after 18:30 UTC
// to the next day, and so some across weeks and months).
func TestLifecycleZones(t *testing.T) {
	ctx := context.Background()
	s := chtest.NewStore(t)
	b := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata"}}, chtest.Logger())
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	evs := append(goldenEvents(), lifecycleStory()...)
	sendEvents(t, s, "z-", evs)
	if _, err := b.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	now := d("2026-03-10")
	fr, err := query.Freshness(ctx, s, now)
	if err != nil {
		t.Fatal(err)
	}
	if !fr.ZoneBuilt("Asia/Kolkata") {
		t.Fatalf("Asia/Kolkata not built: %v", fr.Zones)
	}
	raw := fr
	raw.Zones = nil
	loc, _ := time.LoadLocation("Asia/Kolkata")
	for _, c := range []struct{ iv, from, to, by string }{
		{"week", "2026-01-05", "2026-02-22", "assistant"},
		{"month", "2025-12-01", "2026-02-28", "channel"},
	} {
		want := lifecycleWant(evs, loc, c.iv, d(c.from), d(c.to), c.by, nil)
		var answers []string
		for _, x := range []struct {
			fr     *query.DataFreshness
			source string
		}{{&fr, "rollup_zone_person_" + c.iv}, {&raw, "events"}} {
			req, err := query.ParseLifecycle(url.Values{"interval": {c.iv}, "from": {c.from}, "to": {c.to}, "by": {c.by}, "tz": {"Asia/Kolkata"}})
			if err != nil {
				t.Fatal(err)
			}
			req.Now, req.Freshness = now, x.fr
			res, err := query.Lifecycle(ctx, s, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Source != x.source {
				t.Errorf("%s: read %s, want %s", c.iv, res.Source, x.source)
			}
			if n := checkLifecycle(t, "Asia/Kolkata "+c.iv+" "+x.source, res, want); n < 5 {
				t.Errorf("%s: only %d non-zero cells", c.iv, n)
			}
			var buf bytes.Buffer
			_ = query.WriteLifecycleCSV(&buf, res)
			answers = append(answers, buf.String())
		}
		if answers[0] != answers[1] {
			t.Errorf("%s: the zone's rollup and raw events differ:\n%s\n%s", c.iv, answers[0], answers[1])
		}
		// The zone's days differ from UTC's somewhere, or the test
		// proves nothing.
		utc := lifecycleWant(evs, time.UTC, c.iv, d(c.from), d(c.to), c.by, nil)
		if fmt.Sprint(sortedCells(utc)) == fmt.Sprint(sortedCells(want)) {
			t.Errorf("%s: Asia/Kolkata's lifecycle equals UTC's", c.iv)
		}
	}
}

func sortedCells(m map[string][4]uint64) []string {
	var out []string
	for k, v := range m {
		if v != [4]uint64{} {
			out = append(out, fmt.Sprint(k, v))
		}
	}
	sort.Strings(out)
	return out
}

func TestParseLifecycle(t *testing.T) {
	for _, c := range []struct{ q, param string }{
		{"interval=day", "interval"},
		{"interval=year", "interval"},
		{"by=country", "by"},
		{"by=assistant,channel", "by"},
		{"modality=text", "modality"},
		{"tz=Mars/Olympus", "tz"},
		{"from=2026-13-01", "from"},
	} {
		v, _ := url.ParseQuery(c.q)
		_, err := query.ParseLifecycle(v)
		pe, ok := err.(*query.ParamError)
		if !ok || pe.Param != c.param {
			t.Errorf("%s: %v, want an error naming %s", c.q, err, c.param)
		}
	}
	r, err := query.ParseLifecycle(url.Values{"interval": {"month"}, "by": {"channel"}, "range": {"90d"}, "assistant": {"chatgpt"}, "tz": {"Europe/Paris"}})
	if err != nil {
		t.Fatal(err)
	}
	back, err := query.ParseLifecycle(r.Values())
	if err != nil || back.Interval != query.Month || back.Range != query.Range90d || back.TZ != "Europe/Paris" ||
		len(back.By) != 1 || back.By[0] != query.DimChannel || back.Filters.Assistants[0] != "chatgpt" {
		t.Errorf("Values did not read back: %+v %v", back, err)
	}
}
