package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/chserver"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

func init() {
	benchmarks["ingest"] = command{"events/s over HTTP against a plain clickhouse-go batch insert of the same rows (ends with 'ingest/raw ratio: X')", runBenchIngest}
}

func runBenchIngest(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("bench ingest", benchmarks["ingest"].summary, e)
	cfg.Bind(fs, config.ClickHouse|config.Logging)
	events := fs.Int("events", 1_000_000, "events to send (and to insert raw)")
	clients := fs.Int("clients", 32, "concurrent HTTP clients; each waits for its commit, so clients × events per request are the events in flight: too few and the rate measures the clients' round trips, not the server (16 × 5,000 left the server partly idle)")
	perReq := fs.Int("request-events", 5000, "events per request (clients × events per request is what a batch can hold: the clients wait for their commit)")
	url := fs.String("url", "", "target a running ingest at this base URL (http://host:port) instead of starting one; needs --token and --clickhouse-addr of its server for the raw baseline")
	token := fs.String("token", "", "ingest bearer token for --url")
	pid := fs.Int("pid", 0, "with --url: process id of the ingest process, to sample its memory")
	batchRows := fs.Int("batch-rows", 100_000, "ingest batch size of the started instance (ADOPTSCOPE_INGEST_BATCH_ROWS)")
	seed := fs.Uint64("seed", 1, "random seed of the generated events")
	days := fs.Int("days", 30, "spread the events' times over this many days before now (1: a live feed; 30: a feed that also carries late events)")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	if *url != "" && (*token == "" || cfg.ClickHouse.Addr == "") {
		return errors.New("bench ingest: --url needs --token and --clickhouse-addr (the server behind it, for the raw baseline)")
	}
	if *events < 1 || *clients < 1 || *perReq < 1 || *days < 1 {
		return errors.New("bench ingest: --events, --clients, --request-events and --days must be positive")
	}
	log := logger(cfg, e.stderr)
	out := e.stdout

	tmp, err := os.MkdirTemp("", "adoptscope-bench-ingest-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.ClickHouse.Addr == "" {
		srv, err := chserver.Start(ctx, chserver.Options{Dir: filepath.Join(tmp, "clickhouse"), Logger: log})
		if err != nil {
			return err
		}
		defer srv.Stop()
		cfg.ClickHouse.Addr = srv.TCPAddr
		fmt.Fprintf(out, "managed ClickHouse in %s (%s)\n", tmp, srv.TCPAddr)
	}

	fmt.Fprintf(out, "generating %d events...\n", *events)
	inputs, bodies := benchEvents(*events, *perReq, *days, *seed)
	var bodyBytes int
	for _, b := range bodies {
		bodyBytes += len(b)
	}

	// Raw baseline: the same rows through clickhouse-go, into databases
	// migrated with the same schema (so both sides pay the same
	// materialized views), then into a bare copy of events for reference.
	raw, err := benchRaw(ctx, cfg.ClickHouse, inputs, out, log)
	if err != nil {
		return err
	}
	inputs = nil
	runtime.GC() // the sending side keeps only the bodies

	// The ingest process.
	target, tok := *url, *token
	ingestPID := *pid
	db := "bench_ingest_" + strconv.FormatInt(time.Now().Unix(), 10)
	if target == "" {
		tok = "bench-token-" + strconv.FormatUint(rand.Uint64(), 16)
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(exe, "ingest", "--addr", addr, "--data-dir", filepath.Join(tmp, "ingest"),
			"--clickhouse-addr", cfg.ClickHouse.Addr, "--clickhouse-database", db, "--ingest-tokens", tok,
			"--ingest-batch-rows", strconv.Itoa(*batchRows), "--log-level", "warn")
		cmd.Stdout = io.Discard
		cmd.Stderr = e.stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			return err
		}
		defer func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}()
		ingestPID = cmd.Process.Pid
		target = "http://" + addr
		if err := waitHealthy(ctx, target, 60*time.Second); err != nil {
			return err
		}
	}

	settle()
	fmt.Fprintf(out, "sending %d events over HTTP: %d clients, %d events per request, %.1f MiB of NDJSON\n", *events, *clients, *perReq, float64(bodyBytes)/(1<<20))
	var rssMax atomic.Int64
	stopSample := make(chan struct{})
	var sampled sync.WaitGroup
	if ingestPID > 0 {
		sampled.Add(1)
		go func() {
			defer sampled.Done()
			for {
				if kb := procStatusKB(ingestPID, "VmRSS:"); kb > rssMax.Load() {
					rssMax.Store(kb)
				}
				select {
				case <-stopSample:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	before, _ := scrapeBatches(ctx, target)
	res, took, err := benchSend(ctx, target, tok, bodies, *clients)
	sent := time.Now()
	close(stopSample)
	sampled.Wait()
	if err != nil {
		return err
	}
	after, batchErr := scrapeBatches(ctx, target)
	rate := float64(*events) / took.Seconds()

	// Every event stored, once; and the rollups built behind ingest: how
	// long after the last answer they held every event.
	stored := -1
	var rollupLag time.Duration
	var midWindows, midRows uint64
	if *url == "" {
		sc := cfg.ClickHouse
		sc.Database = db
		s, err := store.Open(ctx, sc, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil {
			qctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			if b := rollup.New(s, rollup.Config{}, log); b.Enabled() {
				// Windows the ingest process built while the clients were
				// still sending compete with them for the CPU.
				if err := s.Conn.QueryRow(qctx, "SELECT count(), sum(rows) FROM rollup_windows WHERE built_at <= ?", sent.UTC()).Scan(&midWindows, &midRows); err != nil {
					midWindows = 0
				}
				if _, err := b.CatchUp(qctx); err != nil {
					cancel()
					s.Close()
					return fmt.Errorf("bench ingest: wait for the rollups: %w", err)
				}
				rollupLag = time.Since(sent)
			}
			var n uint64
			if err := s.Conn.QueryRow(qctx, "SELECT count() FROM events").Scan(&n); err == nil {
				stored = int(n)
			}
			var inRollups uint64
			if err := s.Conn.QueryRow(qctx, "SELECT (SELECT sum(events) FROM rollup_events_day) = (SELECT sum(toUInt64(count)) FROM events)").Scan(&inRollups); err == nil && inRollups != 1 {
				cancel()
				s.Close()
				return errors.New("bench ingest: the rollups do not hold every stored event")
			}
			cancel()
			s.Close()
		}
	}

	fmt.Fprintf(out, "raw clickhouse-go insert, 100000-row batches, same schema: row append %.0f rows/s, columnar append %.0f rows/s\n", raw.row, raw.col)
	fmt.Fprintf(out, "raw clickhouse-go insert into a bare copy of events (no materialized views): columnar %.0f rows/s\n", raw.bare)
	fmt.Fprintf(out, "ingest over HTTP: %d events in %s = %.0f events/s (accepted %d, duplicates %d, rejected %d, 503 retries %d",
		*events, took.Round(time.Millisecond), rate, res.Accepted, res.Duplicates, res.Rejected, res.retries)
	if stored >= 0 {
		fmt.Fprintf(out, ", stored %d", stored)
	}
	fmt.Fprintln(out, ")")
	if rollupLag > 0 {
		fmt.Fprintf(out, "rollups built behind ingest: %d rows in %d windows while sending; caught up %s after the last answer; events/s with the rollups built: %.0f\n",
			midRows, midWindows, rollupLag.Round(10*time.Millisecond), float64(*events)/(took+rollupLag).Seconds())
	}
	if batchErr == nil {
		fmt.Fprintln(out, after.since(before))
	}
	if ingestPID > 0 {
		fmt.Fprintf(out, "ingest process RSS: max %.0f MiB while sending (peak VmHWM %.0f MiB)\n", float64(rssMax.Load())/1024, float64(procStatusKB(ingestPID, "VmHWM:"))/1024)
	} else {
		fmt.Fprintln(out, "ingest process RSS: not sampled (pass --pid)")
	}
	if stored >= 0 && stored != *events {
		return fmt.Errorf("bench ingest: %d events sent, %d stored", *events, stored)
	}
	fmt.Fprintf(out, "ingest/raw ratio: %.2f\n", rate/max(raw.row, raw.col))
	return nil
}

// benchEvents generates realistic events: a panel of people using a few
// assistants over the last days (a month by default), mostly text
// messages, several events per person per day; and the same events as NDJSON request bodies.
func benchEvents(n, perReq, days int, seed uint64) ([]ingest.Input, [][]byte) {
	r := rand.New(rand.NewPCG(seed, 2))
	// Ids are new on every run (a rerun against the same instance must not
	// turn into a duplicates benchmark); the rest follows the seed.
	run := rand.Uint32()
	assistants := []string{"chatgpt", "chatgpt", "chatgpt", "meta_ai", "meta_ai", "copilot", "perplexity"}
	channels := []string{"whatsapp", "whatsapp", "ios", "android", "android", "web", "desktop", "messenger", "instagram"}
	types := []string{"message", "message", "message", "message", "message", "message", "session_start", "session_start", "signup", "account_linked"}
	mods := []string{"text", "text", "text", "text", "voice", "image", "image_generation"}
	countries := []string{"US", "BR", "IN", "FR", "DE", "MX", "ID", "NG", "GB", "ES"}
	people := max(n/40, 1)
	end := time.Now().UTC().Truncate(time.Second)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	span := int64(end.Sub(start) / time.Second)
	inputs := make([]ingest.Input, n)
	for i := range inputs {
		p := r.IntN(people)
		inputs[i] = ingest.Input{
			EventID:   fmt.Sprintf("%08x-%016x-%08x", run, r.Uint64(), i),
			Time:      start.Add(time.Duration(r.Int64N(span)) * time.Second),
			Assistant: assistants[p%len(assistants)],
			Channel:   channels[(p/7+r.IntN(2))%len(channels)],
			UserID:    "+1555" + strconv.Itoa(1000000+p),
			EventType: types[r.IntN(len(types))],
			Modality:  mods[r.IntN(len(mods))],
			Country:   countries[p%len(countries)],
			Count:     uint32(1 + r.IntN(3)),
			Linked:    p%3 == 0,
			Source:    "bench",
		}
	}
	var bodies [][]byte
	for i := 0; i < n; i += perReq {
		var b bytes.Buffer
		for _, in := range inputs[i:min(i+perReq, n)] {
			b.WriteString(`{"event_id":"`)
			b.WriteString(in.EventID)
			b.WriteString(`","time":"`)
			b.WriteString(in.Time.Format(time.RFC3339))
			fmt.Fprintf(&b, `","assistant":%q,"channel":%q,"user_id":%q,"event_type":%q,"modality":%q,"country":%q,"count":%d,"linked":%t,"source":%q}`+"\n",
				in.Assistant, in.Channel, in.UserID, in.EventType, in.Modality, in.Country, in.Count, in.Linked, in.Source)
		}
		bodies = append(bodies, b.Bytes())
	}
	return inputs, bodies
}

type rawRates struct{ row, col, bare float64 }

func benchRaw(ctx context.Context, sc store.Config, inputs []ingest.Input, out io.Writer, log *slog.Logger) (rawRates, error) {
	var rates rawRates
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The rows as ingest would write them (user key: any 64-bit hash will
	// do for the baseline), converted 100,000 at a time outside the clock.
	now := time.Now().UTC()
	rows := make([]ingest.Event, 0, 100_000)
	convert := func(part []ingest.Input) []ingest.Event {
		rows = rows[:0]
		for _, in := range part {
			h := uint64(14695981039346656037)
			for j := 0; j < len(in.UserID); j++ {
				h = (h ^ uint64(in.UserID[j])) * 1099511628211
			}
			rows = append(rows, ingest.Event{EventID: in.EventID, Time: in.Time.UTC(), ReceivedAt: now, Assistant: in.Assistant, Channel: in.Channel,
				EventType: in.EventType, Modality: in.Modality, UserKey: h, Country: in.Country, Count: in.Count, Linked: in.Linked, Source: in.Source})
		}
		return rows
	}
	run := func(db string, columnar bool, table string) (float64, error) {
		c := sc
		c.Database = db
		s, err := store.Open(ctx, c, quiet)
		if err != nil {
			return 0, err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_ = s.Conn.Exec(dctx, "DROP DATABASE IF EXISTS "+db)
			s.Close()
		}()
		if _, err := schema.Migrate(ctx, s, quiet); err != nil {
			return 0, err
		}
		if table != "events" {
			// 18.16 creates LowCardinality columns only with this setting.
			cctx := clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}))
			if err := s.Conn.Exec(cctx, "CREATE TABLE "+table+" AS events"); err != nil {
				return 0, err
			}
		}
		settle()
		var took time.Duration
		for i := 0; i < len(inputs); i += 100_000 {
			batch := convert(inputs[i:min(i+100_000, len(inputs))])
			start := time.Now()
			if err := ingest.InsertBatch(ctx, s, table, batch, columnar); err != nil {
				return 0, err
			}
			took += time.Since(start)
		}
		return float64(len(inputs)) / took.Seconds(), nil
	}
	suffix := strconv.FormatInt(time.Now().Unix(), 10)
	var err error
	if rates.row, err = run("bench_raw_row_"+suffix, false, "events"); err != nil {
		return rates, fmt.Errorf("raw row insert: %w", err)
	}
	if rates.col, err = run("bench_raw_col_"+suffix, true, "events"); err != nil {
		return rates, fmt.Errorf("raw columnar insert: %w", err)
	}
	if rates.bare, err = run("bench_raw_bare_"+suffix, true, "events_bare"); err != nil {
		return rates, fmt.Errorf("raw bare insert: %w", err)
	}
	return rates, nil
}

// settle writes the dirty pages of what ran before (the previous phase,
// the previous run's server and its deleted folder) to disk before a timed
// phase starts, so that the kernel's writeback of them cannot run inside
// it. Hygiene: runs of two builds in a fixed order favoured the one run
// first (5-8 %, five pairs of five), but this is not shown to be why.
func settle() { syscall.Sync() }

type sendResult struct {
	ingest.Result
	retries int
}

func benchSend(ctx context.Context, url, token string, bodies [][]byte, clients int) (sendResult, time.Duration, error) {
	var res sendResult
	var mu sync.Mutex
	work := make(chan []byte, len(bodies))
	for _, b := range bodies {
		work <- b
	}
	close(work)
	tr := &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	defer tr.CloseIdleConnections()
	errc := make(chan error, clients)
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				for {
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/events", bytes.NewReader(b))
					req.Header.Set("Authorization", "Bearer "+token)
					req.Header.Set("Content-Type", "application/x-ndjson")
					resp, err := client.Do(req)
					if err != nil {
						errc <- err
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						mu.Lock()
						res.retries++
						mu.Unlock()
						time.Sleep(100 * time.Millisecond)
						continue
					}
					if resp.StatusCode != http.StatusOK {
						errc <- fmt.Errorf("ingest answered %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
						return
					}
					var r ingest.Result
					if err := json.Unmarshal(body, &r); err != nil {
						errc <- err
						return
					}
					mu.Lock()
					res.Accepted += r.Accepted
					res.Duplicates += r.Duplicates
					res.Rejected += r.Rejected
					mu.Unlock()
					break
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	close(errc)
	if err := <-errc; err != nil {
		return res, took, err
	}
	return res, took, nil
}

// batchStats are the ingest histograms' totals, read from /metrics: the
// batches a run formed are what its rate mostly depends on (each insert
// and each dedup lookup costs the server a fixed part per batch).
type batchStats struct {
	batches, rows, flushSec, lookupSec float64
}

func (b batchStats) since(a batchStats) string {
	n := b.batches - a.batches
	if n <= 0 {
		return "batches: none"
	}
	return fmt.Sprintf("batches: %.0f, %.0f rows on average; per batch: flush %.0f ms, of which dedup lookup %.0f ms",
		n, (b.rows-a.rows)/n, 1000*(b.flushSec-a.flushSec)/n, 1000*(b.lookupSec-a.lookupSec)/n)
}

func scrapeBatches(ctx context.Context, base string) (batchStats, error) {
	var st batchStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return st, err
	}
	hist := func(name string) (count, sum float64) {
		f := fams[name]
		if f == nil || len(f.GetMetric()) == 0 {
			return 0, 0
		}
		h := f.GetMetric()[0].GetHistogram()
		return float64(h.GetSampleCount()), h.GetSampleSum()
	}
	st.batches, st.rows = hist("adoptscope_ingest_batch_rows")
	_, st.flushSec = hist("adoptscope_ingest_flush_seconds")
	_, st.lookupSec = hist("adoptscope_ingest_dedup_lookup_seconds")
	return st, nil
}

func waitHealthy(ctx context.Context, base string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("ingest at %s did not become healthy within %s", base, d)
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// procStatusKB reads a kB field (VmRSS:, VmHWM:) of /proc/PID/status.
func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field) {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}
