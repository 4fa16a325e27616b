package export

import (
	"context"
	"encoding/csv"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// staticSource serves fixed rows for any query; block, when set, is
// waited on after the first row (to catch a run in the middle).
type staticSource struct {
	cols    []string
	rows    [][]string
	demo    bool
	opened  atomic.Int64
	block   chan struct{}
	blockAt int
	inRow   chan struct{}
}

func (s *staticSource) Open(ctx context.Context, kind string, p url.Values) (Table, error) {
	s.opened.Add(1)
	at := s.blockAt
	if at == 0 {
		at = 1
	}
	return &sliceTable{ctx: ctx, cols: s.cols, rows: s.rows, block: s.block, blockAt: at, inRow: s.inRow}, nil
}

func (s *staticSource) HasDemoData(context.Context, string, url.Values) (bool, error) {
	return s.demo, nil
}

type sliceTable struct {
	ctx     context.Context
	cols    []string
	rows    [][]string
	blockAt int
	block   chan struct{}
	inRow   chan struct{}
}

func (t *sliceTable) Columns() []string { return t.cols }

func (t *sliceTable) Each(fn func([]string) error) error {
	for i, row := range t.rows {
		if i == t.blockAt && t.block != nil {
			if t.inRow != nil {
				close(t.inRow)
				t.inRow = nil
			}
			select {
			case <-t.block:
			case <-t.ctx.Done():
				return t.ctx.Err()
			}
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	return nil
}

func testRunner(t *testing.T, s *store.Store, src Source) *Runner {
	t.Helper()
	return &Runner{Store: NewStore(s), Source: src, Root: t.TempDir(), Claimer: ClaimerID(),
		Webhook: WebhookPolicy{Backoff: 10 * time.Millisecond, To: allowLoopback()}, Log: testLog()}
}

// allowLoopback admits the test receivers, which listen on 127.0.0.1.
func allowLoopback() *Destinations {
	return &Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
}

func testLog() *slog.Logger {
	if os.Getenv("ADOPTSCOPE_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func fastOptions() SchedulerOptions {
	return SchedulerOptions{CatchUp: true, Settle: 300 * time.Millisecond, RetryBackoff: time.Millisecond, StaleAfter: 2 * time.Second}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(string(b), "\uFEFF"))).ReadAll()
	if err != nil {
		t.Fatalf("%s is not valid CSV: %v", path, err)
	}
	return recs
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	sort.Strings(out)
	return out
}

// withManifests is files, each followed by its manifest, sorted.
func withManifests(files ...string) []string {
	var out []string
	for _, f := range files {
		out = append(out, f, f+ManifestSuffix)
	}
	sort.Strings(out)
	return out
}

func TestStoreCreateListDelete(t *testing.T) {
	s := chtest.NewStore(t)
	st := NewStore(s)
	ctx := context.Background()
	e := Export{Name: "weekly", Schedule: "0 6 * * MON", Timezone: "Europe/Paris", Query: "metric=active_users&by=assistant&from=2020-01-01",
		WebhookURL: "http://127.0.0.1:1/hook", BOM: true, Delimiter: ";"}
	if err := st.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.Query, "from=") {
		t.Errorf("query keeps from: %s", e.Query)
	}
	if e.WebhookSecret == "" {
		t.Error("no webhook secret generated")
	}
	dup := Export{Name: "weekly", Schedule: "* * * * *"}
	if err := st.Create(ctx, &dup); err == nil {
		t.Error("duplicate name accepted")
	}
	got, err := st.ByName(ctx, "weekly")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || !got.BOM || got.Delimiter != ";" || got.Keep != DefaultKeep || got.Range != "last_28_days" || got.WebhookSecret != e.WebhookSecret {
		t.Errorf("read back %+v, wrote %+v", got, e)
	}
	if err := st.Delete(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, e.ID); err == nil {
		t.Error("deleted export still there")
	}
	if l, _ := st.List(ctx); len(l) != 0 {
		t.Errorf("list after delete: %v", l)
	}
}

func TestFileOptionsAndRetention(t *testing.T) {
	s := chtest.NewStore(t)
	src := &staticSource{cols: []string{"period", "assistant", "value"}, rows: [][]string{
		{"2026-01-14", "chatgpt", "12"}, {"2026-01-14", `meta "ai", inc`, "3.5"},
	}, demo: true}
	r := testRunner(t, s, src)
	e := Export{Name: "opts", Schedule: "0 6 * * *", BOM: true, Delimiter: ";", Keep: 2, Range: "last_7_days"}
	if err := r.Store.Create(context.Background(), &e); err != nil {
		t.Fatal(err)
	}
	var files []string
	for i := 0; i < 3; i++ {
		at := utc("2026-02-02T06:00:00Z").AddDate(0, 0, i)
		run, err := r.Run(context.Background(), e, at, 1, "manual")
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, run.File)
		if run.Rows != 2 || !run.Synthetic || run.Status != StatusSuccess {
			t.Errorf("run %+v", run)
		}
	}
	if files[0] != "opts_2026-01-26_2026-02-01_synthetic.csv" {
		t.Errorf("file name %s", files[0])
	}
	dir := filepath.Join(r.Root, "opts")
	if got := listDir(t, dir); strings.Join(got, " ") != strings.Join(withManifests(files[1], files[2]), " ") {
		t.Errorf("kept %v, want the last two of %v", got, files)
	}
	b, _ := os.ReadFile(filepath.Join(dir, files[2]))
	want := "\uFEFFperiod;assistant;value\r\n2026-01-14;chatgpt;12\r\n2026-01-14;\"meta \"\"ai\"\", inc\";3.5\r\n"
	if string(b) != want {
		t.Errorf("file body %q, want %q", b, want)
	}
	runs, err := r.Store.Runs(context.Background(), e.ID, 10)
	if err != nil || len(runs) != 3 {
		t.Fatalf("runs %v %v", runs, err)
	}
	if last, err := r.Store.LastRuns(context.Background()); err != nil || last[e.ID].PeriodFrom != "2026-01-28" {
		t.Errorf("LastRuns = %+v, %v; want the run over 2026-01-28..", last[e.ID], err)
	}
	MarkKept(r.Root, e, runs)
	if !runs[0].Kept || runs[2].Kept {
		t.Errorf("kept flags: %+v", runs)
	}

	// skip_empty: no file, status skipped.
	empty := &staticSource{cols: []string{"period", "value"}}
	r.Source = empty
	e2 := Export{Name: "empty", Schedule: "0 6 * * *", SkipEmpty: true}
	if err := r.Store.Create(context.Background(), &e2); err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(context.Background(), e2, utc("2026-02-02T06:00:00Z"), 1, "manual")
	if err != nil || run.Status != StatusSkipped || run.File != "" {
		t.Errorf("skip empty: %+v %v", run, err)
	}
	if got := listDir(t, filepath.Join(r.Root, "empty")); len(got) != 0 {
		t.Errorf("files after skipped run: %v", got)
	}
}

