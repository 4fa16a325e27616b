package export

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
)

// TestParisExportCountsParisDays: an export in Europe/Paris writes, for
// last_7_days, the Paris days before its 06:00 Paris run, each counted
// from Paris midnight to Paris midnight: the rows are the daily active
// users by assistant computed here with Paris day boundaries.
func TestParisExportCountsParisDays(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	s := chtest.NewStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 9))
	asst := []string{"chatgpt", "meta_ai"}
	var evs []testEvent
	// Many events within an hour or two of midnight, where UTC and Paris
	// (UTC+1 in February) days differ.
	for day := 0; day < 12; day++ {
		midnight := time.Date(2026, 2, 1+day, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 50; i++ {
			at := midnight.Add(time.Duration(rng.IntN(4*3600)-2*3600) * time.Second)
			evs = append(evs, testEvent{t: at, assistant: asst[rng.IntN(2)], channel: "web", user: uint64(rng.IntN(30) + 1), source: "test"})
		}
	}
	insertEvents(t, s, evs)

	users := map[string]map[uint64]bool{}
	utcUsers := map[string]map[uint64]bool{}
	add := func(m map[string]map[uint64]bool, k string, u uint64) {
		if m[k] == nil {
			m[k] = map[uint64]bool{}
		}
		m[k][u] = true
	}
	for _, e := range evs {
		add(users, e.t.In(paris).Format("2006-01-02")+","+e.assistant, e.user)
		add(utcUsers, e.t.UTC().Format("2006-01-02")+","+e.assistant, e.user)
	}
	want := [][]string{{"period", "assistant", "value", "complete", "tz"}}
	differs := false
	for d := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC); d.Day() <= 9; d = d.AddDate(0, 0, 1) {
		for _, a := range asst {
			k := d.Format("2006-01-02") + "," + a
			want = append(want, []string{d.Format("2006-01-02"), a, fmt.Sprint(len(users[k])), "true", "Europe/Paris"})
			differs = differs || len(users[k]) != len(utcUsers[k])
		}
	}
	if !differs {
		t.Fatal("the test data does not tell Paris days from UTC days")
	}

	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	e := Export{Name: "paris", Schedule: "0 6 * * *", Timezone: "Europe/Paris", Range: "last_7_days",
		Query: "metric=active_users&interval=day&by=assistant"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	// 06:00 in Paris on 2026-02-10 is 05:00 UTC.
	run, err := r.Run(ctx, e, time.Date(2026, 2, 10, 5, 0, 0, 0, time.UTC), 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	if run.PeriodFrom != "2026-02-03" || run.PeriodTo != "2026-02-09" {
		t.Errorf("period %s..%s, want 2026-02-03..2026-02-09", run.PeriodFrom, run.PeriodTo)
	}
	got := readCSV(t, filepath.Join(r.Root, e.Name, run.File))
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file rows\n got %v\nwant %v", got, want)
	}

	// A chart's tz becomes the export's zone; a different one is refused.
	e2 := Export{Name: "paris2", Schedule: "0 6 * * *", Query: "metric=events&tz=Europe/Paris"}
	if err := e2.Normalize(); err != nil || e2.Timezone != "Europe/Paris" || strings.Contains(e2.Query, "tz=") {
		t.Errorf("tz in the query: %v, timezone %q, query %q", err, e2.Timezone, e2.Query)
	}
	e3 := Export{Name: "clash", Schedule: "0 6 * * *", Timezone: "America/New_York", Query: "metric=events&tz=Europe/Paris"}
	if err := e3.Normalize(); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("tz and timezone differ: %v", err)
	}
}

func TestRollingRanges(t *testing.T) {
	at := time.Date(2026, 3, 4, 6, 0, 0, 0, time.UTC) // a Wednesday
	for _, tc := range []struct{ r, from, to string }{
		{"last_90_days", "2025-12-04", "2026-03-03"},
		{"last_12_weeks", "2025-12-08", "2026-03-01"},
		{"last_12_months", "2025-03-04", "2026-03-03"},
	} {
		from, to, err := Range(tc.r).Period(at, time.UTC)
		if err != nil || from.Format("2006-01-02") != tc.from || to.Format("2006-01-02") != tc.to {
			t.Errorf("%s: %s..%s %v, want %s..%s", tc.r, from.Format("2006-01-02"), to.Format("2006-01-02"), err, tc.from, tc.to)
		}
	}
}
