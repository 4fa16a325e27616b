package export

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

type testEvent struct {
	t         time.Time
	assistant string
	channel   string
	user      uint64
	source    string
}

// insertEvents writes evs into events (the shared fixture) and builds
// the rollups.
func insertEvents(t *testing.T, s *store.Store, evs []testEvent) {
	t.Helper()
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		rows[i] = schematest.Event{Time: e.t, Assistant: e.assistant, Channel: e.channel, User: e.user, Count: 1, Source: e.source}
	}
	schematest.InsertAndBuild(t, s, "x", rows)
}

// TestEveryMinuteExportMatchesIndependentCount: an export scheduled every
// minute, driven by a fake clock, writes a file whose rows are the daily
// active users by assistant computed here in plain Go, and its runs are in
// the history. The file is also byte for byte the query API's CSV.
func TestEveryMinuteExportMatchesIndependentCount(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 7))
	var evs []testEvent
	asst := []string{"chatgpt", "copilot", "meta_ai"}
	// 2026-02-01 .. 2026-02-11 (the export covers 02-03..02-09); no
	// copilot events on 02-05 (a zero row).
	for day := 0; day < 11; day++ {
		for i := 0; i < 60; i++ {
			a := asst[rng.IntN(3)]
			d := time.Date(2026, 2, 1+day, 0, 0, 0, 0, time.UTC)
			if a == "copilot" && d.Day() == 5 {
				continue
			}
			evs = append(evs, testEvent{t: d.Add(time.Duration(rng.IntN(86400)) * time.Second), assistant: a, channel: "whatsapp",
				user: uint64(rng.IntN(40) + 1), source: "test"})
		}
	}
	insertEvents(t, s, evs)

	// Independent answer: distinct users per (day, assistant), every day
	// of the range for every assistant seen in it.
	from, to := time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 9, 0, 0, 0, 0, time.UTC)
	users := map[string]map[uint64]bool{}
	for _, e := range evs {
		d := time.Date(e.t.Year(), e.t.Month(), e.t.Day(), 0, 0, 0, 0, time.UTC)
		if d.Before(from) || d.After(to) {
			continue
		}
		k := d.Format("2006-01-02") + "," + e.assistant
		if users[k] == nil {
			users[k] = map[uint64]bool{}
		}
		users[k][e.user] = true
	}
	// The zone and the filter close every row.
	want := [][]string{{"period", "assistant", "value", "complete", "tz", "filter_channel"}}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		for _, a := range asst {
			want = append(want, []string{d.Format("2006-01-02"), a, fmt.Sprint(len(users[d.Format("2006-01-02")+","+a])), "true", "UTC", "whatsapp"})
		}
	}

	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	var now time.Time
	r.Now = func() time.Time { return now }
	sc := NewScheduler(r, fastOptions())
	e := Export{Name: "dau-by-assistant", Schedule: "* * * * *", Range: "last_7_days",
		Query: "metric=active_users&interval=day&by=assistant&channel=whatsapp", CreatedAt: utc("2026-02-10T11:58:30Z")}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for now = utc("2026-02-10T11:58:30Z"); !now.After(utc("2026-02-10T12:00:30Z")); now = now.Add(30 * time.Second) {
		sc.Tick(ctx, now)
		sc.Wait()
	}
	runs, err := r.Store.Runs(ctx, e.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	for _, run := range runs {
		at = append(at, run.ScheduledAt.Format("15:04:05")+"/"+run.Status)
	}
	sort.Strings(at)
	if strings.Join(at, " ") != "11:59:00/success 12:00:00/success" {
		t.Fatalf("history: %v (%+v)", at, runs)
	}
	run := runs[0]
	if run.File != "dau-by-assistant_2026-02-03_2026-02-09.csv" || run.Rows != uint64(len(want)-1) || run.PeriodFrom != "2026-02-03" {
		t.Errorf("run %+v", run)
	}
	path := filepath.Join(r.Root, e.Name, run.File)
	got := readCSV(t, path)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file rows\n got %v\nwant %v", got, want)
	}

	// Same bytes as the API's CSV for the same request.
	var api bytes.Buffer
	if err := query.ExportCSV(ctx, s, "series", e.Params(from, to), &api); err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(path)
	if !bytes.Equal(file, api.Bytes()) {
		t.Errorf("file differs from the API's CSV:\nfile %q\napi  %q", file, api.String())
	}
}

// TestSyntheticSuffix: demo events in the range name the file *_synthetic.
func TestSyntheticSuffix(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	insertEvents(t, s, []testEvent{
		{t: utc("2026-02-04T10:00:00Z"), assistant: "chatgpt", channel: "web", user: 1, source: query.DemoSource},
	})
	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	e := Export{Name: "demo", Schedule: "0 6 * * *", Range: "last_7_days", Query: "metric=events&interval=week"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, e, utc("2026-02-10T06:00:00Z"), 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	// Weekly rows: the range starts on the Monday of its first week.
	if run.File != "demo_2026-02-02_2026-02-09_synthetic.csv" || !run.Synthetic {
		t.Errorf("run %+v", run)
	}
	run, err = r.Run(ctx, e, utc("2026-03-10T06:00:00Z"), 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	if run.File != "demo_2026-03-02_2026-03-09.csv" || run.Synthetic {
		t.Errorf("run without demo data %+v", run)
	}
	// A bad query parameter is refused when the export is created, with
	// the query API's message.
	for _, q := range []string{"metric=nope", "by=user_key", "assistant=" + url.QueryEscape("chatgpt' OR 1=1 --"), "metric=x%3BDROP+TABLE"} {
		bad := Export{Name: "bad", Schedule: "0 6 * * *", Query: q}
		if err := r.Store.Create(ctx, &bad); err == nil {
			t.Errorf("query %q accepted", q)
		}
	}
}
