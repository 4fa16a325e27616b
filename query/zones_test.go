package query_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// zoneEvents are events of 50 people around Europe/Paris's two clock
// changes of 2026 (29 March, 25 October) and America/St_Johns's
// (1 November), at any second of the day, so that every zone moves many
// of them across midnight. late adds events to the spring days only
// (arriving after the autumn ones).
func zoneEvents(seed uint64, spring, autumn, late int) []ev {
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(from time.Time, days int) ev {
		return ev{t: from.Add(time.Duration(r.IntN(days*86400)) * time.Second),
			assistant: assistants[r.IntN(3)], channel: channels[r.IntN(3)], country: countries[r.IntN(2)],
			modality: modalities[r.IntN(3)], etype: etypes[r.IntN(2)], user: uint64(1 + r.IntN(50)), count: uint32(1 + r.IntN(3))}
	}
	var out []ev
	for range spring {
		out = append(out, pick(d("2026-03-20"), 18))
	}
	for range autumn {
		out = append(out, pick(d("2026-10-20"), 18))
	}
	for range late {
		out = append(out, pick(d("2026-03-24"), 10))
	}
	return out
}

func sendEvents(t *testing.T, s *store.Store, prefix string, evs []ev) {
	t.Helper()
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		rows[i] = schematest.Event{Time: e.t, Assistant: e.assistant, Channel: e.channel, EventType: e.etype, Modality: e.modality,
			Country: e.country, User: e.user, Count: e.count}
	}
	schematest.Insert(t, s, prefix, rows)
}

// zoneExpect computes a zone's answers from the events in plain loops.
type zoneExpect struct {
	users  map[string]map[string]bool // interval|period|assistant|channel -> people
	events map[string]float64         // period|assistant|channel
	first  map[string]time.Time       // assistant|user -> first day
	dayAll map[string]map[uint64]bool // day -> people (share's whole)
	dayA   map[string]map[uint64]bool // day|assistant -> people
}

func expectZone(evs []ev, loc *time.Location) zoneExpect {
	x := zoneExpect{users: map[string]map[string]bool{}, events: map[string]float64{}, first: map[string]time.Time{},
		dayAll: map[string]map[uint64]bool{}, dayA: map[string]map[uint64]bool{}}
	add := func(m map[string]map[string]bool, k string, u uint64) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][fmt.Sprint(u)] = true
	}
	addU := func(m map[string]map[uint64]bool, k string, u uint64) {
		if m[k] == nil {
			m[k] = map[uint64]bool{}
		}
		m[k][u] = true
	}
	for _, e := range evs {
		l := e.t.In(loc)
		day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		week := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
		month := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		g := e.assistant + "|" + e.channel
		for iv, p := range map[string]time.Time{"day": day, "week": week, "month": month} {
			add(x.users, iv+"|"+p.Format("2006-01-02")+"|"+g, e.user)
		}
		x.events[day.Format("2006-01-02")+"|"+g] += float64(e.count)
		k := e.assistant + "|" + fmt.Sprint(e.user)
		if f, ok := x.first[k]; !ok || day.Before(f) {
			x.first[k] = day
		}
		addU(x.dayAll, day.Format("2006-01-02"), e.user)
		addU(x.dayA, day.Format("2006-01-02")+"|"+e.assistant, e.user)
	}
	return x
}

