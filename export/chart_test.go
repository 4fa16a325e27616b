package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/query"
)

// TestPeriodStartsOnWholeInterval: rows by week or month start on the
// first day of the week or month holding the range's first day, the
// dashboard's rule for its presets; rows by day, and migrations, keep the
// range as it is.
func TestPeriodStartsOnWholeInterval(t *testing.T) {
	at := utc("2026-03-08T06:00:00Z") // a Sunday; a year before is a Saturday
	for _, c := range []struct {
		kind, query string
		r           Range
		from, to    string
	}{
		{"series", "metric=active_users&interval=week", "last_12_months", "2025-03-03", "2026-03-07"},
		{"series", "metric=active_users&interval=month", "last_12_months", "2025-03-01", "2026-03-07"},
		{"series", "metric=active_users&interval=day", "last_12_months", "2025-03-08", "2026-03-07"},
		{"series", "metric=active_users", "last_12_months", "2025-03-08", "2026-03-07"},
		{"series", "metric=events&interval=week", "last_7_days", "2026-02-23", "2026-03-07"},
		{"series", "metric=events&interval=week", "previous_week", "2026-02-23", "2026-03-01"},
		{"series", "metric=events&interval=week", "previous_month", "2026-01-26", "2026-02-28"},
		{"series", "metric=events&interval=month", "month_to_date", "2026-03-01", "2026-03-07"},
		{"series", "metric=events&interval=week", "since:2026-01-07", "2026-01-05", "2026-03-07"},
		{"retention", "", "last_28_days", "2026-02-02", "2026-03-07"}, // retention's default interval is week
		{"retention", "interval=month", "last_90_days", "2025-12-01", "2026-03-07"},
		{"migration", "assistant=chatgpt&channel=whatsapp&date=2026-01-15", "last_90_days", "2025-12-08", "2026-03-07"},
	} {
		e := Export{Kind: c.kind, Query: c.query, Range: c.r, Schedule: "0 6 * * *", Timezone: "UTC"}
		from, to, err := e.Period(at)
		if err != nil {
			t.Fatalf("%s %s: %v", c.query, c.r, err)
		}
		if got := from.Format(catalog.DateLayout) + ".." + to.Format(catalog.DateLayout); got != c.from+".."+c.to {
			t.Errorf("%s %q %s: %s, want %s..%s", c.kind, c.query, c.r, got, c.from, c.to)
		}
	}
}

