package alert

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// TestWeeklyChangeAgainstPreviousWeek: a weekly rule compares each ISO
// week with the week before (distinct people of the week, counted here
// from the fixture), and the scheduler judges the last complete week only.
func TestWeeklyChangeAgainstPreviousWeek(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	first := day("2026-03-02") // a Monday
	perWeek := []int{20, 20, 8, 20, 20}
	var users []int
	for _, n := range perWeek {
		for range 7 {
			users = append(users, n)
		}
	}
	fixture(t, s, first, users)
	// Independent: distinct people per week (each day has users 1..n).
	want := map[string]float64{}
	for i, n := range perWeek {
		want[first.AddDate(0, 0, 7*i).Format(catalog.DateLayout)] = float64(n)
	}
	hook := newReceiver(t)
	c := &clock{}
	c.set(day("2026-03-18").Add(6 * time.Hour)) // a Wednesday
	svc := newService(t, s, c, 0)
	r := Rule{Name: "weekly drop", Metric: query.ActiveUsers, Interval: query.Week, Assistant: "chatgpt", Condition: Change, Direction: Below, Value: -30,
		To: []Destination{{Kind: KindWebhook, URL: hook.srv.URL}}}
	if err := svc.Create(ctx, &r); err != nil {
		t.Fatal(err)
	}
	fr, err := query.Freshness(ctx, s, c.now())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.LastComplete(fr).Format(catalog.DateLayout); got != "2026-03-09" {
		t.Fatalf("last complete week on Wednesday 2026-03-18: %s, want the week of 2026-03-09", got)
	}
	res, err := svc.Backtest(ctx, r, day("2026-03-09"), day("2026-04-05"))
	if err != nil {
		t.Fatal(err)
	}
	// Up to the clock: only the week of 03-09 is complete yet.
	if len(res.Events) != 0 || res.Periods != 1 {
		t.Fatalf("backtest on 2026-03-18: %+v, want one quiet complete week", res)
	}
	c.set(day("2026-04-06").Add(6 * time.Hour))
	res, err = svc.Backtest(ctx, r, day("2026-03-09"), day("2026-04-05"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Periods != 4 || len(res.Events) != 2 || res.Events[0].Day != "2026-03-16" || res.Events[0].State != StateFiring ||
		res.Events[0].Value != want["2026-03-16"] || res.Events[0].Comparison != want["2026-03-09"] ||
		res.Events[1].Day != "2026-03-23" || res.Events[1].State != StateResolved {
		t.Fatalf("weekly backtest %+v, want firing the week of 2026-03-16 (8 against 20) and resolved the week of 2026-03-23", res)
	}
	// The scheduler on Tuesday 2026-03-24 judges the week of 03-16.
	c.set(day("2026-03-24").Add(6 * time.Hour))
	if n, err := svc.Evaluate(ctx); err != nil || n != 1 {
		t.Fatalf("evaluate: %d, %v", n, err)
	}
	if got := hook.received(); len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
}

// TestDependencyRule: the dependency metric is the share of the
// assistant's people who came through a channel its maker does not
// control (WhatsApp is Meta's), per day.
func TestDependencyRule(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	type ev struct {
		day     string
		user    uint64
		channel string
	}
	var evs []ev
	for u := uint64(1); u <= 20; u++ {
		ch := "web"
		if u > 10 {
			ch = "whatsapp"
		}
		evs = append(evs, ev{"2026-03-01", u, ch})
		ch = "web"
		if u > 18 {
			ch = "whatsapp"
		}
		evs = append(evs, ev{"2026-03-02", u, ch})
	}
	var rows []schematest.Event
	all, dep := map[string]map[uint64]bool{}, map[string]map[uint64]bool{}
	for _, e := range evs {
		rows = append(rows, schematest.Event{Time: day(e.day).Add(12 * time.Hour), Assistant: "chatgpt", Channel: e.channel, User: e.user})
		if all[e.day] == nil {
			all[e.day], dep[e.day] = map[uint64]bool{}, map[uint64]bool{}
		}
		all[e.day][e.user] = true
		if e.channel == "whatsapp" {
			dep[e.day][e.user] = true
		}
	}
	schematest.InsertAndBuild(t, s, "d", rows)
	pct := func(d string) float64 { return math.Round(float64(len(dep[d]))/float64(len(all[d]))*10000) / 100 }
	fr, err := query.Freshness(ctx, s, day("2026-03-03").Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := Rule{Name: "dependency under 20 %", Metric: Dependency, Assistant: "chatgpt", Condition: Threshold, Direction: Below, Value: 20,
		To: []Destination{{Kind: KindEmail, To: "pm@example.com"}}}
	if err := r.Normalize(catalog.Registry{}); err != nil {
		t.Fatal(err)
	}
	checks, err := Checks(ctx, s, r, catalog.Owners{}, day("2026-03-01"), day("2026-03-02"), &fr)
	if err == nil && len(checks) == 2 {
		if checks[0].Value != pct("2026-03-01") || checks[1].Value != pct("2026-03-02") || checks[0].Holds || !checks[1].Holds {
			t.Fatalf("checks %+v, want %v %% then %v %% (holding)", checks, pct("2026-03-01"), pct("2026-03-02"))
		}
		return
	}
	t.Fatalf("checks %+v, %v", checks, err)
}

// TestStormRules: with at most one notification a day, a second change
// of state on the same day is recorded as suppressed and not sent; a
// snoozed rule records its change as snoozed and sends nothing.
func TestStormRules(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	// Kiritimati (UTC+14): its 2026-03-01 and 2026-03-02 both end during
	// the UTC day 2026-03-02, so two periods complete on one clock day.
	kiri, err := time.LoadLocation("Pacific/Kiritimati")
	if err != nil {
		t.Skip("no zone database")
	}
	var rows []schematest.Event
	for i, n := range []int{5, 20} {
		for u := range n {
			rows = append(rows, schematest.Event{Time: time.Date(2026, 3, 1+i, 12, 0, 0, 0, kiri), Assistant: "chatgpt", Channel: "whatsapp", User: uint64(u + 1)})
		}
	}
	schematest.InsertAndBuild(t, s, "k", rows)
	hook, snoozed := newReceiver(t), newReceiver(t)
	c := &clock{}
	svc := newService(t, s, c, 0)
	svc.MaxPerDay = 1
	r := Rule{Name: "under 10", Metric: query.ActiveUsers, Timezone: "Pacific/Kiritimati", Assistant: "chatgpt", Condition: Threshold, Direction: Below, Value: 10,
		To: []Destination{{Kind: KindWebhook, URL: hook.srv.URL}}}
	z := r
	z.Name, z.Snooze, z.To = "snoozed", "2026-03-05", []Destination{{Kind: KindWebhook, URL: snoozed.srv.URL}}
	c.set(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC))
	for _, x := range []*Rule{&r, &z} {
		if err := svc.Create(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	for _, at := range []time.Time{time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)} {
		c.set(at)
		if _, err := svc.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := svc.Events(ctx, r.ID, 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events %+v, %v", evs, err)
	}
	// Newest first: resolved on 03-02 (suppressed), firing on 03-01 (sent).
	if evs[1].Day != "2026-03-01" || evs[1].State != StateFiring || evs[1].Deliveries[0].Status != DeliverySent ||
		evs[0].Day != "2026-03-02" || evs[0].State != StateResolved || evs[0].Deliveries[0].Status != DeliverySuppressed {
		t.Fatalf("events %+v: want firing sent, then resolved suppressed", evs)
	}
	if len(hook.received()) != 1 {
		t.Errorf("receiver got %d, want 1", len(hook.received()))
	}
	zevs, _ := svc.Events(ctx, z.ID, 0)
	if len(zevs) != 2 || zevs[1].Deliveries[0].Status != DeliverySnoozed || len(snoozed.received()) != 0 {
		t.Fatalf("snoozed rule: events %+v, receiver got %d; want both changes recorded as snoozed and nothing sent", zevs, len(snoozed.received()))
	}
}

// TestShareRule: share is the assistant's percentage of the people of the
// rest of the slice (here: of everyone on WhatsApp), counted here from
// the fixture.
func TestShareRule(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	var rows []schematest.Event
	all, chat := map[string]map[uint64]bool{}, map[string]map[uint64]bool{}
	add := func(d, assistant string, user uint64) {
		rows = append(rows, schematest.Event{Time: day(d).Add(12 * time.Hour), Assistant: assistant, Channel: "whatsapp", User: user})
		if all[d] == nil {
			all[d], chat[d] = map[uint64]bool{}, map[uint64]bool{}
		}
		all[d][user] = true
		if assistant == "chatgpt" {
			chat[d][user] = true
		}
	}
	for u := uint64(1); u <= 30; u++ {
		a := "meta_ai"
		if u <= 15 {
			a = "chatgpt"
		}
		add("2026-03-01", a, u)
		if u <= 5 {
			a = "chatgpt"
		} else {
			a = "meta_ai"
		}
		add("2026-03-02", a, u)
	}
	add("2026-03-02", "chatgpt", 30) // also on Meta AI: counted once in the whole
	schematest.InsertAndBuild(t, s, "s", rows)
	fr, err := query.Freshness(ctx, s, day("2026-03-03").Add(6*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	r := Rule{Name: "share under 30 %", Metric: query.Share, Assistant: "chatgpt", Channel: "whatsapp", Condition: Threshold, Direction: Below, Value: 30,
		To: []Destination{{Kind: KindEmail, To: "pm@example.com"}}}
	if err := r.Normalize(catalog.Registry{}); err != nil {
		t.Fatal(err)
	}
	checks, err := Checks(ctx, s, r, catalog.Owners{}, day("2026-03-01"), day("2026-03-02"), &fr)
	if err != nil || len(checks) != 2 {
		t.Fatalf("checks %+v, %v", checks, err)
	}
	for i, d := range []string{"2026-03-01", "2026-03-02"} {
		want := math.Round(float64(len(chat[d]))/float64(len(all[d]))*10000) / 100
		if math.Abs(checks[i].Value-want) > 0.01 {
			t.Errorf("%s: share %v, want %v", d, checks[i].Value, want)
		}
	}
	if checks[0].Holds || !checks[1].Holds {
		t.Errorf("holds %v %v, want false then true", checks[0].Holds, checks[1].Holds)
	}
}