// checkZone runs every chart question in zone tz and compares each cell
// with the loops; wantTable is the table the distinct counts must come from
// ("" to accept any).
func checkZone(t *testing.T, s *store.Store, tz string, evs []ev, wantSource func(string) bool) {
	t.Helper()
	loc, err := time.LoadLocation(tz)
	if err != nil {
		t.Fatal(err)
	}
	x := expectZone(evs, loc)
	now := d("2026-12-15")
	fr, err := query.Freshness(context.Background(), s, now)
	if err != nil {
		t.Fatal(err)
	}
	run := func(r query.SeriesRequest) query.SeriesResult {
		t.Helper()
		r.TZ, r.Now, r.Freshness = tz, now, &fr
		res, err := query.Series(context.Background(), s, r)
		if err != nil {
			t.Fatalf("%s %s %s: %v", tz, r.Metric, r.Interval, err)
		}
		if !wantSource(res.Source) {
			t.Errorf("%s %s %s: read %s", tz, r.Metric, r.Interval, res.Source)
		}
		return res
	}
	ac := []query.Dim{query.DimAssistant, query.DimChannel}
	cells := 0
	for _, c := range []struct {
		iv       query.Interval
		from, to time.Time
	}{
		{query.Day, d("2026-03-15"), d("2026-11-10")},
		{query.Week, d("2026-03-16"), d("2026-11-15")}, // Monday to Sunday
		{query.Month, d("2026-03-01"), d("2026-11-30")},
	} {
		res := run(query.SeriesRequest{Metric: query.ActiveUsers, Interval: c.iv, From: c.from, To: c.to, By: ac})
		if c.iv == query.Day && wantSource("rollup_zone_x") && res.Source != "rollup_zone_users_final" {
			t.Errorf("%s daily active users read %s, want the zone's daily finals", tz, res.Source)
		}
		nonzero := 0
		for _, row := range res.Rows {
			want := float64(len(x.users[string(c.iv)+"|"+row.Period.Format("2006-01-02")+"|"+strings.Join(row.Dims, "|")]))
			if row.Value != want {
				t.Errorf("%s active users %s %s %v: %v, want %v", tz, c.iv, row.Period.Format("2006-01-02"), row.Dims, row.Value, want)
			}
			if want > 0 {
				nonzero++
			}
			cells++
		}
		wantNonzero := 0
		for k := range x.users {
			if strings.HasPrefix(k, string(c.iv)+"|") {
				wantNonzero++
			}
		}
		if nonzero != wantNonzero {
			t.Errorf("%s active users %s: %d non-zero cells, want %d", tz, c.iv, nonzero, wantNonzero)
		}
	}
	res := run(query.SeriesRequest{Metric: query.Events, Interval: query.Day, From: d("2026-03-15"), To: d("2026-11-10"), By: ac})
	var sum, wantSum float64
	for _, row := range res.Rows {
		want := x.events[row.Period.Format("2006-01-02")+"|"+strings.Join(row.Dims, "|")]
		if row.Value != want {
			t.Errorf("%s events %s %v: %v, want %v", tz, row.Period.Format("2006-01-02"), row.Dims, row.Value, want)
		}
		sum += row.Value
		cells++
	}
	for _, v := range x.events {
		wantSum += v
	}
	if sum != wantSum {
		t.Errorf("%s events: %v in all, want %v", tz, sum, wantSum)
	}
	res = run(query.SeriesRequest{Metric: query.NewUsers, Interval: query.Day, From: d("2026-03-15"), To: d("2026-11-10"), By: []query.Dim{query.DimAssistant}})
	newBy := map[string]float64{}
	for k, f := range x.first {
		a, _, _ := strings.Cut(k, "|")
		newBy[f.Format("2006-01-02")+"|"+a]++
	}
	for _, row := range res.Rows {
		if want := newBy[row.Period.Format("2006-01-02")+"|"+row.Dims[0]]; row.Value != want {
			t.Errorf("%s new users %s %v: %v, want %v", tz, row.Period.Format("2006-01-02"), row.Dims, row.Value, want)
		}
		cells++
	}
	res = run(query.SeriesRequest{Metric: query.Share, Interval: query.Day, From: d("2026-03-15"), To: d("2026-11-10"), By: []query.Dim{query.DimAssistant}})
	for _, row := range res.Rows {
		p := row.Period.Format("2006-01-02")
		want := 0.0
		if all := len(x.dayAll[p]); all > 0 {
			want = math.Round(float64(len(x.dayA[p+"|"+row.Dims[0]]))/float64(all)*100*100) / 100
		}
		if row.Value != want {
			t.Errorf("%s share %s %v: %v, want %v", tz, p, row.Dims, row.Value, want)
		}
		cells++
	}
	if cells < 1000 {
		t.Errorf("%s: only %d cells compared", tz, cells)
	}
}

