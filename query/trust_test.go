package query_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// fixedNow is a Wednesday afternoon inside the golden data: the week of
// 2026-02-09 has three days (two complete), February is not over.
var fixedNow = time.Date(2026, 2, 11, 14, 0, 0, 0, time.UTC)

func parseAt(t *testing.T, v url.Values, now time.Time) query.SeriesRequest {
	t.Helper()
	req, err := query.ParseSeries(v)
	if err != nil {
		t.Fatal(err)
	}
	req.Now = now
	return req
}

// usersBy counts distinct people per key of the events that pass keep.
func usersBy(evs []ev, keep func(ev) bool, key func(ev) string) map[string]float64 {
	sets := map[string]map[uint64]bool{}
	for _, e := range evs {
		if !keep(e) {
			continue
		}
		k := key(e)
		if sets[k] == nil {
			sets[k] = map[uint64]bool{}
		}
		sets[k][e.user] = true
	}
	out := map[string]float64{}
	for k, s := range sets {
		out[k] = float64(len(s))
	}
	return out
}

func between(e ev, from, to string) bool {
	day := e.day().Format("2006-01-02")
	return day >= from && day <= to
}

func TestCompletePeriods(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()

	// Weeks: 2026-02-16 has not begun at fixedNow: absent, not zero; the
	// week of 2026-02-09 is there (its days so far) and incomplete.
	req := parseAt(t, url.Values{"metric": {"active_users"}, "interval": {"week"}, "from": {"2026-01-26"}, "to": {"2026-02-22"}, "by": {"assistant"}}, fixedNow)
	res, err := query.Series(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	want := usersBy(evs, func(e ev) bool { return between(e, "2026-01-26", "2026-02-11") }, func(e ev) string {
		return gPeriod(e.day(), "week").Format("2006-01-02") + " " + e.assistant
	})
	if len(res.Rows) != 3*3 {
		t.Fatalf("%d rows, want 3 weeks x 3 assistants: %+v", len(res.Rows), res.Rows)
	}
	for _, r := range res.Rows {
		p := r.Period.Format("2006-01-02")
		if r.Value != want[p+" "+r.Dims[0]] {
			t.Errorf("week %s %s = %v, want %v", p, r.Dims[0], r.Value, want[p+" "+r.Dims[0]])
		}
		if wantComplete := p != "2026-02-09"; r.Complete != wantComplete {
			t.Errorf("week %s complete = %v, want %v", p, r.Complete, wantComplete)
		}
	}
	if got := res.LastCompleteDay.Format("2006-01-02"); got != "2026-02-10" {
		t.Errorf("last complete day %s, want 2026-02-10", got)
	}
	// The data through: the last stored event at or before now.
	var last time.Time
	for _, e := range evs {
		if !e.t.After(fixedNow) && e.t.After(last) {
			last = e.t
		}
	}
	if !res.Freshness.DataThrough.Equal(last.Truncate(time.Second)) {
		t.Errorf("data through %s, want %s", res.Freshness.DataThrough, last)
	}

	// Days: nothing after today; today is incomplete; the CSV says so.
	req = parseAt(t, url.Values{"metric": {"events"}, "from": {"2026-02-08"}, "to": {"2026-02-15"}}, fixedNow)
	var csv strings.Builder
	req.Freshness = &res.Freshness
	if err := query.WriteSeriesCSV(ctx, s, req, &csv); err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	for _, e := range evs {
		sums[e.day().Format("2006-01-02")] += float64(e.count)
	}
	wantCSV := "period,value,complete,tz\r\n"
	for _, day := range []string{"2026-02-08", "2026-02-09", "2026-02-10", "2026-02-11"} {
		wantCSV += day + "," + query.FormatNumber(sums[day]) + "," + map[bool]string{true: "true", false: "false"}[day != "2026-02-11"] + ",UTC\r\n"
	}
	if csv.String() != wantCSV {
		t.Errorf("CSV\n%q\nwant\n%q", csv.String(), wantCSV)
	}

	// Share and stickiness leave the incomplete week out unless
	// partial=include; the change against the previous week is not
	// computed for it.
	for _, tc := range []struct {
		metric, partial string
		weeks           int
	}{{"share", "", 2}, {"stickiness", "", 2}, {"share", "include", 3}, {"active_users", "", 3}} {
		v := url.Values{"metric": {tc.metric}, "interval": {"week"}, "from": {"2026-01-26"}, "to": {"2026-02-22"}, "compare": {"previous"}}
		if tc.partial != "" {
			v.Set("partial", tc.partial)
		}
		res, err := query.Series(ctx, s, parseAt(t, v, fixedNow))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != tc.weeks {
			t.Errorf("%s partial=%q: %d weeks, want %d", tc.metric, tc.partial, len(res.Rows), tc.weeks)
		}
		for _, r := range res.Rows {
			if !r.Complete && tc.partial == "" && r.ChangePct != nil {
				t.Errorf("%s: change %v against the previous week for the incomplete week", tc.metric, *r.ChangePct)
			}
			if !r.Complete && tc.partial == "include" && r.ChangePct == nil && *r.Previous != 0 {
				t.Errorf("%s partial=include: no change for the incomplete week", tc.metric)
			}
		}
	}

	// Data that ended before now: February is over at 2026-03-10 and
	// complete (its last stored day is over); March does not exist.
	later := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	res, err = query.Series(ctx, s, parseAt(t, url.Values{"metric": {"active_users"}, "interval": {"month"}, "from": {"2026-01-01"}, "to": {"2026-03-31"}}, later))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 2 || !res.Rows[0].Complete || !res.Rows[1].Complete {
		t.Errorf("months at 2026-03-10: %+v, want January and February, both complete", res.Rows)
	}
}

func TestKPIsOnFixedNow(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	res, err := query.KPIs(context.Background(), s, query.Filters{Channels: []string{"whatsapp", "web"}}, "", fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	onSlice := func(e ev) bool { return e.channel == "whatsapp" || e.channel == "web" }
	count := func(a, from, to string) float64 {
		return usersBy(evs, func(e ev) bool { return onSlice(e) && e.assistant == a && between(e, from, to) }, func(ev) string { return "" })[""]
	}
	sticky := func(a string, first time.Time) float64 {
		last := first.AddDate(0, 1, -1)
		sum, days := 0.0, 0
		for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
			sum += count(a, day.Format("2006-01-02"), day.Format("2006-01-02"))
			days++
		}
		mau := count(a, first.Format("2006-01-02"), last.Format("2006-01-02"))
		if mau == 0 {
			return 0
		}
		return math.Round(sum/float64(days)/mau*1e4) / 1e4
	}
	if len(res.Assistants) != 3 {
		t.Fatalf("%d assistants, want 3: %+v", len(res.Assistants), res.Assistants)
	}
	for _, k := range res.Assistants {
		a := k.Assistant
		for _, c := range []struct {
			name                 string
			got                  query.KPI
			from, to, pfrom, pto string
			value, previous      float64
		}{
			// A Tuesday against the Tuesday before, not the Monday.
			{"DAU", k.DAU, "2026-02-10", "2026-02-10", "2026-02-03", "2026-02-03", count(a, "2026-02-10", "2026-02-10"), count(a, "2026-02-03", "2026-02-03")},
			{"WAU", k.WAU, "2026-02-02", "2026-02-08", "2026-01-26", "2026-02-01", count(a, "2026-02-02", "2026-02-08"), count(a, "2026-01-26", "2026-02-01")},
			{"MAU", k.MAU, "2026-01-01", "2026-01-31", "2025-12-01", "2025-12-31", count(a, "2026-01-01", "2026-01-31"), count(a, "2025-12-01", "2025-12-31")},
			{"stickiness", k.Stickiness, "2026-01-01", "2026-01-31", "2025-12-01", "2025-12-31", sticky(a, d("2026-01-01")), sticky(a, d("2025-12-01"))},
		} {
			f := func(t time.Time) string { return t.Format("2006-01-02") }
			if f(c.got.From) != c.from || f(c.got.To) != c.to || f(c.got.PrevFrom) != c.pfrom || f(c.got.PrevTo) != c.pto {
				t.Errorf("%s %s: period %s..%s / %s..%s, want %s..%s / %s..%s", a, c.name, f(c.got.From), f(c.got.To), f(c.got.PrevFrom), f(c.got.PrevTo), c.from, c.to, c.pfrom, c.pto)
			}
			if c.got.Value != c.value || c.got.Previous != c.previous {
				t.Errorf("%s %s = %v (previous %v), want %v (previous %v)", a, c.name, c.got.Value, c.got.Previous, c.value, c.previous)
			}
			if c.name == "stickiness" && c.previous == 0 {
				if c.got.ChangePP != nil || c.got.ChangePct != nil {
					t.Errorf("%s stickiness: nobody the month before, change %v pp", a, c.got.ChangePP)
				}
			} else if c.name == "stickiness" {
				// A ratio changes in percentage points.
				want := math.Round((c.value-c.previous)*100*100) / 100
				if c.got.ChangePP == nil || *c.got.ChangePP != want || c.got.ChangePct != nil {
					t.Errorf("%s %s change %v pp (pct %v), want %v pp", a, c.name, c.got.ChangePP, c.got.ChangePct, want)
				}
			} else if c.previous != 0 {
				want := math.Round((c.value-c.previous)/c.previous*100*100) / 100
				if c.got.ChangePct == nil || *c.got.ChangePct != want || c.got.ChangePP != nil {
					t.Errorf("%s %s change %v, want %v", a, c.name, c.got.ChangePct, want)
				}
			}
		}
	}
}

// TestShareUnderAssistantFilter: Meta AI's share of WhatsApp is against
// every assistant on WhatsApp, also when the filter shows Meta AI alone.
func TestShareUnderAssistantFilter(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	for _, v := range []url.Values{
		{"metric": {"share"}, "interval": {"week"}, "from": {"2026-01-05"}, "to": {"2026-02-01"}, "by": {"assistant"}, "channel": {"whatsapp"}, "assistant": {"meta_ai"}},
		{"metric": {"share"}, "interval": {"week"}, "from": {"2026-01-05"}, "to": {"2026-02-01"}, "by": {"assistant", "channel"}, "share_of": {"channel"}, "channel": {"whatsapp"}, "assistant": {"meta_ai"}, "exact": {"true"}},
		{"metric": {"share"}, "interval": {"day"}, "from": {"2026-01-05"}, "to": {"2026-01-18"}, "by": {"assistant"}, "channel": {"whatsapp"}, "assistant": {"meta_ai"}},
	} {
		iv := v.Get("interval")
		res, err := query.Series(context.Background(), s, parseAt(t, v, time.Time{}))
		if err != nil {
			t.Fatal(err)
		}
		period := func(e ev) string { return gPeriod(e.day(), iv).Format("2006-01-02") }
		inRange := func(e ev) bool { return e.channel == "whatsapp" && between(e, v.Get("from"), v.Get("to")) }
		all := usersBy(evs, inRange, period)
		meta := usersBy(evs, func(e ev) bool { return inRange(e) && e.assistant == "meta_ai" }, period)
		if len(res.Rows) == 0 {
			t.Fatalf("%s: no rows", v.Encode())
		}
		below100 := false
		for _, r := range res.Rows {
			if r.Dims[0] != "meta_ai" {
				t.Errorf("%s: row for %v: the filter chooses the lines", v.Encode(), r.Dims)
			}
			p := r.Period.Format("2006-01-02")
			want := 0.0
			if all[p] > 0 {
				want = math.Round(meta[p]/all[p]*100*100) / 100
			}
			if r.Value != want {
				t.Errorf("%s: %s share %v, want %v (%v of %v)", v.Encode(), p, r.Value, want, meta[p], all[p])
			}
			below100 = below100 || r.Value < 100
		}
		if !below100 {
			t.Errorf("%s: every share is 100 %%: the filter shrank the whole", v.Encode())
		}
	}
}

func TestMigrationBaselineAndObservedDays(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	ctx := context.Background()
	for _, tc := range []struct{ baseline, want string }{{"", "2025-12-07"}, {"2026-01-04", "2026-01-04"}} {
		v := url.Values{"assistant": {"chatgpt"}, "channel": {"web"}, "date": {"2026-02-01"}, "before_days": {"14"}, "after_days": {"14"}}
		if tc.baseline != "" {
			v.Set("baseline", tc.baseline)
		}
		req, err := query.ParseMigration(v)
		if err != nil {
			t.Fatal(err)
		}
		res, err := query.Migration(ctx, s, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Baseline == nil || res.Baseline.Date.Format("2006-01-02") != tc.want {
			t.Fatalf("baseline %+v, want date %s", res.Baseline, tc.want)
		}
		cohort, linked, outcomes, linkedBy, _ := goldenMigrationLinked(evs, "chatgpt", "web", d(tc.want), 14, 14)
		b := query.MigrationResult{Cohort: res.Baseline.Cohort, Linked: res.Baseline.Linked, Outcomes: res.Baseline.Outcomes}
		checkMigration(t, "baseline "+tc.want, b, cohort, linked, outcomes, linkedBy)
		if !res.Complete || res.ObservedDays != 14 || !res.Baseline.Complete {
			t.Errorf("complete windows reported incomplete: %+v", res)
		}
		// Every baseline destination is in the result's list too (0 users
		// when only the baseline has it), before inactive.
		keys := map[string]bool{}
		for _, o := range res.Outcomes {
			keys[query.OutcomeKey(o)] = true
		}
		for _, o := range res.Baseline.Outcomes {
			if !keys[query.OutcomeKey(o)] {
				t.Errorf("baseline outcome %+v missing from the result's rows", o)
			}
		}
	}

	// At fixedNow the window after 2026-02-01 has 10 complete days of 28:
	// the members without an event are not seen yet, not inactive.
	req, _ := query.ParseMigration(url.Values{"assistant": {"chatgpt"}, "channel": {"web"}, "date": {"2026-02-01"}, "baseline": {"none"}})
	req.Now = fixedNow
	res, err := query.Migration(ctx, s, req)
	if err != nil {
		t.Fatal(err)
	}
	_, _, outcomes, _, _ := goldenMigrationLinked(evs, "chatgpt", "web", d("2026-02-01"), 28, 28)
	last := res.Outcomes[len(res.Outcomes)-1]
	if res.Complete || res.ObservedDays != 10 || res.Baseline != nil {
		t.Errorf("observed %d days, complete %v, baseline %v; want 10, false, none", res.ObservedDays, res.Complete, res.Baseline)
	}
	if last.Outcome != query.OutcomeNotSeenYet || last.Users != outcomes["inactive"] {
		t.Errorf("last outcome %+v, want not_seen_yet with %d users", last, outcomes["inactive"])
	}
	for _, o := range res.Outcomes {
		if o.Outcome == query.OutcomeInactive {
			t.Errorf("inactive outcome while the window is not over: %+v", o)
		}
	}
}

func TestMigrationLaunch(t *testing.T) {
	s := chtestStore(t)
	at := func(day string, u uint64, a, c string, n uint32) ev {
		return ev{t: d(day).Add(9 * time.Hour), assistant: a, channel: c, country: "FR", modality: "text", etype: "message", user: u, count: n}
	}
	evs := []ev{
		// 1: came from ChatGPT on WhatsApp (largest sum before)
		at("2026-02-25", 1, "chatgpt", "whatsapp", 5), at("2026-02-26", 1, "chatgpt", "web", 2), at("2026-03-03", 1, "perplexity", "telegram", 1),
		// 2: new to everything
		at("2026-03-04", 2, "perplexity", "telegram", 1),
		// 3: seen on the channel long before: not acquired by the launch
		at("2026-01-02", 3, "perplexity", "telegram", 1), at("2026-03-05", 3, "perplexity", "telegram", 1),
		// 4: first seen after the window
		at("2026-03-20", 4, "perplexity", "telegram", 1),
	}
	insert(t, s, evs)
	req, _ := query.ParseMigration(url.Values{"assistant": {"perplexity"}, "channel": {"telegram"}, "date": {"2026-03-02"}, "before_days": {"7"}, "after_days": {"7"}})
	res, err := query.Migration(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Cohort != 0 || res.Launch == nil {
		t.Fatalf("cohort %d, launch %+v: want a launch", res.Cohort, res.Launch)
	}
	l := res.Launch
	if l.Acquired != 2 || len(l.Origins) != 2 ||
		l.Origins[0] != (query.MigrationOutcome{Outcome: query.OriginActiveBefore, Assistant: "chatgpt", Channel: "whatsapp", Users: 1}) ||
		l.Origins[1] != (query.MigrationOutcome{Outcome: query.OriginNew, Users: 1}) {
		t.Errorf("launch %+v, want 2 acquired: 1 from chatgpt/whatsapp, 1 new", l)
	}
}

func TestRetentionIncompletePeriods(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	req, err := query.ParseRetention(url.Values{"from": {"2026-01-05"}, "to": {"2026-02-22"}})
	if err != nil {
		t.Fatal(err)
	}
	req.Now = fixedNow
	res, err := query.Retention(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	// Weeks 01-05 .. 02-09: 6 cohorts, 21 cells; the week of 02-16 does
	// not exist yet.
	if len(res.Rows) != 21 {
		t.Errorf("%d rows, want 21", len(res.Rows))
	}
	for _, r := range res.Rows {
		p := r.Period.Format("2006-01-02")
		wantComplete, wantDays := p != "2026-02-09", 7
		if !wantComplete {
			wantDays = 2 // Monday and Tuesday are over
		}
		if r.Complete != wantComplete || r.ObservedDays != wantDays {
			t.Errorf("%s/%s complete %v observed %d, want %v and %d", r.Cohort.Format("2006-01-02"), p, r.Complete, r.ObservedDays, wantComplete, wantDays)
		}
	}
}

func TestDependencyOwnChannels(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	req, err := query.ParseDependency(url.Values{"interval": {"month"}, "from": {"2026-01-01"}, "to": {"2026-01-31"}, "country": {"EG"}})
	if err != nil {
		t.Fatal(err)
	}
	// Meta owns WhatsApp (the golden channels are android, web, whatsapp).
	res, err := query.Dependency(context.Background(), s, req)
	if err != nil {
		t.Fatal(err)
	}
	jan := func(e ev) bool { return e.country == "EG" && between(e, "2026-01-01", "2026-01-31") }
	all := usersBy(evs, jan, func(e ev) string { return e.assistant })
	dep := usersBy(evs, func(e ev) bool { return jan(e) && e.channel == "whatsapp" && e.assistant != "meta_ai" }, func(e ev) string { return e.assistant })
	if len(res.Rows) != 3 {
		t.Fatalf("rows %+v", res.Rows)
	}
	for _, r := range res.Rows {
		wantPct := math.Round(dep[r.Assistant]/all[r.Assistant]*100*100) / 100
		if float64(r.Users) != all[r.Assistant] || float64(r.DependentUsers) != dep[r.Assistant] || r.Pct != wantPct || !r.Complete {
			t.Errorf("%s: %d of %d = %v%%, want %v of %v = %v%%", r.Assistant, r.DependentUsers, r.Users, r.Pct, dep[r.Assistant], all[r.Assistant], wantPct)
		}
		if r.Assistant == "meta_ai" && r.DependentUsers != 0 {
			t.Errorf("Meta AI depends on its maker's WhatsApp: %+v", r)
		}
		// Only on WhatsApp: every one of the person's January events on
		// this assistant came through WhatsApp, Meta's channel.
		onlyWA := 0.0
		channels := map[uint64]map[string]bool{}
		for _, e := range evs {
			if jan(e) && e.assistant == r.Assistant {
				if channels[e.user] == nil {
					channels[e.user] = map[string]bool{}
				}
				channels[e.user][e.channel] = true
			}
		}
		for _, cs := range channels {
			if len(cs) == 1 && cs["whatsapp"] && r.Assistant != "meta_ai" {
				onlyWA++
			}
		}
		wantOnly := math.Round(onlyWA/all[r.Assistant]*100*100) / 100
		if float64(r.OnlyDependentUsers) != onlyWA || r.OnlyPct != wantOnly {
			t.Errorf("%s: only on others' channels %d (%v%%), want %v (%v%%)", r.Assistant, r.OnlyDependentUsers, r.OnlyPct, onlyWA, wantOnly)
		}
		wantOwners := "Meta=" + fmt.Sprint(onlyWA) + " Telegram=0"
		if r.Assistant == "meta_ai" {
			wantOwners = "Telegram=0"
		}
		var got []string
		for _, o := range r.OnlyOn {
			got = append(got, o.Owner+"="+fmt.Sprint(o.Users))
		}
		if strings.Join(got, " ") != wantOwners {
			t.Errorf("%s: only on %v, want %s", r.Assistant, got, wantOwners)
		}
		if onlyWA == 0 && r.Assistant != "meta_ai" {
			t.Errorf("%s: the fixture has nobody only on WhatsApp; the test checks nothing", r.Assistant)
		}
	}
	for _, a := range res.Assistants {
		want := "instagram,messenger,telegram,whatsapp"
		if a.Assistant == "meta_ai" {
			want = "telegram" // Meta's own WhatsApp, Messenger and Instagram are not
		}
		if strings.Join(a.Channels, ",") != want {
			t.Errorf("%s dependent channels %v, want %q", a.Assistant, a.Channels, want)
		}
	}
}

func TestCheckKnown(t *testing.T) {
	reg := catalog.Registry{}
	err := query.CheckKnown(reg, query.Filters{Assistants: []string{"chatgpt", "bard"}})
	var pe *query.ParamError
	if !errors.As(err, &pe) || pe.HTTPStatus() != 400 || err.Error() != `unknown assistant "bard" (known: chatgpt, copilot, meta_ai, perplexity)` {
		t.Errorf("CheckKnown(bard) = %v", err)
	}
	for _, f := range []query.Filters{{Channels: []string{"fax"}}, {EventTypes: []string{"click"}}, {Modalities: []string{"video"}}} {
		if err := query.CheckKnown(reg, f); err == nil || !strings.Contains(err.Error(), "known:") {
			t.Errorf("CheckKnown(%+v) = %v, want the known values", f, err)
		}
	}
	if err := query.CheckKnown(reg, query.Filters{Assistants: []string{"meta_ai"}, Channels: []string{"whatsapp"}, Countries: []string{"FR"}}); err != nil {
		t.Errorf("known values refused: %v", err)
	}
}