// TestWeeklyLast12MonthsMatchesChart: a weekly export of the last 12
// months, run on a Sunday (so a year back is a Saturday), has a whole first
// week whose values are the chart's for that week and the distinct people
// counted here in plain Go; only the last week, still going, is
// incomplete. The file names its zone and filter in columns, equals the
// query API's CSV byte for byte, and has a manifest beside it.
func TestWeeklyLast12MonthsMatchesChart(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	s := chtest.NewStore(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(12, 34))
	asst := []string{"chatgpt", "meta_ai"}
	chans := []string{"whatsapp", "web"}
	var evs []testEvent
	for d := time.Date(2025, 3, 1, 0, 0, 0, 0, paris); d.Before(time.Date(2026, 3, 9, 0, 0, 0, 0, paris)); d = d.AddDate(0, 0, 1) {
		n := 4
		if d.Before(time.Date(2025, 3, 8, 0, 0, 0, 0, paris)) {
			n = 25 // the first week's weekdays are busy: a two-day row would differ a lot
		}
		for i := 0; i < n; i++ {
			evs = append(evs, testEvent{t: d.Add(time.Duration(rng.IntN(86400)) * time.Second).UTC(), assistant: asst[rng.IntN(2)],
				channel: chans[rng.IntN(2)], user: uint64(rng.IntN(80) + 1), source: "test"})
		}
	}
	insertEvents(t, s, evs)

	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	e := Export{Name: "weekly_whatsapp", Query: "metric=active_users&interval=week&by=assistant&channel=whatsapp",
		Range: "last_12_months", Schedule: "0 6 * * SUN", Timezone: "Europe/Paris"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 8, 6, 0, 0, 0, paris)
	run, err := r.Run(ctx, e, at, 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	if run.PeriodFrom != "2025-03-03" || run.PeriodTo != "2026-03-07" || run.File != "weekly_whatsapp_2025-03-03_2026-03-07.csv" {
		t.Errorf("run %s..%s %s: want the range widened to Monday 2025-03-03", run.PeriodFrom, run.PeriodTo, run.File)
	}

	// Distinct people on WhatsApp per Paris week and assistant, over the
	// days of [from, to] only.
	users := map[string]map[uint64]bool{}
	weekOf := func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }
	for _, ev := range evs {
		l := ev.t.In(paris)
		d := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
		if ev.channel != "whatsapp" || d.Before(from) || d.After(to) {
			continue
		}
		k := weekOf(d).Format(catalog.DateLayout) + "," + ev.assistant
		if users[k] == nil {
			users[k] = map[uint64]bool{}
		}
		users[k][ev.user] = true
	}
	want := [][]string{{"period", "assistant", "value", "complete", "tz", "filter_channel"}}
	for w := from; !w.After(to); w = w.AddDate(0, 0, 7) {
		for _, a := range asst {
			complete := !w.AddDate(0, 0, 6).After(to)
			want = append(want, []string{w.Format(catalog.DateLayout), a, fmt.Sprint(len(users[w.Format(catalog.DateLayout)+","+a])),
				fmt.Sprint(complete), "Europe/Paris", "whatsapp"})
		}
	}
	path := filepath.Join(r.Root, e.Name, run.File)
	got := readCSV(t, path)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("file\n got %v\nwant %v", got, want)
	}
	if got[1][3] != "true" || got[len(got)-1][3] != "false" {
		t.Errorf("first row %v, last row %v: want the first week complete and the last incomplete", got[1], got[len(got)-1])
	}

	// The chart: the dashboard's "Last 12 months" by week on the run day,
	// as query.ParseSlice reads it, answered by the query API's code.
	sl, errs := query.ParseSlice(url.Values{"range": {"12m"}, "interval": {"week"}, "tz": {"Europe/Paris"}},
		query.SliceOptions{Now: at, Read: query.ReadAll})
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	chartReq, err := query.ParseSeries(url.Values{"metric": {"active_users"}, "interval": {"week"}, "by": {"assistant"}, "channel": {"whatsapp"},
		"tz": {"Europe/Paris"}, "from": {sl.From.Format(catalog.DateLayout)}, "to": {sl.To.Format(catalog.DateLayout)}})
	if err != nil {
		t.Fatal(err)
	}
	chart, err := query.Series(ctx, s, chartReq)
	if err != nil {
		t.Fatal(err)
	}
	chartValue := map[string]string{}
	for _, row := range chart.Rows {
		chartValue[row.Period.Format(catalog.DateLayout)+","+row.Dims[0]] = query.FormatNumber(row.Value)
	}
	partial := map[string]map[uint64]bool{} // the first week's Saturday and Sunday alone (the old first row)
	for _, ev := range evs {
		if l := ev.t.In(paris); ev.channel == "whatsapp" && l.Year() == 2025 && l.Month() == 3 && (l.Day() == 8 || l.Day() == 9) {
			if partial[ev.assistant] == nil {
				partial[ev.assistant] = map[uint64]bool{}
			}
			partial[ev.assistant][ev.user] = true
		}
	}
	for _, row := range got[1:3] {
		k := row[0] + "," + row[1]
		if cv, ok := chartValue[k]; !ok || cv != row[2] {
			t.Errorf("first week %s: file %s, chart %q (found %v)", k, row[2], cv, ok)
		}
		if fmt.Sprint(len(partial[row[1]])) == row[2] {
			t.Errorf("first week %s: %s people, as many as on its weekend alone: the data does not tell a whole week from a partial one", k, row[2])
		}
	}

	// Byte for byte the query API's CSV for the run's parameters.
	var api bytes.Buffer
	if err := query.ExportCSV(ctx, s, "series", e.Params(from, to), &api); err != nil {
		t.Fatal(err)
	}
	if file, _ := os.ReadFile(path); !bytes.Equal(file, api.Bytes()) {
		t.Errorf("file differs from the API's CSV:\nfile %q\napi  %q", file, api.String())
	}

	// The manifest.
	raw, err := os.ReadFile(path + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var m Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest %s: %v", raw, err)
	}
	mq, _ := url.ParseQuery(m.Query)
	if m.File != run.File || m.Export != e.Name || m.RunID != run.ID || m.Kind != "series" || m.Timezone != "Europe/Paris" ||
		m.Range != "last_12_months" || m.From != "2025-03-03" || m.To != "2026-03-07" || m.Interval != "week" ||
		m.Rows != int64(len(want)-1) || uint64(m.Rows) != run.Rows || uint64(m.Bytes) != run.Bytes || m.Synthetic ||
		fmt.Sprint(m.Filters) != "map[channel:[whatsapp]]" || mq.Get("tz") != "Europe/Paris" || mq.Get("from") != "2025-03-03" ||
		fmt.Sprint(m.Columns) != fmt.Sprint(want[0]) || !strings.HasPrefix(m.Version, "adoptscope ") || m.GeneratedAt.IsZero() {
		t.Errorf("manifest %s", raw)
	}
	if len(m.Periods) != (len(want)-1)/2 || m.Periods[0] != (PeriodState{"2025-03-03", true}) || fmt.Sprint(m.Incomplete) != "[2026-03-02]" {
		t.Errorf("manifest periods %v, incomplete %v", m.Periods, m.Incomplete)
	}
}

