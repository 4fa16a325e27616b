package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
)

// moverEvents: 2026-01-01..2026-02-28. 60 people on chatgpt/whatsapp, of
// whom the first 45 leave it on 2026-02-01 and move to chatgpt/ios; 50
// others on chatgpt/ios; 40 on meta_ai/web. Person p is active on day i
// unless (p+i)%4 == 0, with 1 + (p+i)%3 events.
func moverEvents() []ev {
	var out []ev
	add := func(day time.Time, a, c string, user uint64, i int) {
		out = append(out, ev{t: day.Add(time.Duration(user%20) * time.Hour), assistant: a, channel: c, country: "FR", modality: "text",
			etype: "message", user: user, count: uint32(1 + (int(user)+i)%3)})
	}
	i := 0
	for day := d("2026-01-01"); !day.After(d("2026-02-28")); day = day.AddDate(0, 0, 1) {
		for p := uint64(1); p <= 150; p++ {
			if (int(p)+i)%4 == 0 {
				continue
			}
			switch {
			case p <= 60:
				if p <= 45 && !day.Before(d("2026-02-01")) {
					add(day, "chatgpt", "ios", p, i)
				} else {
					add(day, "chatgpt", "whatsapp", p, i)
				}
			case p <= 110:
				add(day, "chatgpt", "ios", p, i)
			default:
				add(day, "meta_ai", "web", p, i)
			}
		}
		i++
	}
	return out
}

