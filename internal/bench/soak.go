package bench

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adoptscope/adoptscope/internal/config"
)

// SoakOptions are the settings of `adoptscope bench soak`.
type SoakOptions struct {
	// Config names the ClickHouse server (none: a managed one starts in a
	// temporary folder), as for bench ingest.
	Config config.Config
	Log    *slog.Logger
	Stderr io.Writer // the started instance's standard error

	Minutes float64 // length of the soak phase
	// Rate is the ingest rate in events/s; 0: measure the maximum for
	// MeasureFor first and soak at half of it.
	Rate       int
	MeasureFor time.Duration
	Clients    int // concurrent ingest clients
	// RequestEvents is events per ingest request.
	RequestEvents int
	Readers       int // concurrent dashboard/API readers, one read a second each
	// WarmUp is excluded from the RSS growth check (0: a fifth of the
	// soak, at most 5 minutes).
	WarmUp time.Duration
	// MaxRSSGrowth is the memory growth (MiB/min, least-squares slope,
	// the dedup filter's own memory taken out) above which the run fails:
	// of the Go heap in use after the warm-up, or of RSS over the last
	// third after it (see growthChecks).
	MaxRSSGrowth float64
}

func (o *SoakOptions) defaults() error {
	if o.Minutes <= 0 {
		return errors.New("bench soak: --minutes must be positive")
	}
	if o.Rate < 0 || o.Clients < 1 || o.RequestEvents < 1 || o.Readers < 0 || o.MaxRSSGrowth <= 0 {
		return errors.New("bench soak: --rate must be 0 (measure) or positive; --clients, --request-events and --max-rss-growth positive; --readers 0 or more")
	}
	if o.MeasureFor <= 0 {
		o.MeasureFor = 20 * time.Second
	}
	soak := time.Duration(o.Minutes * float64(time.Minute))
	if o.WarmUp <= 0 {
		o.WarmUp = min(soak/5, 5*time.Minute)
	}
	if o.WarmUp >= soak {
		return fmt.Errorf("bench soak: --warmup %s must be shorter than the soak (%s)", o.WarmUp, soak)
	}
	return nil
}

// soakRoutes are the reads a dashboard user and an API client make.
var soakRoutes = []string{
	"/",
	"/compare",
	"/channel",
	"/retention",
	"/api/v1/series?metric=active_users&interval=day&by=assistant",
	"/api/v1/series?metric=active_users&interval=week&by=assistant,channel",
	"/api/v1/series?metric=events&interval=day&by=channel",
}

// latencies collects answer times and statuses per route.
type latencies struct {
	mu     sync.Mutex
	times  map[string][]time.Duration
	status map[string]map[int]int
	errs   map[string]int
}

func newLatencies() *latencies {
	return &latencies{times: map[string][]time.Duration{}, status: map[string]map[int]int{}, errs: map[string]int{}}
}

func (l *latencies) add(route string, d time.Duration, status int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.errs[route]++
		return
	}
	l.times[route] = append(l.times[route], d)
	if l.status[route] == nil {
		l.status[route] = map[int]int{}
	}
	l.status[route][status]++
}

// rssSample is one reading of the instance's memory.
type rssSample struct {
	at          time.Duration // since the soak began
	rssKB       int64
	filterBytes float64 // the dedup filter's memory, from /metrics
	// heapBytes is the Go heap in use (go_memstats_heap_inuse_bytes): live
	// objects and the garbage not yet swept (not the filter). RSS also
	// holds heap the runtime keeps after a peak and returns to the system
	// only slowly, so a leak shows here first and a plateau of RSS after a
	// peak is not one.
	heapBytes  float64
	goroutines float64
	// scrapeErr is why /metrics could not be read for this sample; such a
	// sample has RSS only and is left out of the growth checks.
	scrapeErr error
}

