package query_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// impactEvents: 2026-01-01..2026-02-28, people on chatgpt/whatsapp (who
// leave it from 2026-02-01 with probability 0.6), chatgpt/ios, chatgpt/web
// and meta_ai/whatsapp, several events a day, random times.
func impactEvents() []ev {
	r := rand.New(rand.NewPCG(7, 7))
	var out []ev
	series := []struct {
		a, c   string
		people int
		p      float64
	}{{"chatgpt", "whatsapp", 120, 0.5}, {"chatgpt", "ios", 200, 0.45}, {"chatgpt", "web", 150, 0.4}, {"meta_ai", "whatsapp", 100, 0.5}}
	user := uint64(1000)
	for _, s := range series {
		for p := 0; p < s.people; p++ {
			user++
			leaves := s.c == "whatsapp" && s.a == "chatgpt" && r.Float64() < 0.6
			for day := d("2026-01-01"); !day.After(d("2026-02-28")); day = day.AddDate(0, 0, 1) {
				if leaves && !day.Before(d("2026-02-01")) {
					continue
				}
				if r.Float64() > s.p {
					continue
				}
				for n := 1 + r.IntN(3); n > 0; n-- {
					out = append(out, ev{t: day.Add(time.Duration(r.IntN(86400)) * time.Second), assistant: s.a, channel: s.c,
						country: "FR", modality: "text", etype: "message", user: user, count: uint32(1 + r.IntN(2))})
				}
			}
		}
	}
	return out
}

// dailyGolden counts, in a plain loop, the distinct people and the events
// of (a, c) on each day of [from, to].
func dailyGolden(evs []ev, a, c string, from, to time.Time) (users, events []float64) {
	n := int(to.Sub(from).Hours()/24) + 1
	seen := make([]map[uint64]bool, n)
	users, events = make([]float64, n), make([]float64, n)
	for _, e := range evs {
		if e.assistant != a || e.channel != c {
			continue
		}
		i := int(e.day().Sub(from).Hours() / 24)
		if i < 0 || i >= n {
			continue
		}
		if seen[i] == nil {
			seen[i] = map[uint64]bool{}
		}
		if !seen[i][e.user] {
			seen[i][e.user] = true
			users[i]++
		}
		events[i] += float64(e.count)
	}
	return users, events
}

