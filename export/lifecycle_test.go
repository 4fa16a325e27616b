package export

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// TestLifecycleExport: a lifecycle scheduled as CSV (what "Schedule this
// as CSV" on the Lifecycle page creates: the chart's query with its zone
// and preset) runs over the export's days in its zone, its first week
// widened to Monday; the file holds the counts computed here in plain Go
// (with the history before the range) and is byte for byte the query
// API's CSV.
func TestLifecycleExport(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	s := chtest.NewStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	asst := []string{"chatgpt", "meta_ai"}
	chans := []string{"whatsapp", "web"}
	var evs []testEvent
	for d := time.Date(2026, 1, 5, 0, 0, 0, 0, paris); d.Before(time.Date(2026, 3, 8, 0, 0, 0, 0, paris)); d = d.AddDate(0, 0, 1) {
		for i := 0; i < 6; i++ {
			evs = append(evs, testEvent{t: d.Add(time.Duration(rng.IntN(86400)) * time.Second).UTC(), assistant: asst[rng.IntN(2)],
				channel: chans[rng.IntN(2)], user: uint64(rng.IntN(40) + 1), source: "test"})
		}
	}
	insertEvents(t, s, evs)

	e := Export{Name: "lifecycle_whatsapp", Kind: "lifecycle", Query: "interval=week&by=assistant&channel=whatsapp&range=28d&tz=Europe/Paris",
		Schedule: "0 6 * * SUN"}
	if err := e.Normalize(); err != nil {
		t.Fatal(err)
	}
	if e.Range != "last_28_days" || e.Timezone != "Europe/Paris" || e.Interval() != query.Week {
		t.Fatalf("normalized: range %q timezone %q interval %q", e.Range, e.Timezone, e.Interval())
	}
	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 8, 6, 0, 0, 0, paris)
	run, err := r.Run(ctx, e, at, 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	if run.PeriodFrom != "2026-02-02" || run.PeriodTo != "2026-03-07" {
		t.Errorf("run %s..%s: want 2026-02-02..2026-03-07 (28 days widened to Monday)", run.PeriodFrom, run.PeriodTo)
	}

	// Per assistant and person on WhatsApp: the Paris weeks active and
	// the first day, from the data's start.
	weekOf := func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }
	type key struct {
		a string
		u uint64
	}
	weeks := map[key]map[time.Time]bool{}
	first := map[key]time.Time{}
	for _, ev := range evs {
		l := ev.t.In(paris)
		d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		if ev.channel != "whatsapp" || d.After(to) {
			continue
		}
		k := key{ev.assistant, ev.user}
		if weeks[k] == nil {
			weeks[k] = map[time.Time]bool{}
		}
		weeks[k][weekOf(d)] = true
		if f, ok := first[k]; !ok || d.Before(f) {
			first[k] = d
		}
	}
	want := [][]string{{"period", "assistant", "new", "returning", "resurrecting", "dormant", "quick_ratio", "complete", "tz", "filter_channel"}}
	for w := from; !w.After(to); w = w.AddDate(0, 0, 7) {
		for _, a := range asst {
			var n, ret, res, dor int
			for k, ws := range weeks {
				if k.a != a {
					continue
				}
				now, before := ws[w], ws[w.AddDate(0, 0, -7)]
				switch {
				case now && weekOf(first[k]).Equal(w):
					n++
				case now && before:
					ret++
				case now:
					res++
				case before:
					dor++
				}
			}
			qr := ""
			if dor > 0 {
				qr = query.FormatNumber(float64(int(float64(n+res)/float64(dor)*100+0.5)) / 100)
			}
			want = append(want, []string{w.Format(catalog.DateLayout), a, fmt.Sprint(n), fmt.Sprint(ret), fmt.Sprint(res), fmt.Sprint(dor), qr,
				fmt.Sprint(!w.AddDate(0, 0, 6).After(to)), "Europe/Paris", "whatsapp"})
		}
	}
	path := filepath.Join(r.Root, e.Name, run.File)
	got := readCSV(t, path)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file\n got %v\nwant %v", got, want)
	}
	var api bytes.Buffer
	if err := query.ExportCSV(ctx, s, query.EndpointLifecycle, e.Params(from, to), &api); err != nil {
		t.Fatal(err)
	}
	if file, _ := os.ReadFile(path); !bytes.Equal(file, api.Bytes()) {
		t.Errorf("file differs from the API's CSV:\nfile %q\napi  %q", file, api.String())
	}
	if e.Params(from, to).Get("tz") != "Europe/Paris" {
		t.Errorf("params %v: want the export's zone", e.Params(from, to))
	}
	// A query the API refuses is refused when the export is saved.
	bad := Export{Name: "x", Kind: "lifecycle", Query: "interval=day", Schedule: "0 6 * * MON"}
	if err := bad.Normalize(); err == nil {
		t.Error("interval=day accepted for a lifecycle export")
	}
}