// readMemory reads the instance's memory now.
func readMemory(ctx context.Context, inst soakInstance, at time.Duration) rssSample {
	s := rssSample{at: at, rssKB: procStatusKB(inst.pid, "VmRSS:")}
	fams, err := scrapeMetrics(ctx, soakClient, inst.url)
	if err != nil {
		s.scrapeErr = err
		return s
	}
	s.filterBytes = metricValue(fams, "adoptscope_ingest_dedup_filter_bytes")
	s.heapBytes = metricValue(fams, "go_memstats_heap_inuse_bytes")
	s.goroutines = metricValue(fams, "go_goroutines")
	return s
}

// Soak runs an instance under a steady load (ingest at half its measured
// maximum, dashboard and API reads, an export every minute) for
// o.Minutes, and reports latencies per route, 503s and the instance's
// memory over time. It fails when the memory keeps growing after the
// warm-up (see SoakOptions.MaxRSSGrowth).
func Soak(ctx context.Context, o SoakOptions, w io.Writer) error {
	if err := o.defaults(); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "adoptscope-bench-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	srv, err := openIngestServer(ctx, IngestOptions{Config: o.Config, Log: o.Log}, tmp, w)
	if err != nil {
		return err
	}
	defer srv.Close()
	db := "bench_soak_" + strconv.FormatInt(time.Now().Unix(), 10)
	inst, err := startSoakInstance(ctx, o, srv.Addr, srv.Password, tmp, db)
	if err != nil {
		return err
	}
	defer inst.stop()
	fmt.Fprintf(w, "instance: adoptscope up (pid %d) at %s, database %s\n", inst.pid, inst.url, db)
	startRSS := procStatusKB(inst.pid, "VmRSS:")

	gen := newSoakEvents(o.RequestEvents)
	rate := o.Rate
	if rate == 0 {
		fmt.Fprintf(w, "measuring the maximum ingest rate for %s with %d clients...\n", o.MeasureFor, o.Clients)
		peakRate, err := soakMaxRate(ctx, inst, gen, o)
		if err != nil {
			return err
		}
		rate = peakRate / 2
		fmt.Fprintf(w, "maximum: %d events/s; soaking at half: %d events/s\n", peakRate, rate)
	}
	rate = max(rate, o.RequestEvents/10+1)

	exportID, err := createSoakExport(ctx, inst)
	if err != nil {
		return err
	}
	soak := time.Duration(o.Minutes * float64(time.Minute))
	every := max(2*time.Second, soak/300)
	fmt.Fprintf(w, "soaking for %s: ingest %d events/s (%d clients, %d events per request), %d readers over %d routes, export every minute, memory sampled every %s, warm-up %s\n",
		soak, rate, o.Clients, o.RequestEvents, o.Readers, len(soakRoutes), every, o.WarmUp)

	lat := newLatencies()
	sctx, cancel := context.WithTimeout(ctx, soak)
	defer cancel()
	began := time.Now()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); soakIngest(sctx, inst, gen, rate, o, lat) }()
	go func() { defer wg.Done(); soakReads(sctx, inst, o.Readers, lat) }()
	var samples []rssSample
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			samples = append(samples, readMemory(sctx, inst, time.Since(began)))
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	samples = append(samples, readMemory(ctx, inst, time.Since(began)))
	runs := soakExportRuns(ctx, inst, exportID)
	return writeSoakReport(w, o, rate, soak, lat, startRSS, samples, runs)
}

// soakInstance is the started `adoptscope up`.
type soakInstance = child

func startSoakInstance(ctx context.Context, o SoakOptions, chAddr, chPassword, dir, db string) (soakInstance, error) {
	return startChild(ctx, o.Stderr, "soak", chPassword, func(addr, tok string) []string {
		return []string{"up", "--addr", addr, "--data-dir", filepath.Join(dir, "app"),
			"--clickhouse-addr", chAddr, "--clickhouse-database", db, "--ingest-tokens", tok,
			"--demo", "off", "--log-level", "warn"}
	})
}

// soakEvents makes NDJSON bodies of new events: unique ids, times over the
// last day, a panel of people returning.
type soakEvents struct {
	per  int
	run  uint32
	next atomic.Uint64
}