func zoneTable(src string) bool { return strings.HasPrefix(src, "rollup_zone_") }
func rawEvents(src string) bool { return src == "events" }

// TestZoneRollupsExact: the rollups of configured zones answer active
// users (day, week, month), events, new users and share exactly as the
// events say, cell by cell, in zones a half hour, three quarters of an
// hour and a daylight-saving change away from UTC; built by windows (zones
// configured before the events came) and by the backfill of a zone added
// later, with events of the same months arriving meanwhile (the backfill's
// event sums must leave those to the windows).
func TestZoneRollupsExact(t *testing.T) {
	ctx := context.Background()
	s := chtest.NewStore(t)
	log := chtest.Logger()
	first := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata", "Europe/Paris"}}, log)
	if _, err := first.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	batch1 := zoneEvents(1, 1500, 0, 0)
	sendEvents(t, s, "a-", batch1)
	if _, err := first.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	// Two zones added later; events of the spring (already backfilled
	// months) and of the autumn arrive after they were added.
	later := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata", "Europe/Paris", "Asia/Kathmandu", "America/St_Johns"},
		BackfillBudget: time.Minute}, log)
	batch2 := zoneEvents(2, 0, 1500, 300)
	sendEvents(t, s, "b-", batch2)
	if _, err := later.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	all := append(append([]ev(nil), batch1...), batch2...)
	fr, err := query.Freshness(ctx, s, d("2026-12-15"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(fr.Zones, ","); got != "America/St_Johns,Asia/Kathmandu,Asia/Kolkata,Europe/Paris" {
		t.Fatalf("built zones %q", got)
	}
	for _, tz := range fr.Zones {
		t.Run(strings.ReplaceAll(tz, "/", "_"), func(t *testing.T) {
			checkZone(t, s, tz, all, zoneTable)
			checkPeople(t, s, tz, all, zonePersonPeriodTable)
		})
	}
	t.Run("UTC_people", func(t *testing.T) { checkPeople(t, s, "", all, personPeriodTable) })
	// A zone without rollups reads raw events, with the same answers.
	t.Run("Asia_Tokyo_raw", func(t *testing.T) {
		checkZone(t, s, "Asia/Tokyo", all, rawEvents)
		checkPeople(t, s, "Asia/Tokyo", all, rawEvents)
	})
	// Platform dependency in Paris from the zone's person-days, compared
	// below with the same question answered from raw events.
	dependency := func() string {
		t.Helper()
		res, err := query.Dependency(ctx, s, query.DependencyRequest{Interval: query.Week, From: d("2026-03-16"), To: d("2026-11-15"),
			TZ: "Europe/Paris", Now: d("2026-12-15")})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%+v", res.Rows)
	}
	depZone := dependency()

	// A zone no longer configured is not served; configured again, it is
	// backfilled anew from its deleted rows, and exact again.
	fewer := rollup.New(s, rollup.Config{Zones: []string{"Asia/Kolkata"}}, log)
	if _, err := fewer.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	if fr, err = query.Freshness(ctx, s, d("2026-12-15")); err != nil || strings.Join(fr.Zones, ",") != "Asia/Kolkata" {
		t.Fatalf("built zones after removing three: %v %v", fr.Zones, err)
	}
	t.Run("Europe_Paris_removed_raw", func(t *testing.T) { checkZone(t, s, "Europe/Paris", all, rawEvents) })
	if depRaw := dependency(); depRaw != depZone || len(depRaw) < 200 {
		t.Errorf("dependency in Paris from the zone's rollups:\n%s\nfrom raw events:\n%s", depZone, depRaw)
	}
	batch3 := zoneEvents(3, 200, 200, 0)
	sendEvents(t, s, "c-", batch3)
	if _, err := later.CatchUp(ctx); err != nil {
		t.Fatal(err)
	}
	all = append(all, batch3...)
	for _, tz := range []string{"Europe/Paris", "Asia/Kolkata"} {
		t.Run(strings.ReplaceAll(tz, "/", "_")+"_again", func(t *testing.T) {
			checkZone(t, s, tz, all, zoneTable)
			checkPeople(t, s, tz, all, zonePersonPeriodTable)
		})
	}
}
