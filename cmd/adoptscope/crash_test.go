package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// The crash runs: the real binary, a real managed ClickHouse, clients that
// keep sending while a process is killed with SIGKILL. What the clients
// were answered 200 for is the truth the store is checked against.

const crashToken = "crash-test-ingest-token-0123456789"

// sender is a client that posts batches of events with unique ids and
// remembers which ids it was answered 200 for.
type sender struct {
	base string
	http *http.Client

	mu          sync.Mutex
	acked       map[string]bool
	unacked     [][]string // batches not answered 200, to send again
	unavailable int        // 503 answers
	noRetry     int        // 503 answers without Retry-After
	seq         int
}

func newSender(base string) *sender {
	return &sender{base: base, http: &http.Client{Timeout: 15 * time.Second}, acked: map[string]bool{}}
}

func (s *sender) nextBatch(client, size int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	ids := make([]string, size)
	for i := range ids {
		ids[i] = fmt.Sprintf("crash-%d-%d-%d", client, s.seq, i)
	}
	return ids
}

// post sends one batch; it reports whether the batch was acknowledged and,
// on 503, the Retry-After the server asked for.
func (s *sender) post(ids []string) (ok bool, retryAfter time.Duration) {
	var b strings.Builder
	now := time.Now().UTC().Format(time.RFC3339)
	for i, id := range ids {
		fmt.Fprintf(&b, `{"event_id":%q,"time":%q,"assistant":"chatgpt","channel":"ios","user_id":"user-%d"}`+"\n", id, now, i%7)
	}
	req, _ := http.NewRequest("POST", s.base+"/v1/events", strings.NewReader(b.String()))
	req.Header.Set("Authorization", "Bearer "+crashToken)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := s.http.Do(req)
	if err != nil {
		return false, 0
	}
	defer resp.Body.Close()
	var res struct{ Accepted, Duplicates, Rejected int }
	_ = json.NewDecoder(resp.Body).Decode(&res)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case resp.StatusCode == http.StatusOK && res.Accepted+res.Duplicates == len(ids):
		for _, id := range ids {
			s.acked[id] = true
		}
		return true, 0
	case resp.StatusCode == http.StatusServiceUnavailable:
		s.unavailable++
		secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || secs <= 0 {
			s.noRetry++
			secs = 1
		}
		return false, time.Duration(secs) * time.Second
	}
	return false, 0
}

// run sends batches from clients goroutines until stop is closed; a batch
// not acknowledged is kept for later (retryUntil) and the client goes on
// with new ones, as a sender with a local queue does.
func (s *sender) run(clients, size int, stop chan struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ids := s.nextBatch(c, size)
				if ok, wait := s.post(ids); !ok {
					s.mu.Lock()
					s.unacked = append(s.unacked, ids)
					s.mu.Unlock()
					// Retry-After is honoured, briefly: the test has a time budget.
					time.Sleep(min(max(wait, 100*time.Millisecond), time.Second))
				}
			}
		}()
	}
	return &wg
}