func newSoakEvents(per int) *soakEvents { return &soakEvents{per: per, run: rand.Uint32()} }

var (
	soakAssistants = []string{"chatgpt", "chatgpt", "meta_ai", "copilot", "perplexity"}
	soakChannels   = []string{"whatsapp", "ios", "android", "web", "desktop"}
)

func (g *soakEvents) body() []byte {
	var b bytes.Buffer
	now := time.Now().UTC()
	base := g.next.Add(uint64(g.per)) - uint64(g.per)
	for i := 0; i < g.per; i++ {
		n := base + uint64(i)
		p := rand.IntN(50_000)
		t := now.Add(-time.Duration(rand.Int64N(int64(24 * time.Hour))))
		fmt.Fprintf(&b, `{"event_id":"soak-%08x-%d","time":%q,"assistant":%q,"channel":%q,"user_id":"+1555%d"}`+"\n",
			g.run, n, t.Format(time.RFC3339), soakAssistants[p%len(soakAssistants)], soakChannels[(p/5)%len(soakChannels)], 1_000_000+p)
	}
	return b.Bytes()
}

var soakClient = &http.Client{Timeout: 2 * time.Minute}

// postEvents sends one body; it returns the status (0 on a transport
// error) and the answer time.
func postEvents(ctx context.Context, in soakInstance, body []byte) (int, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url+"/v1/events", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+in.token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	start := time.Now()
	resp, err := soakClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, time.Since(start), nil
}

// soakMaxRate sends as fast as o.Clients can for o.MeasureFor and returns
// the events/s acknowledged.
func soakMaxRate(ctx context.Context, in soakInstance, gen *soakEvents, o SoakOptions) (int, error) {
	mctx, cancel := context.WithTimeout(ctx, o.MeasureFor)
	defer cancel()
	var acked atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for mctx.Err() == nil {
				status, _, err := postEvents(mctx, in, gen.body())
				if err == nil && status == http.StatusOK {
					acked.Add(int64(o.RequestEvents))
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	r := int(float64(acked.Load()) / time.Since(start).Seconds())
	if r == 0 {
		return 0, errors.New("bench soak: no ingest request was acknowledged while measuring the maximum rate")
	}
	return r, nil
}

// soakIngest sends at rate events/s: a pacer hands out one request's
// worth of events at a time to o.Clients senders.
func soakIngest(ctx context.Context, in soakInstance, gen *soakEvents, rate int, o SoakOptions, lat *latencies) {
	interval := time.Duration(float64(time.Second) * float64(o.RequestEvents) / float64(rate))
	permits := make(chan struct{}, o.Clients)
	var wg sync.WaitGroup
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range permits {
				status, took, err := postEvents(ctx, in, gen.body())
				if ctx.Err() != nil {
					return
				}
				lat.add("POST /v1/events", took, status, err)
			}
		}()
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			close(permits)
			wg.Wait()
			return
		case <-t.C:
			select {
			case permits <- struct{}{}:
			default:
				lat.mu.Lock()
				lat.errs["POST /v1/events (pacer: all clients busy)"]++
				lat.mu.Unlock()
			}
		}
	}
}

// soakReads has n readers each read one route a second, in turn.
func soakReads(ctx context.Context, in soakInstance, n int, lat *latencies) {
	var wg sync.WaitGroup
	for r := 0; r < n; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for i := r; ; i++ {
				route := soakRoutes[i%len(soakRoutes)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.url+route, nil)
				start := time.Now()
				resp, err := soakClient.Do(req)
				if ctx.Err() != nil {
					return
				}
				status := 0
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					status = resp.StatusCode
				}
				lat.add("GET "+route, time.Since(start), status, err)
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	wg.Wait()
}

