package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// syncBuffer is a bytes.Buffer written by a running command.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const loadToken = "load-api-token-0123456789"

// runningInstance runs `adoptscope ingest` on the test's store, as an
// operator would, and returns its URL and data folder (which it holds
// locked, as `up` does).
func runningInstance(t *testing.T, s *store.Store) (url, dataDir string) {
	t.Helper()
	srv := chtest.Server(t)
	dataDir = filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"ingest", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--clickhouse-addr", srv.TCPAddr,
			"--clickhouse-database", s.Database, "--ingest-tokens", loadToken, "--ingest-flush-interval", "20ms", "--log-level", "warn"}, &out, &errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("instance: %v\n%s", err, errOut.String())
			}
		case <-time.After(60 * time.Second):
			// What it waits for: its log and every goroutine's stack.
			var stacks bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&stacks, 1)
			t.Errorf("instance did not stop within 60 s of its context's end\nlog:\n%s\ngoroutines:\n%s", errOut.String(), stacks.String())
		}
	})
	re := regexp.MustCompile(`AdoptScope is running: (http://[^/\s]+)/`)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m[1], dataDir
		}
		select {
		case err := <-done:
			t.Fatalf("instance stopped: %v\n%s", err, errOut.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("instance did not start:\n%s\n%s", out.String(), errOut.String())
	return "", ""
}

// loadAPI runs `load --api` with chunks of 16 KiB (a quarter of the
// --ingest-max-body given).
func loadAPI(t *testing.T, url, dataDir string, extra []string, files ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	args := append([]string{"load", "--api", url, "--token", loadToken, "--data-dir", dataDir, "--ingest-max-body", "65536", "--ingest-max-line", "8192",
		"--progress", "off", "--log-level", "warn"}, extra...)
	err := Run(context.Background(), append(args, files...), &out, &errOut)
	return out.String() + errOut.String(), err
}

// want is what a test file holds, counted as it is written.
type want struct {
	rows, accepted, duplicates int
	sum                        int
	rejected                   map[int]string // line → field of its first error ("" malformed)
}

func (w *want) line(format string) string {
	return fmt.Sprintf(format, w.rows, w.accepted, w.duplicates, len(w.rejected))
}

// ndjsonFile writes n events, a line in 97 with an unknown channel, one
// that is not JSON, blank lines, and the first event again at the end.
func ndjsonFile(t *testing.T, path, prefix string, n int) want {
	w := want{rejected: map[int]string{}}
	var b strings.Builder
	line := 0
	for i := range n {
		line++
		ch := []string{"whatsapp", "ios", "web"}[i%3]
		if i%97 == 50 {
			ch = "fax"
			w.rejected[line] = "channel"
		} else {
			w.accepted++
			w.sum += 1 + i%5
		}
		fmt.Fprintf(&b, `{"event_id":"%s-%04d","time":"2026-01-%02dT09:30:00Z","assistant":"chatgpt","channel":%q,"user_id":"person-%d","count":%d}`+"\n",
			prefix, i, 1+i%28, ch, i%40, 1+i%5)
		w.rows++
		if i == 300 {
			b.WriteString("\n\n")
			line += 2
		}
		if i == 500 {
			b.WriteString("not json\n")
			line++
			w.rows++
			w.rejected[line] = ""
		}
	}
	fmt.Fprintf(&b, `{"event_id":"%s-0000","time":"2026-01-01T09:30:00Z","assistant":"chatgpt","channel":"whatsapp","user_id":"person-0","count":1}`+"\n", prefix)
	w.rows++
	w.duplicates++
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// csvFile writes a spreadsheet's CSV (BOM, ;, CRLF), gzip-compressed: n
// rows, every 50th with a note holding a line break, every 60th with a
// time in Unix seconds (rejected).
func csvFile(t *testing.T, path string, n int) want {
	w := want{rejected: map[int]string{}}
	var b strings.Builder
	b.WriteString("\ufeffevent_id;time;assistant;channel;user_id;count;note\r\n")
	line := 1
	for i := range n {
		line++
		first := line
		ts := fmt.Sprintf("2026-01-%02dT10:00:00Z", 1+i%28)
		if i%60 == 7 {
			ts = "1768471200"
			w.rejected[first] = "time"
		} else {
			w.accepted++
			w.sum += 2
		}
		note := "plain"
		if i%50 == 3 {
			note = "\"two\r\nlines; quoted\""
			line++
		}
		fmt.Fprintf(&b, "csv-%04d;%s;perplexity;whatsapp;csv-user-%d;2;%s\r\n", i, ts, i%30, note)
		w.rows++
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(b.String()))
	zw.Close()
	if err := os.WriteFile(path, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

// jsonFile writes a JSON array of n events, every 20th without assistant.
func jsonFile(t *testing.T, path string, n int) want {
	w := want{rejected: map[int]string{}}
	var evs []map[string]any
	for i := range n {
		e := map[string]any{"event_id": fmt.Sprintf("json-%03d", i), "time": "2026-01-20T08:00:00Z", "assistant": "copilot", "channel": "web", "user_id": fmt.Sprintf("j-%d", i), "count": 3}
		if i%20 == 5 {
			delete(e, "assistant")
			w.rejected[i+1] = "assistant"
		} else {
			w.accepted++
			w.sum += 3
		}
		evs = append(evs, e)
		w.rows++
	}
	b, _ := json.MarshalIndent(evs, "", "  ")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

type rejectRead struct {
	Line   int
	Errors []struct{ Field, Error string }
	Raw    json.RawMessage
	Text   string
}

func readRejects(t *testing.T, path string) []rejectRead {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []rejectRead
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r rejectRead
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("rejects line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// checkRejects: one rejects line per rejected line, at its line in the
// file (its element for JSON), first error on the field expected, no raw
// user id in the text.
func checkRejects(t *testing.T, path string, w want, userPrefix string) {
	t.Helper()
	got := readRejects(t, path)
	var lines []int
	for l := range w.rejected {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	if len(got) != len(lines) {
		t.Fatalf("%s: %d lines, want %d", path, len(got), len(lines))
	}
	for i, r := range got {
		if r.Line != lines[i] || len(r.Errors) == 0 || r.Errors[0].Field != w.rejected[lines[i]] {
			t.Errorf("%s: line %d: %+v, want line %d field %q", path, i, r, lines[i], w.rejected[lines[i]])
		}
		if strings.Contains(string(r.Raw)+r.Text, userPrefix) {
			t.Errorf("%s: line %d shows a raw user id: %s%s", path, r.Line, r.Raw, r.Text)
		}
		if w.rejected[lines[i]] != "" && len(r.Raw)+len(r.Text) == 0 {
			t.Errorf("%s: line %d without its text", path, r.Line)
		}
	}
}

func stored(t *testing.T, s *store.Store, like string) (rows, sum uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Conn.QueryRow(ctx, "SELECT count(), sum(count) FROM events WHERE event_id LIKE ?", like).Scan(&rows, &sum); err != nil {
		t.Fatal(err)
	}
	return rows, sum
}

// TestLoadThroughRunningInstance: load --api sends NDJSON, a spreadsheet's
// CSV.gz and a JSON array through a running instance (whose data folder
// stays locked) in chunks; every line is stored once or listed in the
// rejects file at its line; loaded again, nothing new is stored and the
// chunks are answered from their Idempotency-Key.
func TestLoadThroughRunningInstance(t *testing.T) {
	s := chtest.NewStore(t)
	url, dataDir := runningInstance(t, s)
	dir := t.TempDir()
	nd, csv, js := filepath.Join(dir, "events.ndjson"), filepath.Join(dir, "sheet.csv.gz"), filepath.Join(dir, "array.json")
	wn, wc, wj := ndjsonFile(t, nd, "nd", 1200), csvFile(t, csv, 400), jsonFile(t, js, 60)

	out, err := loadAPI(t, url, dataDir, nil, nd, csv, js)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	t.Logf("first load:\n%s", out)
	for _, l := range []string{
		nd + wn.line(": %d rows: %d accepted, %d duplicates, %d rejected"),
		csv + wc.line(": %d rows: %d accepted, %d duplicates, %d rejected"),
		js + wj.line(": %d rows: %d accepted, %d duplicates, %d rejected"),
		fmt.Sprintf("total: %d accepted, %d duplicates, %d rejected in 3 files", wn.accepted+wc.accepted+wj.accepted, wn.duplicates, len(wn.rejected)+len(wc.rejected)+len(wj.rejected)),
	} {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
	if strings.Contains(out, "loaded before") {
		t.Errorf("first load claims chunks loaded before:\n%s", out)
	}
	checkRejects(t, nd+".rejects.ndjson", wn, "person-")
	checkRejects(t, csv+".rejects.ndjson", wc, "csv-user-")
	checkRejects(t, js+".rejects.ndjson", wj, "\"j-")
	for _, c := range []struct {
		like string
		w    want
	}{{"nd-%", wn}, {"csv-%", wc}, {"json-%", wj}} {
		if n, sum := stored(t, s, c.like); n != uint64(c.w.accepted) || sum != uint64(c.w.sum) {
			t.Errorf("%s: %d rows, sum(count) %d; want %d and %d", c.like, n, sum, c.w.accepted, c.w.sum)
		}
	}

	// Again: nothing new; every chunk answered from its stored answer.
	out, err = loadAPI(t, url, dataDir, nil, nd, csv, js)
	if err != nil {
		t.Fatalf("second load: %v\n%s", err, out)
	}
	t.Logf("second load:\n%s", out)
	if l := fmt.Sprintf("total: 0 accepted, %d duplicates, %d rejected in 3 files", wn.accepted+wc.accepted+wj.accepted+wn.duplicates, len(wn.rejected)+len(wc.rejected)+len(wj.rejected)); !strings.Contains(out, l) {
		t.Errorf("second load output lacks %q:\n%s", l, out)
	}
	if !regexp.MustCompile(`events\.ndjson: .*; (\d+) of (\d+) chunks were loaded before`).MatchString(out) {
		t.Errorf("second load does not say the chunks were loaded before:\n%s", out)
	}
	if m := regexp.MustCompile(`(\d+) of (\d+) chunks`).FindStringSubmatch(out); m == nil || m[1] != m[2] || m[1] == "1" {
		t.Errorf("want every one of several chunks answered from its key: %q", m)
	}
	checkRejects(t, nd+".rejects.ndjson", wn, "person-")
	for _, c := range []struct {
		like string
		w    want
	}{{"nd-%", wn}, {"csv-%", wc}, {"json-%", wj}} {
		if n, sum := stored(t, s, c.like); n != uint64(c.w.accepted) || sum != uint64(c.w.sum) {
			t.Errorf("after the second load %s: %d rows, sum(count) %d; want %d and %d", c.like, n, sum, c.w.accepted, c.w.sum)
		}
	}

	// The store is the instance's: a load without --api cannot open it.
	if out, err := loadAPI(t, "", dataDir, nil, nd); err == nil {
		t.Errorf("a load without --api opened the running instance's store:\n%s", out)
	}
	// A wrong token says which one to use.
	var o, eo bytes.Buffer
	err = Run(context.Background(), []string{"load", "--api", url, "--token", "wrong-token-0123456789", "--progress", "off", nd}, &o, &eo)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "ADOPTSCOPE_INGEST_TOKENS") {
		t.Errorf("wrong token: %v", err)
	}
}

// flaky is a proxy in front of the instance that answers 503 for chosen
// requests: before passing them on (nothing committed), or after (the
// chunk is committed and its answer lost, as when a connection drops).
type flaky struct {
	target string
	mu     sync.Mutex
	n      int
	before map[int]bool // request numbers refused without passing on
	after  map[int]bool // passed on, then answered 503
	always bool
	keys   map[string]int // attempts per Idempotency-Key
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.keys[r.Header.Get("Idempotency-Key")]++
	f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	unavailable := func() {
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"the ingest buffer is full: nothing from this request was acknowledged, retry after a second"}` + "\n"))
	}
	if f.always || f.before[n] {
		unavailable()
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, f.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(resp.Body)
	if f.after[n] {
		unavailable()
		return
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(ans)
}

// TestLoadRetries503: a chunk refused with 503 is sent again after its
// Retry-After; one committed whose answer was a 503 is answered from its
// Idempotency-Key; each event is stored once and counted once. A chunk
// refused every time stops the load after --retries with a message that
// says how to go on.
func TestLoadRetries503(t *testing.T) {
	s := chtest.NewStore(t)
	url, dataDir := runningInstance(t, s)
	f := &flaky{target: url, before: map[int]bool{2: true}, after: map[int]bool{4: true}, keys: map[string]int{}}
	proxy := httptest.NewServer(f)
	defer proxy.Close()
	dir := t.TempDir()
	nd := filepath.Join(dir, "retry.ndjson")
	w := ndjsonFile(t, nd, "rt", 600)

	start := time.Now()
	out, err := loadAPI(t, proxy.URL, dataDir, nil, nd)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, out)
	}
	t.Logf("load through the proxy:\n%s", out)
	if took := time.Since(start); took < 2*time.Second {
		t.Errorf("two 503s with Retry-After: 1 retried within %s", took)
	}
	if l := nd + w.line(": %d rows: %d accepted, %d duplicates, %d rejected"); !strings.Contains(out, l) {
		t.Errorf("output lacks %q:\n%s", l, out)
	}
	if !strings.Contains(out, "retrying") {
		t.Errorf("no word of the retries:\n%s", out)
	}
	retried := 0
	for _, n := range f.keys {
		if n > 1 {
			retried++
		}
		if n > 2 {
			t.Errorf("a chunk sent %d times", n)
		}
	}
	if retried != 2 || len(f.keys) < 4 {
		t.Errorf("%d chunks retried of %d, want 2 of at least 4: %v", retried, len(f.keys), f.keys)
	}
	if n, sum := stored(t, s, "rt-%"); n != uint64(w.accepted) || sum != uint64(w.sum) {
		t.Errorf("%d rows, sum(count) %d; want %d and %d", n, sum, w.accepted, w.sum)
	}
	checkRejects(t, nd+".rejects.ndjson", w, "person-")

	// Refused every time: stops after the first attempt and 2 retries.
	f.always = true
	nd2 := filepath.Join(dir, "never.ndjson")
	ndjsonFile(t, nd2, "nv", 50)
	out, err = loadAPI(t, proxy.URL, dataDir, []string{"--retries", "2"}, nd2)
	if err == nil || !strings.Contains(err.Error(), "not stored after 3 attempts") || !strings.Contains(err.Error(), "503") ||
		!strings.Contains(err.Error(), "run the same command again") || !strings.Contains(err.Error(), "lines 1-") {
		t.Errorf("always 503: %v\n%s", err, out)
	}
	if n, _ := stored(t, s, "nv-%"); n != 0 {
		t.Errorf("%d rows stored though every request was refused", n)
	}
}