func TestWebhookDeliveryAndRetry(t *testing.T) {
	s := chtest.NewStore(t)
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	r := testRunner(t, s, src)
	ctx := context.Background()

	var mu sync.Mutex
	var got []byte
	var sigOK bool
	var hdrName string
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		mu.Lock()
		got, hdrName = b, req.Header.Get("X-AdoptScope-File")
		sigOK = false
		e, err := r.Store.ByName(ctx, "hooked")
		if err == nil {
			sigOK = VerifySignature(e.WebhookSecret, req.Header.Get(HeaderTimestamp), req.Header.Get(HeaderSignature), b)
		}
		mu.Unlock()
	}))
	defer good.Close()
	var failures atomic.Int64
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		failures.Add(1)
		http.Error(w, "receiver is down for maintenance", http.StatusServiceUnavailable)
	}))
	defer bad.Close()

	e := Export{Name: "hooked", Schedule: "0 6 * * *", WebhookURL: good.URL + "/in"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	run, err := r.Run(ctx, e, utc("2026-02-02T06:00:00Z"), 1, "manual")
	if err != nil {
		t.Fatal(err)
	}
	file, _ := os.ReadFile(filepath.Join(r.Root, "hooked", run.File))
	mu.Lock()
	if string(got) != string(file) || len(file) == 0 {
		t.Errorf("receiver got %q, file is %q", got, file)
	}
	if !sigOK {
		t.Error("signature did not verify")
	}
	if hdrName != run.File {
		t.Errorf("file header %q, want %q", hdrName, run.File)
	}
	mu.Unlock()
	if VerifySignature(e.WebhookSecret, "1", "sha256=00", file) || VerifySignature("other", "1", Sign(e.WebhookSecret, 1, file), file) {
		t.Error("a wrong signature verified")
	}

	e2 := Export{Name: "hooked-bad", Schedule: "0 6 * * *", WebhookURL: bad.URL}
	if err := r.Store.Create(ctx, &e2); err != nil {
		t.Fatal(err)
	}
	r.Webhook.Attempts = 3
	run, err = r.Run(ctx, e2, utc("2026-02-02T06:00:00Z"), 1, "manual")
	if err == nil || run.Status != StatusFailed {
		t.Fatalf("failing webhook: %+v, %v", run, err)
	}
	if n := failures.Load(); n != 3 {
		t.Errorf("webhook tried %d times, want 3", n)
	}
	runs, _ := r.Store.Runs(ctx, e2.ID, 5)
	if len(runs) != 1 || !strings.Contains(runs[0].Error, "HTTP 503") || !strings.Contains(runs[0].Error, "try 3 of 3") {
		t.Errorf("history: %+v", runs)
	}
}