// createSoakExport creates an export that runs every minute.
func createSoakExport(ctx context.Context, in soakInstance) (string, error) {
	body := `{"name":"soak","query":"metric=active_users&interval=day&by=assistant,channel","range":"last_7_days","schedule":"* * * * *"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, in.url+"/api/v1/exports", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := soakClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var e struct {
		ID    string `json:"id"`
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	if resp.StatusCode != http.StatusCreated || e.ID == "" {
		return "", fmt.Errorf("bench soak: create the every-minute export: %s %s", resp.Status, e.Error)
	}
	return e.ID, nil
}

type soakRun struct {
	Status string `json:"status"`
	Rows   uint64 `json:"rows"`
	Error  string `json:"error"`
}

func soakExportRuns(ctx context.Context, in soakInstance, id string) []soakRun {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, in.url+"/api/v1/exports/"+id+"/runs", nil)
	resp, err := soakClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var b struct{ Runs []soakRun }
	_ = json.NewDecoder(resp.Body).Decode(&b)
	return b.Runs
}

// memorySlope is the least-squares slope, in MiB per minute, of one
// measure (bytes) of the samples at or after from; ok is false with fewer
// than 5 such samples.
func memorySlope(samples []rssSample, from time.Duration, measure func(rssSample) float64) (slope float64, n int, ok bool) {
	var xs, ys []float64
	for _, s := range samples {
		if s.at < from || s.rssKB == 0 || s.scrapeErr != nil {
			continue
		}
		xs = append(xs, s.at.Minutes())
		ys = append(ys, measure(s)/(1<<20))
	}
	n = len(xs)
	if n < 5 {
		return 0, n, false
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0, n, false
	}
	return num / den, n, true
}

// rssLessFilter is the RSS less the dedup filter's memory: the filter
// grows with the ids in the window by design, up to its own cap.
func rssLessFilter(s rssSample) float64 { return float64(s.rssKB)*1024 - s.filterBytes }

// heapBytes is the Go heap in use; the filter's bits are not in it (they
// are mapped outside the heap, see ingest.newBloom).
func heapBytes(s rssSample) float64 { return s.heapBytes }

// growthChecks are the two memory rules of the soak, on memory without
// the dedup filter: the Go heap in use must not grow after the warm-up
// (a leak grows it steadily), and RSS must not still be growing over the
// last third of the time after the warm-up (RSS steps up after a peak of
// work and stays there while the runtime keeps the pages, which is a
// plateau, not growth; growth that goes on to the end is).
func growthChecks(samples []rssSample, warmUp, soak time.Duration) (heap, rssTail float64, n int, err error) {
	heap, n, ok := memorySlope(samples, warmUp, heapBytes)
	if !ok {
		return 0, 0, n, fmt.Errorf("bench soak: only %d memory samples after the warm-up: too few to judge growth; soak longer", n)
	}
	tail := warmUp + 2*(soak-warmUp)/3
	rssTail, m, ok := memorySlope(samples, tail, rssLessFilter)
	if !ok {
		return 0, 0, n, fmt.Errorf("bench soak: only %d memory samples in the last third after the warm-up: too few to judge growth; soak longer", m)
	}
	return heap, rssTail, n, nil
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func writeSoakReport(w io.Writer, o SoakOptions, rate int, soak time.Duration, lat *latencies, startRSS int64, samples []rssSample, runs []soakRun) error {
	lat.mu.Lock()
	defer lat.mu.Unlock()
	routes := make([]string, 0, len(lat.times))
	for r := range lat.times {
		routes = append(routes, r)
	}
	for r := range lat.errs {
		if _, ok := lat.times[r]; !ok {
			routes = append(routes, r)
		}
	}
	sort.Strings(routes)
	fmt.Fprintf(w, "\nsoak: %s at %d events/s\n", soak, rate)
	fmt.Fprintf(w, "%-75s %8s %9s %9s %6s %6s %7s\n", "route", "answers", "p50", "p99", "503", "other", "errors")
	total503 := 0
	for _, r := range routes {
		ts := lat.times[r]
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		st := lat.status[r]
		other := 0
		for code, n := range st {
			if code != http.StatusOK && code != http.StatusServiceUnavailable {
				other += n
			}
		}
		total503 += st[http.StatusServiceUnavailable]
		fmt.Fprintf(w, "%-75s %8d %9s %9s %6d %6d %7d\n", r, len(ts), percentile(ts, 0.5).Round(100*time.Microsecond),
			percentile(ts, 0.99).Round(100*time.Microsecond), st[http.StatusServiceUnavailable], other, lat.errs[r])
	}
	fmt.Fprintf(w, "503 answers in all: %d\n", total503)
	ok, failed := 0, 0
	var rows uint64
	for _, r := range runs {
		switch r.Status {
		case "success", "skipped":
			ok++
			rows = max(rows, r.Rows)
		case "failed":
			failed++
			fmt.Fprintf(w, "export run failed: %s\n", r.Error)
		}
	}
	fmt.Fprintf(w, "exports (every minute): %d runs succeeded (up to %d rows), %d failed\n", ok, rows, failed)

	// Memory: start (before any load), after the warm-up, end.
	var warm rssSample
	for _, s := range samples {
		if s.at >= o.WarmUp {
			warm = s
			break
		}
	}
	end := samples[len(samples)-1]
	var peak int64
	for _, s := range samples {
		peak = max(peak, s.rssKB)
	}
	mib := func(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }
	fmt.Fprintf(w, "RSS of adoptscope up: start %s, after warm-up (%s) %s, end %s, peak %s; dedup filter at the end %.1f MiB\n",
		mib(startRSS), o.WarmUp, mib(warm.rssKB), mib(end.rssKB), mib(peak), end.filterBytes/(1<<20))
	fmt.Fprintf(w, "Go heap in use: after warm-up %.1f MiB, end %.1f MiB; goroutines: after warm-up %.0f, end %.0f\n",
		warm.heapBytes/(1<<20), end.heapBytes/(1<<20), warm.goroutines, end.goroutines)
	var unread int
	var firstErr error
	for _, s := range samples {
		if s.scrapeErr != nil {
			unread++
			firstErr = cmp.Or(firstErr, s.scrapeErr)
		}
	}
	if unread > 0 {
		fmt.Fprintf(w, "%d of %d samples could not read /metrics and are left out of the growth checks (first: %v)\n", unread, len(samples), firstErr)
	}
	fmt.Fprint(w, "samples (min: RSS MiB/heap in use MiB/filter MiB):")
	step := max(1, len(samples)/20)
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		fmt.Fprintf(w, " %.1f:%.0f/%.0f/%.0f", s.at.Minutes(), float64(s.rssKB)/1024, s.heapBytes/(1<<20), s.filterBytes/(1<<20))
	}
	fmt.Fprintln(w)
	heap, rssTail, n, err := growthChecks(samples, o.WarmUp, soak)
	if err != nil {
		return err
	}
	rssAll, _, _ := memorySlope(samples, o.WarmUp, rssLessFilter)
	fmt.Fprintf(w, "growth after warm-up (least-squares slopes over %d samples): Go heap in use %+.2f MiB/min; RSS less the dedup filter %+.2f MiB/min overall, %+.2f MiB/min over the last third (limit %.2f for the heap and the last third)\n",
		n, heap, rssAll, rssTail, o.MaxRSSGrowth)
	var errs []error
	if heap > o.MaxRSSGrowth {
		errs = append(errs, fmt.Errorf("bench soak: the Go heap keeps growing after the warm-up: %+.2f MiB/min, over the limit of %.2f MiB/min (--max-rss-growth)", heap, o.MaxRSSGrowth))
	}
	if rssTail > o.MaxRSSGrowth {
		errs = append(errs, fmt.Errorf("bench soak: RSS still grows over the last third of the soak: %+.2f MiB/min, over the limit of %.2f MiB/min (--max-rss-growth)", rssTail, o.MaxRSSGrowth))
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("bench soak: %d export runs failed", failed))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintln(w, "soak: PASS")
	return nil
}
