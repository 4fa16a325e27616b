package dashboard

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/views"
)

// impactEvents: ChatGPT on WhatsApp loses 8 people a day from 2026-01-14
// (the date); ChatGPT on iOS (the proposed control) and Meta AI on
// WhatsApp follow the same weekly-ish wiggle and do not change. It
// returns the events and the daily active people per series.
func impactEvents() ([]ev, map[string]map[string]float64) {
	counts := map[string]map[string]float64{}
	var out []ev
	add := func(d time.Time, a, c string, from, n uint64) {
		k := a + ":" + c
		if counts[k] == nil {
			counts[k] = map[string]float64{}
		}
		for u := from; u < from+n; u++ {
			out = append(out, ev{d, a, c, u, "text", false, "panel", time.Time{}})
		}
		counts[k][d.Format(catalog.DateLayout)] += float64(n)
	}
	i := 0
	for d := day("2025-12-17"); !d.After(day("2026-02-10")); d = d.AddDate(0, 0, 1) {
		w := uint64((i * 7) % 5)
		treated := 20 + w
		if !d.Before(day("2026-01-14")) {
			treated = 12 + w
		}
		add(d, "chatgpt", "whatsapp", 1, treated)
		add(d, "chatgpt", "ios", 100, 30+2*w)
		add(d, "meta_ai", "whatsapp", 300, 15+w)
		i++
	}
	return out, counts
}

// didByHand is the difference in differences of the window means: the
// treated series after the date minus the control's after mean scaled by
// the ratio of the before means.
func didByHand(counts map[string]map[string]float64, treated, control string, date time.Time, before, after int) float64 {
	mean := func(k string, from time.Time, n int) float64 {
		s := 0.0
		for i := range n {
			s += counts[k][from.AddDate(0, 0, i).Format(catalog.DateLayout)]
		}
		return s / float64(n)
	}
	tb, ta := mean(treated, date.AddDate(0, 0, -before), before), mean(treated, date, after)
	cb, ca := mean(control, date.AddDate(0, 0, -before), before), mean(control, date, after)
	return ta - tb/cb*ca
}

var firstNumber = regexp.MustCompile(`≈ ([−+]?)([0-9,]+)`)

// statedEffect reads the whole number a summary starts with.
func statedEffect(t *testing.T, s string) float64 {
	t.Helper()
	m := firstNumber.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no effect in %q", s)
	}
	n, err := strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] == "−" {
		n = -n
	}
	return n
}