// TestTwoSchedulersOneFilePerRun runs two schedulers (each with its own
// connection and claimer id) against one store, ticking at the same
// instants: every scheduled run happens once.
func TestTwoSchedulersOneFilePerRun(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	root := t.TempDir()
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	var scheds []*Scheduler
	for i := 0; i < 2; i++ {
		conn, err := store.Open(ctx, chtest.Config(chtest.Server(t), s.Database), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		r := &Runner{Store: NewStore(conn), Source: src, Root: root, Claimer: ClaimerID(), Log: testLog()}
		o := fastOptions()
		// Long enough for a claim insert to be visible on a loaded CI
		// machine (see README.md: the mechanism's one assumption).
		o.Settle = 1500 * time.Millisecond
		scheds = append(scheds, NewScheduler(r, o))
	}
	e := Export{Name: "twice", Schedule: "0 6 * * *", Range: "last_7_days", Keep: 100, CreatedAt: utc("2026-02-01T23:30:00Z")}
	if err := NewStore(s).Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	for now := utc("2026-02-02T00:00:00Z"); now.Before(utc("2026-02-06T00:00:00Z")); now = now.Add(20 * time.Minute) {
		var wg sync.WaitGroup
		for _, sc := range scheds {
			wg.Add(1)
			go func() { defer wg.Done(); sc.Tick(ctx, now) }()
		}
		wg.Wait()
		for _, sc := range scheds {
			sc.Wait()
		}
	}
	runs, err := NewStore(s).Runs(ctx, e.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var at, files []string
	claimers := map[string]bool{}
	for _, r := range runs {
		at = append(at, r.ScheduledAt.Format("01-02T15:04"))
		files = append(files, r.File)
		claimers[r.Claimer] = true
		if r.Status != StatusSuccess {
			t.Errorf("run %+v", r)
		}
	}
	sort.Strings(at)
	sort.Strings(files)
	if got := strings.Join(at, " "); got != "02-02T06:00 02-03T06:00 02-04T06:00 02-05T06:00" {
		t.Errorf("runs at %s, want one a day at 06:00", got)
	}
	if got := listDir(t, filepath.Join(root, "twice")); strings.Join(got, " ") != strings.Join(withManifests(files...), " ") {
		t.Errorf("files on disk %v, files of the runs %v", got, files)
	}
	if n := src.opened.Load(); n != 4 {
		t.Errorf("queries run %d times, want 4", n)
	}
	t.Logf("runs executed by %d distinct claimers", len(claimers))
}

// TestSchedulerDSTFakeClock drives the scheduler minute by minute with a
// fake clock across both of 2026's Paris transitions.
func TestSchedulerDSTFakeClock(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	src := &staticSource{cols: []string{"period", "value"}, rows: [][]string{{"2026-01-14", "7"}}}
	r := testRunner(t, s, src)
	sc := NewScheduler(r, fastOptions())
	e := Export{Name: "dst", Schedule: "30 2 * * *", Timezone: "Europe/Paris", Keep: 100, CreatedAt: utc("2026-03-28T12:00:00Z")}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	var now time.Time
	r.Now = func() time.Time { return now }
	for _, span := range [][2]string{
		{"2026-03-28T22:00:00Z", "2026-03-29T04:00:00Z"},
		{"2026-10-24T22:00:00Z", "2026-10-25T04:00:00Z"},
	} {
		for now = utc(span[0]); now.Before(utc(span[1])); now = now.Add(time.Minute) {
			sc.Tick(ctx, now)
			sc.Wait()
		}
	}
	runs, err := r.Store.Runs(ctx, e.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var at []string
	for _, r := range runs {
		at = append(at, r.ScheduledAt.Format(time.RFC3339)+"/"+r.Trigger)
	}
	sort.Strings(at)
	// The October span starts long after March: the scheduler catches up
	// the latest missed run (2026-10-24 02:30 CEST) once, then runs the
	// fall-back day's 02:30 once.
	want := "2026-03-29T01:00:00Z/schedule 2026-10-24T00:30:00Z/catch_up 2026-10-25T00:30:00Z/schedule"
	if got := strings.Join(at, " "); got != want {
		t.Errorf("runs\n got %s\nwant %s", got, want)
	}
}

// TestCatchUpOff: with catch-up off, a scheduler that starts after missed
// runs skips to the next one.
func TestCatchUpOff(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	r := testRunner(t, s, &staticSource{cols: []string{"v"}, rows: [][]string{{"1"}}})
	o := fastOptions()
	o.CatchUp = false
	sc := NewScheduler(r, o)
	e := Export{Name: "nocatch", Schedule: "0 6 * * *", CreatedAt: utc("2026-01-01T00:00:00Z")}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	sc.Tick(ctx, utc("2026-01-05T12:00:00Z"))
	sc.Wait()
	if runs, _ := r.Store.Runs(ctx, e.ID, 10); len(runs) != 0 {
		t.Errorf("runs with catch-up off: %+v", runs)
	}
	if n := sc.NextRun(e.ID); !n.Equal(utc("2026-01-06T06:00:00Z")) {
		t.Errorf("next run %s", n)
	}
}

// TestFailedRunRetried: a run whose query fails is retried with backoff up
// to MaxAttempts, and every attempt is in the history.
func TestFailedRunRetried(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	r := testRunner(t, s, failingSource{})
	sc := NewScheduler(r, fastOptions())
	e := Export{Name: "broken", Schedule: "0 6 * * *", CreatedAt: utc("2026-01-01T00:00:00Z")}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := 0; i < 5; i++ {
		sc.o.Reload = time.Nanosecond
		sc.Tick(ctx, now)
		sc.Wait()
		now = now.Add(time.Minute)
	}
	runs, _ := r.Store.Runs(ctx, e.ID, 10)
	if len(runs) != 3 {
		t.Fatalf("attempts %d, want 3: %+v", len(runs), runs)
	}
	for _, run := range runs {
		if run.Status != StatusFailed || !strings.Contains(run.Error, "backend exploded") {
			t.Errorf("run %+v", run)
		}
	}
}

type failingSource struct{}

func (failingSource) Open(context.Context, string, url.Values) (Table, error) {
	return nil, errBackend
}
func (failingSource) HasDemoData(context.Context, string, url.Values) (bool, error) {
	return false, nil
}

var errBackend = &backendErr{}

type backendErr struct{}

func (*backendErr) Error() string { return "backend exploded" }

// TestStopInterruptsRunningExport: Stop waits for a running export until
// its context ends, then the run records itself failed and leaves no file.
func TestStopInterruptsRunningExport(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	mid := make(chan struct{})
	src := crashSource(make(chan struct{}), mid)
	r := testRunner(t, s, src)
	sc := NewScheduler(r, fastOptions())
	e := Export{Name: "slow", Schedule: "0 6 * * *", CreatedAt: utc("2026-01-01T00:00:00Z")}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	sc.Tick(ctx, time.Now()) // catch-up: today's or yesterday's 06:00
	<-mid
	stopCtx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := sc.Stop(stopCtx); err == nil {
		t.Error("Stop reported no interrupted run")
	}
	runs, err := r.Store.Runs(ctx, e.ID, 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %+v %v", runs, err)
	}
	if runs[0].Status != StatusFailed || !strings.Contains(runs[0].Error, "interrupted") {
		t.Errorf("run %+v", runs[0])
	}
	if got := listDir(t, filepath.Join(r.Root, "slow")); len(got) != 0 {
		t.Errorf("files after an interrupted run: %v", got)
	}
}

// TestLostClaimRetried: a scheduler that won a claim and died before
// recording its run does not make the run disappear: another scheduler
// records it failed and retries it.
func TestLostClaimRetried(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	r := testRunner(t, s, &staticSource{cols: []string{"v"}, rows: [][]string{{"1"}}})
	e := Export{Name: "ghosted", Schedule: "0 6 1 1 *"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	if won, err := r.Store.Claim(ctx, e.ID, at, 1, "ghost/1/dead", 0); err != nil || !won {
		t.Fatalf("claim: %v %v", won, err)
	}
	time.Sleep(3500 * time.Millisecond) // older than StaleAfter+Settle of fastOptions
	_, got := recoverAndRead(t, r, e.ID)
	if a := got[1]; a.Status != StatusFailed || !strings.Contains(a.Error, "never started") {
		t.Errorf("attempt 1: %+v", a)
	}
	if a := got[2]; a.Status != StatusSuccess || a.Trigger != "retry" {
		t.Errorf("attempt 2: %+v", a)
	}
}

// recoverAndRead ticks a fresh scheduler three times (recording dead runs
// failed, then retrying them) and returns the export's runs, also by
// attempt.
func recoverAndRead(t *testing.T, r *Runner, exportID string) ([]Run, map[int]Run) {
	t.Helper()
	ctx := context.Background()
	sc := NewScheduler(r, fastOptions())
	for i := 0; i < 3; i++ {
		sc.o.Reload = time.Nanosecond
		sc.Tick(ctx, time.Now())
		sc.Wait()
	}
	runs, err := r.Store.Runs(ctx, exportID, 10)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]Run{}
	for _, run := range runs {
		got[run.Attempt] = run
	}
	return runs, got
}

// TestOldInterruptedRunRecovered: a run scheduled three days ago (a
// catch-up after downtime), killed mid-run, is past the retry window by
// its scheduled time; it must still be recorded failed and retried, not
// left "running" for ever.
func TestOldInterruptedRunRecovered(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	r := testRunner(t, s, &staticSource{cols: []string{"v"}, rows: [][]string{{"1"}}})
	e := Export{Name: "old-catch-up", Schedule: "0 6 1 1 *"}
	if err := r.Store.Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	scheduled := now.Add(-72 * time.Hour).Truncate(time.Minute)
	dead := Run{ID: NewID(), ExportID: e.ID, ExportName: e.Name, ScheduledAt: scheduled, Attempt: 1, Trigger: "catch_up",
		Claimer: "ghost/1/dead", Status: StatusRunning, StartedAt: now.Add(-10 * time.Minute), HeartbeatAt: now.Add(-10 * time.Minute)}
	if err := r.Store.SaveRun(ctx, dead); err != nil {
		t.Fatal(err)
	}
	runs, got := recoverAndRead(t, r, e.ID)
	if a := got[1]; a.ID != dead.ID || a.Status != StatusFailed || !strings.Contains(a.Error, "interrupted") {
		t.Errorf("attempt 1 (killed 10 minutes ago, scheduled 3 days ago): %+v, want failed as interrupted", a)
	}
	if a := got[2]; a.Status != StatusSuccess || a.Trigger != "retry" || !a.ScheduledAt.Equal(scheduled) {
		t.Errorf("attempt 2: %+v, want a successful retry of the run scheduled at %s", a, scheduled)
	}
	if len(runs) != 2 {
		t.Errorf("%d runs, want the interrupted one and its retry: %+v", len(runs), runs)
	}
}

// slowSource blocks the queries whose channel is "slow" until released.
type slowSource struct {
	release chan struct{}
	started chan struct{}
}

func (s *slowSource) Open(ctx context.Context, kind string, p url.Values) (Table, error) {
	if p.Get("channel") == "slow" {
		close(s.started)
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &sliceTable{ctx: ctx, cols: []string{"v"}, rows: [][]string{{"1"}}}, nil
}

func (s *slowSource) HasDemoData(context.Context, string, url.Values) (bool, error) {
	return false, nil
}

// TestSlowExportDoesNotDelayOthers: two exports due at the same minute; the
// first hangs, the second finishes meanwhile.
func TestSlowExportDoesNotDelayOthers(t *testing.T) {
	s := chtest.NewStore(t)
	ctx := context.Background()
	src := &slowSource{release: make(chan struct{}), started: make(chan struct{})}
	r := testRunner(t, s, src)
	sc := NewScheduler(r, fastOptions())
	slow := Export{Name: "a-slow", Schedule: "0 6 * * *", Query: "channel=slow", CreatedAt: utc("2026-02-01T12:00:00Z")}
	fast := Export{Name: "b-fast", Schedule: "0 6 * * *", Query: "channel=web", CreatedAt: utc("2026-02-01T12:00:00Z")}
	for _, e := range []*Export{&slow, &fast} {
		if err := r.Store.Create(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	sc.Tick(ctx, utc("2026-02-02T05:59:00Z"))
	sc.Tick(ctx, utc("2026-02-02T06:00:00Z"))
	<-src.started
	deadline := time.Now().Add(30 * time.Second)
	for {
		runs, err := r.Store.Runs(ctx, fast.ID, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].Status == StatusSuccess {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the fast export waited for the slow one: %+v", runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if runs, _ := r.Store.Runs(ctx, slow.ID, 5); len(runs) != 1 || runs[0].Status != StatusRunning {
		t.Errorf("slow export: %+v", runs)
	}
	close(src.release)
	sc.Wait()
}