// TestManifestKeptAndDeletedWithItsFile: each file has its manifest, the
// retention (keep) removes both, the history names the manifest, and the
// manifest is served like the file.
func TestManifestKeptAndDeletedWithItsFile(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	var evs []testEvent
	for d := 0; d < 40; d++ {
		evs = append(evs, testEvent{t: utc("2026-01-01T12:00:00Z").AddDate(0, 0, d), assistant: "chatgpt", channel: "web", user: uint64(d%5 + 1), source: query.DemoSource})
	}
	insertEvents(t, s, evs)
	r := &Runner{Store: NewStore(s), Source: QuerySource{S: s}, Root: t.TempDir(), Claimer: ClaimerID(), Log: testLog()}
	e := Export{Name: "kept", Query: "metric=events&assistant=chatgpt,meta_ai", Range: "last_7_days", Schedule: "0 6 * * *", Keep: 2}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for i, day := range []string{"2026-01-20", "2026-01-21", "2026-01-22"} {
		r.Now = func() time.Time { return utc(day + "T06:00:01Z") }
		run, err := r.Run(ctx, e, utc(day+"T06:00:00Z"), 1, "manual")
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(r.Root, e.Name)
		// Distinct modification times, so that the newest are kept.
		old := time.Now().Add(time.Duration(i-3) * time.Minute)
		_ = os.Chtimes(filepath.Join(dir, run.File), old, old)
	}
	names, _ := filepath.Glob(filepath.Join(r.Root, e.Name, "*"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	sort.Strings(names)
	wantNames := []string{"kept_2026-01-14_2026-01-20_synthetic.csv", "kept_2026-01-14_2026-01-20_synthetic.csv.json",
		"kept_2026-01-15_2026-01-21_synthetic.csv", "kept_2026-01-15_2026-01-21_synthetic.csv.json"}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Errorf("folder %v, want %v", names, wantNames)
	}
	svc := &Service{Store: r.Store, Runner: r, Root: r.Root}
	runs, err := svc.History(ctx, e, 10)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, run := range runs {
		if run.Kept {
			kept++
			if run.Manifest != run.File+".json" {
				t.Errorf("run %s: manifest %q", run.File, run.Manifest)
			}
		} else if run.Manifest != "" {
			t.Errorf("removed run %s lists manifest %q", run.File, run.Manifest)
		}
	}
	if kept != 2 {
		t.Errorf("%d kept runs, want 2", kept)
	}
	f, _, err := svc.OpenKept(e, wantNames[1])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var m Manifest
	if err := json.NewDecoder(f).Decode(&m); err != nil || m.File != wantNames[0] || !m.Synthetic || fmt.Sprint(m.Filters) != "map[assistant:[chatgpt meta_ai]]" ||
		m.Timezone != "UTC" || m.Rows != 7 || len(m.Incomplete) != 0 {
		t.Errorf("served manifest %+v, %v", m, err)
	}
	for _, bad := range []string{"kept_x.json", "kept_2026-01-14_2026-01-20_synthetic.json", "../kept_2026-01-14_2026-01-20_synthetic.csv.json"} {
		if f, _, err := svc.OpenKept(e, bad); err == nil {
			f.Close()
			t.Errorf("%s served", bad)
		}
	}
}