func meanOf(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestImpactThroughClickHouse(t *testing.T) {
	s := chtestStore(t)
	evs := impactEvents()
	insert(t, s, evs)
	ctx := context.Background()
	// The clock stands at noon on the last stored day: that day is not
	// complete and must not be read.
	now := time.Date(2026, 2, 28, 12, 0, 0, 0, time.UTC)
	date := d("2026-02-01")
	res, err := query.Impact(ctx, s, query.ImpactRequest{Date: date, Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		BeforeDays: 28, AfterDays: 60, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Proposed || len(res.Controls) != 2 || res.Controls[0] != (query.SeriesKey{Assistant: "chatgpt", Channel: "ios"}) ||
		res.Controls[1] != (query.SeriesKey{Assistant: "chatgpt", Channel: "web"}) {
		t.Fatalf("proposed controls %v, want chatgpt:ios and chatgpt:web (the same assistant's other channels)", res.Controls)
	}
	if res.BeforeFrom != d("2026-01-04") || res.BeforeTo != d("2026-01-31") || res.AfterFrom != date || res.AfterTo != d("2026-02-27") {
		t.Fatalf("windows %v..%v, %v..%v; want 2026-01-04..2026-01-31 and 2026-02-01..2026-02-27 (the last complete day)",
			res.BeforeFrom, res.BeforeTo, res.AfterFrom, res.AfterTo)
	}
	from, to := d("2026-01-04"), d("2026-02-27")
	tu, te := dailyGolden(evs, "chatgpt", "whatsapp", from, to)
	iu, ie := dailyGolden(evs, "chatgpt", "ios", from, to)
	wu, we := dailyGolden(evs, "chatgpt", "web", from, to)
	nb := 28
	for mi, m := range []struct {
		name       string
		tr, c1, c2 []float64
	}{{"active_users", tu, iu, wu}, {"events", te, ie, we}} {
		ctrl := make([]float64, len(m.tr))
		for i := range ctrl {
			ctrl[i] = m.c1[i] + m.c2[i]
		}
		scale := meanOf(m.tr[:nb]) / meanOf(ctrl[:nb])
		cf := scale * meanOf(ctrl[nb:])
		effect := meanOf(m.tr[nb:]) - cf
		got := res.Estimates[mi]
		if string(got.Metric) != m.name {
			t.Fatalf("estimate %d is %s, want %s", mi, got.Metric, m.name)
		}
		if math.Abs(got.Effect-effect) > 1e-6 || math.Abs(got.Counterfactual-cf) > 1e-6 {
			t.Errorf("%s: effect %v counterfactual %v, want %v and %v (computed from the inserted events)", m.name, got.Effect, got.Counterfactual, effect, cf)
		}
		if !(got.Low < got.Effect && got.Effect < got.High) || got.High >= 0 {
			t.Errorf("%s: interval %v..%v around %v: want an interval below 0 (60 %% of the treated people left)", m.name, got.Low, got.High, got.Effect)
		}
		for i, day := range res.Days {
			if day.Treated[mi] != m.tr[i] || day.Control[mi] != ctrl[i] {
				t.Fatalf("%s day %s: treated %v control %v, want %v and %v", m.name, day.Day.Format("2006-01-02"), day.Treated[mi], day.Control[mi], m.tr[i], ctrl[i])
			}
		}
		t.Logf("%s: %s", m.name, query.ImpactSummary(got))
	}
	if len(res.Days) != 55 {
		t.Errorf("%d days, want 55 (28 before, 27 complete after)", len(res.Days))
	}

	// Chosen controls; a control that shares events with the treated
	// series is refused.
	res2, err := query.Impact(ctx, s, query.ImpactRequest{Date: date, Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		Controls: []query.SeriesKey{{Assistant: "meta_ai", Channel: "whatsapp"}}, BeforeDays: 28, AfterDays: 28, Now: now})
	if err != nil || res2.Proposed || len(res2.Estimates) != 2 {
		t.Fatalf("chosen control: %v, %+v", err, res2.Controls)
	}
	_, err = query.Impact(ctx, s, query.ImpactRequest{Date: date, Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		Controls: []query.SeriesKey{{Assistant: "chatgpt"}}, BeforeDays: 28, AfterDays: 28, Now: now})
	var pe *query.ParamError
	if !errors.As(err, &pe) || pe.Param != "control" {
		t.Errorf("overlapping control: got %v, want a control parameter error", err)
	}

	// Too few complete days after the date: refused with a message.
	_, err = query.Impact(ctx, s, query.ImpactRequest{Date: d("2026-02-20"), Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		BeforeDays: 28, AfterDays: 28, Now: now})
	var re *query.ImpactRefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "only 8 complete days from 2026-02-20") || re.HTTPStatus() != 422 {
		t.Errorf("short after window: got %v", err)
	}
	_, err = query.Impact(ctx, s, query.ImpactRequest{Date: d("2026-01-10"), Treated: query.SeriesKey{Assistant: "chatgpt", Channel: "whatsapp"},
		BeforeDays: 28, AfterDays: 28, Now: now})
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "only 9 complete days of data before 2026-01-10") {
		t.Errorf("short before window: got %v", err)
	}
}

func TestParseImpact(t *testing.T) {
	for _, c := range []struct {
		q    string
		want string // error substring; empty: valid
	}{
		{"date=2026-01-15&assistant=chatgpt&channel=whatsapp", ""},
		{"annotation=abc_1", ""},
		{"date=2026-01-15&assistant=chatgpt&control=chatgpt:ios,*:web", ""},
		{"assistant=chatgpt", "parameter date is required"},
		{"date=2026-01-15", "parameter assistant is required"},
		{"date=15-01-2026&assistant=chatgpt", "want a date YYYY-MM-DD"},
		// A date outside the bounds is refused by the date rule, not
		// taken for a missing one (it said "date is required").
		{"date=0001-01-01&assistant=chatgpt", `date "0001-01-01": want a date from 2000-01-01 to 2100-12-31`},
		{"date=9999-12-31&assistant=chatgpt", `date "9999-12-31": want a date from 2000-01-01 to 2100-12-31`},
		{"date=2026-01-15&assistant=chatgpt&control=ios", "want assistant:channel"},
		{"date=2026-01-15&assistant=chatgpt&control=*:*", "name an assistant, a channel or both"},
		{"date=2026-01-15&assistant=chatgpt&after_days=7", "after_days=\"7\" is invalid: want a whole number from 14 to 366"},
		{"date=2026-01-15&assistant=chatgpt,meta_ai", "one value"},
		{"date=2026-01-15&assistant=chatgpt&rows=all", "want summary"},
	} {
		v, _ := url.ParseQuery(c.q)
		_, err := query.ParseImpact(v)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.q, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.q, err, c.want)
		}
	}
}