// TestImpactPageStatesTheEffect: the Impact page states query.Impact's
// answer for its date and source, which is the difference in differences
// the test computes from the counts it inserted; the controls can be
// changed in the URL; a window too short is refused with its reason.
func TestImpactPageStatesTheEffect(t *testing.T) {
	evs, counts := impactEvents()
	app := newTestAppEvents(t, nil, evs, nil)
	date := day("2026-01-14")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	treated := query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"}
	for _, tc := range []struct {
		name, control string
		controls      []query.SeriesKey
		handControl   string
		proposed      bool
		warning       bool
	}{
		{"proposed", "", nil, "chatgpt:ios", true, true},
		{"chosen", "meta_ai:whatsapp", []query.SeriesKey{{Assistant: "meta_ai", Channel: "whatsapp"}}, "meta_ai:whatsapp", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := app.srv.URL + "/impact?date=2026-01-14&source_assistant=chatgpt&source_channel=whatsapp"
			if tc.control != "" {
				u += "&control=" + url.QueryEscape(tc.control)
			}
			resp, doc, _ := get(t, nil, u)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			req := query.ImpactRequest{Date: date, Treated: treated, Controls: tc.controls, BeforeDays: 28, AfterDays: 28, Now: testNow}
			res, err := query.Impact(ctx, app.store, req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Proposed != tc.proposed {
				t.Errorf("proposed %v, want %v", res.Proposed, tc.proposed)
			}
			users := strings.TrimSpace(doc.Find(tid("effect-users-effect")).Text())
			events := strings.TrimSpace(doc.Find(tid("effect-events-effect")).Text())
			if want := query.EffectSummary(res.Estimates[0]); users != want {
				t.Errorf("users: page says %q, query.Impact %q", users, want)
			}
			if want := query.EffectSummary(res.Estimates[1]); events != want {
				t.Errorf("events: page says %q, query.Impact %q", events, want)
			}
			if got, want := strings.TrimSpace(doc.Find(tid("effect-users-observed")).Text()), query.ObservedSummary(res.Estimates[0]); got != want {
				t.Errorf("observed: page says %q, query.Impact %q", got, want)
			}
			// The sanity value: the difference in differences by hand. Every
			// person has one event of count 2 a day, so events are twice
			// the people.
			hand := didByHand(counts, "chatgpt:whatsapp", tc.handControl, date, 28, 28)
			if math.Abs(res.Estimates[0].Effect-hand) > 1e-6 {
				t.Errorf("query.Impact effect %v, by hand %v", res.Estimates[0].Effect, hand)
			}
			if got := statedEffect(t, users); got != math.Round(hand) {
				t.Errorf("page states %v people a day, by hand %v", got, hand)
			}
			if got := statedEffect(t, events); got != math.Round(2*hand) {
				t.Errorf("page states %v events a day, by hand %v", got, 2*hand)
			}
			if e := res.Estimates[0]; !(e.Low <= hand && hand <= e.High) || e.High >= 0 {
				t.Errorf("interval %v to %v: want it around %v and below 0", e.Low, e.High, hand)
			}
			ctrl := doc.Find(tid("effect-controls")).Text()
			wantCtrl := map[bool]string{true: "the proposed controls", false: "the controls you chose"}[tc.proposed]
			if !strings.Contains(ctrl, wantCtrl) || !strings.Contains(ctrl, seriesLabel(res.Controls[0])) {
				t.Errorf("controls: %q, want %q and %s", ctrl, wantCtrl, seriesLabel(res.Controls[0]))
			}
			checked := doc.Find(tid("impact-control") + "[checked]")
			if checked.Length() != len(res.Controls) || checked.AttrOr("value", "") != res.Controls[0].String() {
				t.Errorf("%d checkboxes checked (%q), want %v", checked.Length(), checked.AttrOr("value", ""), res.Controls)
			}
			if n := doc.Find(tid("impact-control")).Length(); n != 2 {
				t.Errorf("%d control checkboxes, want 2 (ChatGPT on iOS, Meta AI on WhatsApp)", n)
			}
			if got := doc.Find(tid("effect-warning")).Length() > 0; got != tc.warning {
				t.Errorf("movers warning shown %v, want %v", got, tc.warning)
			}
			fit := doc.Find(tid("effect-fit")).First().Text()
			if !strings.Contains(fit, strconv.FormatFloat(res.Estimates[0].Fit.Correlation, 'f', 2, 64)) || !strings.Contains(fit, views.FormatPercent(res.Estimates[0].Fit.RMSEPct)) {
				t.Errorf("fit %q does not state correlation %v and gap %v", fit, res.Estimates[0].Fit.Correlation, res.Estimates[0].Fit.RMSEPct)
			}
			if !strings.Contains(doc.Find(tid("effect-caveat")).Text(), query.ImpactCaveat) {
				t.Error("no caveat")
			}
			want := "/api/v1/impact?" + req.Values().Encode() + "&format=csv"
			if got := doc.Find(tid("csv-impact")).AttrOr("href", ""); got != want {
				t.Errorf("CSV link %q, want %q", got, want)
			}
			r, err := http.Get(app.srv.URL + want)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Errorf("CSV: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
			}
			// The chart: the treated series solid, the counterfactual
			// dashed, the same numbers in its table.
			rows := doc.Find(tid("table-impact-counterfactual") + " tbody tr")
			if rows.Length() != len(res.Days) {
				t.Fatalf("%d chart rows, want %d days", rows.Length(), len(res.Days))
			}
			first := rows.First().Find("td")
			if got, want := first.Eq(0).Text(), views.FormatInt(res.Days[0].Treated[0]); got != want {
				t.Errorf("first day treated %q, want %q", got, want)
			}
			if got, want := first.Eq(1).Text(), views.FormatInt(res.Days[0].Counterfactual[0]); got != want {
				t.Errorf("first day counterfactual %q, want %q", got, want)
			}
			opts := doc.Find("#impact-counterfactual-options").Text()
			if !strings.Contains(opts, `"dashed"`) || !strings.Contains(opts, "2026-01-14") {
				t.Error("the counterfactual is not dashed or the date not marked")
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		_, doc, _ := get(t, nil, app.srv.URL+"/impact?date=2026-02-05&source_assistant=chatgpt&source_channel=whatsapp")
		_, err := query.Impact(ctx, app.store, query.ImpactRequest{Date: day("2026-02-05"), Treated: treated, BeforeDays: 28, AfterDays: 28, Now: testNow})
		var refused *query.ImpactRefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("query.Impact: %v, want a refusal", err)
		}
		got := doc.Find(tid("impact-refused")).Text()
		if !strings.Contains(got, refused.Reason) {
			t.Errorf("refusal %q, want %q", got, refused.Reason)
		}
		if doc.Find(tid("effect-users")).Length() != 0 {
			t.Error("an estimate is stated although it was refused")
		}
	})

	t.Run("control overlapping the source", func(t *testing.T) {
		_, doc, _ := get(t, nil, app.srv.URL+"/impact?date=2026-01-14&source_assistant=chatgpt&source_channel=whatsapp&control=chatgpt:*")
		if got := doc.Find(tid("impact-refused")).Text(); !strings.Contains(got, "control") || !strings.Contains(got, "Use the proposed controls") {
			t.Errorf("refusal %q: want the control named and a way back to the proposed ones", got)
		}
	})
}

// TestImpactPageObservedFirstAndControlsWarning: the headline starts with
// the treated series' own change (its before and after means, counted
// here); when the proposed controls received the people who left it, the
// page warns and names controls the movers could not reach; "approximate"
// shows only while a day of the windows lacks its finals.
func TestImpactPageObservedFirstAndControlsWarning(t *testing.T) {
	var evs []ev
	counts := map[string]map[string]float64{}
	add := func(d time.Time, a, c string, u uint64) {
		evs = append(evs, ev{d, a, c, u, "text", false, "panel", time.Time{}})
		k := a + ":" + c
		if counts[k] == nil {
			counts[k] = map[string]float64{}
		}
		counts[k][d.Format(catalog.DateLayout)]++
	}
	i := 0
	for d := day("2025-12-17"); !d.After(day("2026-02-10")); d = d.AddDate(0, 0, 1) {
		for u := uint64(1); u <= 100; u++ {
			if (int(u)+i)%5 == 0 {
				continue
			}
			switch {
			case u <= 30 && !d.Before(day("2026-01-14")) && u <= 24:
				add(d, "chatgpt", "ios", u) // moved
			case u <= 30:
				add(d, "chatgpt", "whatsapp", u)
			case u <= 60:
				add(d, "chatgpt", "ios", u)
			default:
				add(d, "meta_ai", "web", u)
			}
		}
		i++
	}
	app := newTestAppEvents(t, nil, evs, nil)
	mean := func(k string, from time.Time, n int) float64 {
		s := 0.0
		for j := range n {
			s += counts[k][from.AddDate(0, 0, j).Format(catalog.DateLayout)]
		}
		return s / float64(n)
	}
	date := day("2026-01-14")
	before, after := mean("chatgpt:whatsapp", date.AddDate(0, 0, -28), 28), mean("chatgpt:whatsapp", date, 28)
	u := app.srv.URL + "/impact?date=2026-01-14&source_assistant=chatgpt&source_channel=whatsapp"
	_, doc, _ := get(t, nil, u)
	obs := strings.TrimSpace(doc.Find(tid("effect-users-observed")).Text())
	want := views.FormatInt(before) + " → " + views.FormatInt(after) + " people a day (" + fmtSigned(after-before)
	if !strings.HasPrefix(obs, want) {
		t.Errorf("observed %q, want it to start %q", obs, want)
	}
	w := doc.Find(tid("effect-controls-warning")).Text()
	if !strings.Contains(w, "rose by "+fmtSigned(mean("chatgpt:ios", date, 28)-mean("chatgpt:ios", date.AddDate(0, 0, -28), 28))) || !strings.Contains(w, seriesLabel(query.SeriesKey{Assistant: "meta_ai", Channel: "web"})) {
		t.Errorf("controls warning %q: want the rise of the controls and Meta AI on Web suggested", w)
	}
	approx := func() bool {
		_, doc, _ := get(t, nil, u)
		return strings.Contains(doc.Find(tid("impact-effect")).Text(), "approximate")
	}
	if !approx() {
		t.Error("no finals computed yet, but the page does not say approximate")
	}
	if _, err := rollup.Finalize(context.Background(), app.store, 1000); err != nil {
		t.Fatal(err)
	}
	if approx() {
		t.Error("every day is final, but the page says approximate")
	}
	// With Meta AI on Web as the control: no warning.
	_, doc, _ = get(t, nil, u+"&control=meta_ai:web")
	if doc.Find(tid("effect-controls-warning")).Length() != 0 {
		t.Errorf("controls warning against Meta AI on Web: %q", doc.Find(tid("effect-controls-warning")).Text())
	}
}