// TestImpactObservedAndControlsWarning: the answer states the treated
// series' own before and after means, and warns when the controls rose
// while it fell (the movers went to the controls), suggesting controls the
// movers could not reach; with such controls there is no warning.
func TestImpactObservedAndControlsWarning(t *testing.T) {
	s := chtestStore(t)
	evs := moverEvents()
	insert(t, s, evs)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	date := d("2026-02-01")
	treated := query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"}
	res, err := query.Impact(ctx, s, query.ImpactRequest{Date: date, Treated: treated, BeforeDays: 28, AfterDays: 28, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Controls) != 1 || res.Controls[0] != (query.SeriesKey{Assistant: "chatgpt", Channel: "ios"}) {
		t.Fatalf("proposed controls %v, want chatgpt:ios", res.Controls)
	}
	from := d("2026-01-04")
	tu, te := dailyGolden(evs, "chatgpt", "whatsapp", from, d("2026-02-28"))
	cu, _ := dailyGolden(evs, "chatgpt", "ios", from, d("2026-02-28"))
	for mi, tr := range [][]float64{tu, te} {
		before, after := meanOf(tr[:28]), meanOf(tr[28:56])
		e := res.Estimates[mi]
		if math.Abs(e.TreatedBefore-before) > 1e-9 || math.Abs(e.TreatedAfter-after) > 1e-9 {
			t.Errorf("%s: observed %v → %v, want %v → %v (plain loops over the inserted events)", e.Metric, e.TreatedBefore, e.TreatedAfter, before, after)
		}
	}
	e := res.Estimates[0]
	before, after := meanOf(tu[:28]), meanOf(tu[28:56])
	// The headline states the observed change first, then the effect.
	want := query.ObservedSummary(e)
	if sum := query.ImpactSummary(e); !strings.HasPrefix(sum, want+"; against the controls ≈ ") {
		t.Errorf("summary %q, want it to start with the observed change %q", sum, want)
	}
	wantObs := thousandsOf(before) + " → " + thousandsOf(after) + " people a day (−" + thousandsOf(before-after) + ", −"
	if !strings.HasPrefix(want, wantObs) {
		t.Errorf("observed summary %q, want it to start %q", want, wantObs)
	}
	// The effect against the rising controls is larger than the whole
	// observed loss: that is what the warning is for.
	if !(e.Effect < after-before) {
		t.Errorf("effect %v, want it beyond the observed change %v (the controls rose)", e.Effect, after-before)
	}
	w := res.ControlsWarning
	if w == nil {
		t.Fatal("no controls warning, want one: the controls rose while the treated series fell")
	}
	cb, ca := meanOf(cu[:28]), meanOf(cu[28:56])
	if w.Metric != query.ActiveUsers || math.Abs(w.ControlsChange-(ca-cb)) > 1e-9 || math.Abs(w.TreatedChange-(after-before)) > 1e-9 || !(ca > cb) {
		t.Errorf("warning %+v, want active_users, controls change %v, treated %v", w, ca-cb, after-before)
	}
	if len(w.Suggested) != 1 || w.Suggested[0] != (query.SeriesKey{Assistant: "meta_ai", Channel: "web"}) || !strings.Contains(w.Message, "control=meta_ai:web") {
		t.Errorf("suggested %v (%s), want meta_ai:web: another assistant on another channel", w.Suggested, w.Message)
	}
	var b bytes.Buffer
	if err := query.WriteImpactJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Warning *struct {
			ControlsChange float64           `json:"controls_change"`
			Suggested      []query.SeriesKey `json:"suggested_controls"`
			Message        string            `json:"message"`
		} `json:"controls_warning"`
		Estimates []struct {
			Observed struct {
				Before float64 `json:"before_mean"`
				After  float64 `json:"after_mean"`
				Change float64 `json:"change"`
			} `json:"observed"`
		} `json:"estimates"`
	}
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if o := out.Estimates[0].Observed; math.Abs(o.Before-before) > 0.005 || math.Abs(o.After-after) > 0.005 || math.Abs(o.Change-(after-before)) > 0.005 {
		t.Errorf("JSON observed %+v, want %v → %v", o, before, after)
	}
	if out.Warning == nil || math.Abs(out.Warning.ControlsChange-(ca-cb)) > 0.005 || len(out.Warning.Suggested) != 1 {
		t.Errorf("JSON controls_warning %+v", out.Warning)
	}

	// Controls the movers could not reach: no warning.
	res, err = query.Impact(ctx, s, query.ImpactRequest{Date: date, Treated: treated, Controls: []query.SeriesKey{{Assistant: "meta_ai", Channel: "web"}},
		BeforeDays: 28, AfterDays: 28, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.ControlsWarning != nil {
		t.Errorf("warning %+v against meta_ai:web, which did not move", res.ControlsWarning)
	}
	b.Reset()
	if err := query.WriteImpactJSON(&b, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"controls_warning":null`) {
		t.Errorf("JSON without a warning: want controls_warning null")
	}
}

// thousandsOf rounds x and groups its digits by three with commas.
func thousandsOf(x float64) string {
	s := []byte(strings.TrimPrefix(jsonInt(math.Round(math.Abs(x))), "-"))
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func jsonInt(x float64) string {
	b, _ := json.Marshal(int64(x))
	return string(b)
}

// TestImpactApproximateOnlyWithoutFinals: "approximate" is false when
// every day of the windows has its current finals, true before they are
// computed and again once a day of the windows receives a late event.
func TestImpactApproximateOnlyWithoutFinals(t *testing.T) {
	s := chtestStore(t)
	evs := moverEvents()
	insert(t, s, evs)
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	req := query.ImpactRequest{Date: d("2026-02-01"), Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		Controls: []query.SeriesKey{{Assistant: "meta_ai", Channel: "web"}, {Assistant: "meta_ai"}}, BeforeDays: 28, AfterDays: 28, Now: now}
	res, err := query.Impact(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Approximate {
		t.Errorf("approximate false before any finals were computed")
	}
	if _, err := rollup.Finalize(ctx, s, 1000); err != nil {
		t.Fatal(err)
	}
	res, err = query.Impact(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Approximate {
		t.Errorf("approximate true although every day of the windows is final")
	}
	// The finals read the same people as the loops.
	tu, _ := dailyGolden(evs, "chatgpt", "whatsapp", d("2026-01-04"), d("2026-02-28"))
	for i, day := range res.Days {
		if day.Treated[0] != tu[i] {
			t.Fatalf("%s: %v people, want %v", day.Day.Format("2006-01-02"), day.Treated[0], tu[i])
		}
	}
	// A late event on a day of the after window: that day's finals are
	// out of date until the next Finalize.
	insert(t, s, []ev{{t: d("2026-02-10").Add(time.Hour), assistant: "meta_ai", channel: "web", country: "FR", modality: "text", etype: "message", user: 9999, count: 1}})
	res, err = query.Impact(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Approximate {
		t.Errorf("approximate false although 2026-02-10 received an event after its finals")
	}
}