func (s *sender) ackedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// retryUntil sends every unacknowledged batch again, with the same ids,
// until each is acknowledged.
func (s *sender) retryUntil(t *testing.T, deadline time.Duration) {
	t.Helper()
	s.mu.Lock()
	pending := s.unacked
	s.unacked = nil
	s.mu.Unlock()
	end := time.Now().Add(deadline)
	for _, ids := range pending {
		for {
			if ok, _ := s.post(ids); ok {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("batch %s… never acknowledged after the restart", ids[0])
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// storedIDs returns how often each crash-* event id is stored, and
// count() and uniqExact(event_id) as ClickHouse computes them.
func storedIDs(t *testing.T, chAddr string) (ids map[string]int, count, uniq uint64) {
	t.Helper()
	conn, err := clickhouse.Open(chOptions(chAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := conn.QueryRow(ctx, "SELECT count(), uniqExact(event_id) FROM adoptscope.events WHERE event_id LIKE 'crash-%'").Scan(&count, &uniq); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT event_id FROM adoptscope.events WHERE event_id LIKE 'crash-%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids = map[string]int{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids[id]++
	}
	return ids, count, uniq
}

// checkStoredOnce asserts that every acknowledged id is stored exactly once
// and that nothing is stored twice.
func checkStoredOnce(t *testing.T, chAddr string, acked map[string]bool, wantAll bool) {
	t.Helper()
	ids, count, uniq := storedIDs(t, chAddr)
	if count != uniq {
		t.Errorf("count() = %d but uniqExact(event_id) = %d: events stored twice", count, uniq)
	}
	missing, twice := 0, 0
	for id := range acked {
		switch ids[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Errorf("of %d acknowledged events, %d are missing and %d stored more than once", len(acked), missing, twice)
	}
	if wantAll && count != uint64(len(acked)) {
		t.Errorf("stored %d events, acknowledged %d", count, len(acked))
	}
	t.Logf("acknowledged %d, stored count() %d, uniqExact(event_id) %d", len(acked), count, uniq)
}

func crashEnv(data, addr string) []string {
	return []string{"ADOPTSCOPE_DATA_DIR=" + data, "ADOPTSCOPE_ADDR=" + addr, "ADOPTSCOPE_DEMO=off",
		"ADOPTSCOPE_CLICKHOUSE_ADDR=", "ADOPTSCOPE_INGEST_TOKENS=" + crashToken, "ADOPTSCOPE_LOG_LEVEL=info",
		"ADOPTSCOPE_INGEST_FLUSH_INTERVAL=20ms",
		// Short enough for a test: a killed run is taken as dead after 2s
		// and retried 1s after it is recorded failed.
		"ADOPTSCOPE_EXPORT_STALE_AFTER=2s", "ADOPTSCOPE_EXPORT_RETRY_BACKOFF=1s", "ADOPTSCOPE_EXPORT_CLAIM_SETTLE=100ms",
		// The test's webhook receiver listens on loopback.
		"ADOPTSCOPE_WEBHOOK_ALLOW=127.0.0.1"}
}

// webhookReceiver holds the first delivery open until the test ends (the
// app is killed while it waits) and answers the later ones 200.
type webhookReceiver struct {
	srv      *httptest.Server
	first    chan struct{}
	mu       sync.Mutex
	hits     int
	answered int
}

func newWebhookReceiver(t *testing.T) *webhookReceiver {
	w := &webhookReceiver{first: make(chan struct{})}
	release := make(chan struct{})
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.mu.Lock()
		w.hits++
		n := w.hits
		w.mu.Unlock()
		if n == 1 {
			close(w.first)
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.mu.Lock()
		w.answered++
		w.mu.Unlock()
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(w.srv.Close)
	t.Cleanup(func() { close(release) })
	return w
}

// createCatchUpExport stores an export straight into the managed server,
// created ten minutes ago, that runs daily five minutes before now: the
// scheduler's next read of the exports (within 10 s) finds that slot
// missed and runs it once (a catch-up run, retried like a scheduled one);
// the next slot is a day away.
func createCatchUpExport(t *testing.T, chAddr, webhook string) export.Export {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.Open(ctx, store.Config{Addr: chAddr, Database: "adoptscope", User: "default", Password: chPassword(chAddr)}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	slot := time.Now().UTC().Add(-5 * time.Minute)
	e := export.Export{Name: "crashrun", Query: "metric=active_users&interval=day&by=assistant", Range: "last_7_days",
		Schedule: fmt.Sprintf("%d %d * * *", slot.Minute(), slot.Hour()), WebhookURL: webhook,
		CreatedAt: time.Now().UTC().Add(-10 * time.Minute)}
	if err := export.NewStore(st).Create(ctx, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

type runRecord struct {
	ScheduledAt time.Time `json:"scheduled_at"`
	Attempt     int
	Trigger     string
	Status      string
	File        string
	Error       string
}

func exportRuns(t *testing.T, base, id string) []runRecord {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/exports/" + id + "/runs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Runs []runRecord }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Runs
}

// exportFiles lists every name in the export's folder, hidden ones too.
func exportFiles(t *testing.T, data string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(data, "exports", "crashrun"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func waitLog(t *testing.T, in *instance, want string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(in.output(), want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("log never said %q:\n%s", want, in.output())
}

// TestAppKilledWhileClientsSend: `adoptscope up` killed with SIGKILL while
// four clients send and a scheduled export is running, then started again
// on the same data folder. Every event acknowledged before the kill is
// stored exactly once; the batches that were not acknowledged, sent again
// with the same ids, are stored once too; the managed ClickHouse of the
// killed run is not left running and the restart says what it found; the
// lock is recovered; the export leaves no partial file and is retried to
// success.
func TestAppKilledWhileClientsSend(t *testing.T) {
	requireClickHouse(t)
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	env := crashEnv(data, addr)
	hook := newWebhookReceiver(t)

	in := start(t, env, "up")
	waitHealthy(t, in, addr)
	chAddr, chPid := managedServer(t, in)
	appPid := in.cmd.Process.Pid
	e := createCatchUpExport(t, chAddr, hook.srv.URL)

	s := newSender(base)
	stop := make(chan struct{})
	clients := s.run(4, 50, stop)
	select {
	case <-hook.first:
	case <-time.After(25 * time.Second):
		close(stop)
		t.Fatalf("the export's catch-up run never reached its webhook:\n%s", in.output())
	}
	for s.ackedCount() < 1000 {
		time.Sleep(20 * time.Millisecond)
	}

	// SIGKILL: no shutdown, no flush, no unlock, the export mid-run.
	if err := in.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-in.done
	close(stop)
	clients.Wait()
	ackedBeforeKill := map[string]bool{}
	s.mu.Lock()
	for id := range s.acked {
		ackedBeforeKill[id] = true
	}
	s.mu.Unlock()
	t.Logf("killed the app (pid %d) with %d events acknowledged, %d batches unanswered", appPid, len(ackedBeforeKill), len(s.unacked))
	for _, name := range exportFiles(t, data) {
		if strings.HasSuffix(name, ".partial") || strings.HasPrefix(name, ".") {
			t.Errorf("temporary export file %s left by the kill", name)
		}
	}

	in2 := start(t, env, "up")
	waitHealthy(t, in2, addr)
	out := in2.output()
	if !strings.Contains(out, "data folder lock recovered") || !strings.Contains(out, "previous_pid="+strconv.Itoa(appPid)) {
		t.Errorf("the restart does not say it recovered the lock of pid %d:\n%s", appPid, out)
	}
	// The killed app's server either stopped on its own (the kernel sends
	// it SIGTERM when its parent dies) or is stopped by the restart: both
	// are said.
	if !strings.Contains(out, "managed ClickHouse of an earlier run had already stopped") &&
		!strings.Contains(out, "stopped the managed ClickHouse of the earlier run") {
		t.Errorf("the restart does not say what became of the earlier managed ClickHouse (pid %d):\n%s", chPid, out)
	}
	if running(chPid) {
		t.Errorf("the killed app's ClickHouse (pid %d) still runs after the restart", chPid)
	}
	chAddr2, _ := managedServer(t, in2)
	checkStoredOnce(t, chAddr2, ackedBeforeKill, false)

	// The senders send what was not acknowledged again: then everything
	// sent is acknowledged, and stored once.
	s.retryUntil(t, 30*time.Second)
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	checkStoredOnce(t, chAddr2, acked, true)

	// The export: the killed run recorded failed ("interrupted"), then
	// retried to success, its file complete, nothing temporary left.
	deadline := time.Now().Add(30 * time.Second)
	var runs []runRecord
	for time.Now().Before(deadline) {
		runs = exportRuns(t, base, e.ID)
		var failed, retried bool
		for _, r := range runs {
			failed = failed || r.Attempt == 1 && r.Status == "failed" && strings.Contains(r.Error, "interrupted")
			retried = retried || r.Attempt == 2 && r.Trigger == "retry" && r.Status == "success"
		}
		if failed && retried {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	var final runRecord
	for _, r := range runs {
		if r.Attempt == 2 && r.Status == "success" {
			final = r
		}
	}
	if final.File == "" {
		t.Fatalf("the interrupted export was not retried to success; runs: %+v\n%s", runs, in2.output())
	}
	// The retried run's file and its manifest, nothing half-written.
	if files := exportFiles(t, data); len(files) != 2 || files[0] != final.File || files[1] != final.File+".json" {
		t.Errorf("export folder holds %v, want just the retried run's %s and its manifest", files, final.File)
	}
	b, err := os.ReadFile(filepath.Join(data, "exports", "crashrun", final.File))
	if err != nil || !strings.HasPrefix(strings.TrimPrefix(string(b), "\ufeff"), "period") {
		t.Errorf("retried export file: %v %q", err, b)
	}
	hook.mu.Lock()
	answered := hook.answered
	hook.mu.Unlock()
	if answered != 1 {
		t.Errorf("webhook answered %d deliveries after the restart, want 1 (the retry)", answered)
	}
	interrupt(t, in2)
}

// TestManagedClickHouseKilledMidIngest: the managed ClickHouse killed with
// SIGKILL while clients send. Clients are answered 503 with Retry-After
// (never 200 for what was not stored), /healthz says why, the app
// restarts the server on its address, and once the senders have sent
// again what was refused, acknowledged = stored, once each.
func TestManagedClickHouseKilledMidIngest(t *testing.T) {
	requireClickHouse(t)
	data := t.TempDir()
	addr := freeAddr(t)
	base := "http://" + addr
	in := start(t, crashEnv(data, addr), "up")
	waitHealthy(t, in, addr)
	chAddr, chPid := managedServer(t, in)

	s := newSender(base)
	stop := make(chan struct{})
	clients := s.run(4, 50, stop)
	for s.ackedCount() < 1000 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(chPid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// While it is down, /healthz says why.
	var reason string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && reason == "" {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			var h struct{ Status, Error string }
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				reason = h.Error
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(reason, "exited") && !strings.Contains(reason, "does not answer") {
		t.Errorf("/healthz while ClickHouse is down: reason %q", reason)
	}
	waitLog(t, in, "managed ClickHouse restarted", 30*time.Second)
	waitHealthy(t, in, addr)
	// Keep sending a moment on the restarted server, then stop.
	after := s.ackedCount()
	for s.ackedCount() < after+500 {
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	clients.Wait()

	s.mu.Lock()
	unavailable, noRetry := s.unavailable, s.noRetry
	s.mu.Unlock()
	if unavailable == 0 {
		t.Errorf("no client was answered 503 while ClickHouse was down")
	}
	if noRetry > 0 {
		t.Errorf("%d of %d 503 answers had no Retry-After", noRetry, unavailable)
	}
	out := in.output()
	for _, want := range []string{"managed ClickHouse exited unexpectedly", "signal: killed"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	s.retryUntil(t, 30*time.Second)
	s.mu.Lock()
	acked := s.acked
	s.mu.Unlock()
	t.Logf("%d answers 503 while ClickHouse was down", unavailable)
	checkStoredOnce(t, chAddr, acked, true)
	interrupt(t, in)
}

// running reports whether pid runs; a zombie (dead, not reaped: the killed
// app's server is re-parented to an init that may not reap) does not.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}
