package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
)

// ingestTarget is the ingest the clients send to.
type ingestTarget = child

// startIngest starts an ingest process of this binary on database db of the
// ClickHouse at chAddr, with its data folder under dir; or, with o.URL,
// targets the running one.
func startIngest(ctx context.Context, o IngestOptions, chAddr, chPassword, dir, db string) (ingestTarget, error) {
	if o.URL != "" {
		return ingestTarget{url: o.URL, token: o.Token, pid: o.PID, stop: func() {}}, nil
	}
	return startChild(ctx, o.Stderr, "bench", chPassword, func(addr, tok string) []string {
		return []string{"ingest", "--addr", addr, "--data-dir", filepath.Join(dir, "ingest"),
			"--clickhouse-addr", chAddr, "--clickhouse-database", db, "--ingest-tokens", tok,
			"--ingest-batch-rows", strconv.Itoa(o.BatchRows), "--log-level", "warn"}
	})
}

// httpRun is what the HTTP phase measured.
type httpRun struct {
	res      sendResult
	took     time.Duration
	sent     time.Time // when the last answer came
	pid      int       // the ingest process sampled; 0: none
	rssMaxKB int64
	batches  string // the batches the run formed; empty when /metrics did not answer
	window   string // the dedup window and the lookup per batch; empty when /metrics did not answer
}

// sendMeasured sends the bodies from o.Clients concurrent clients,
// sampling the memory of the ingest process and reading its batch
// histograms before and after.
func sendMeasured(ctx context.Context, t ingestTarget, bodies [][]byte, o IngestOptions, w io.Writer) (httpRun, error) {
	var size int
	for _, b := range bodies {
		size += len(b)
	}
	settle()
	fmt.Fprintf(w, "sending %d events over HTTP: %d clients, %d events per request, %.1f MiB of NDJSON\n", o.Events, o.Clients, o.RequestEvents, float64(size)/(1<<20))
	run := httpRun{pid: t.pid}
	stopSample := sampleRSS(t.pid)
	before, _ := scrapeBatches(ctx, t.url)
	res, took, err := benchSend(ctx, t.url, t.token, bodies, o.Clients)
	run.sent = time.Now()
	run.rssMaxKB = stopSample()
	if err != nil {
		return run, err
	}
	run.res, run.took = res, took
	if after, err := scrapeBatches(ctx, t.url); err == nil {
		run.batches = after.since(before)
	}
	return run, nil
}

// sampleRSS samples the resident memory of process pid every 100 ms until
// the returned function is called, which returns the peak in kB (0 for
// pid 0).
func sampleRSS(pid int) (stop func() int64) {
	if pid <= 0 {
		return func() int64 { return 0 }
	}
	var peak atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if kb := procStatusKB(pid, "VmRSS:"); kb > peak.Load() {
				peak.Store(kb)
			}
			select {
			case <-done:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

type sendResult struct {
	ingest.Result
	retries int
}

func benchSend(ctx context.Context, url, token string, bodies [][]byte, clients int) (sendResult, time.Duration, error) {
	return benchSendTo(ctx, url, targetOf("", token), bodies, clients)
}

// benchSendTo sends bodies to one endpoint (/v1/events, or an SDK API's).
func benchSendTo(ctx context.Context, url string, target sdkTarget, bodies [][]byte, clients int) (sendResult, time.Duration, error) {
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
					req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+target.path, bytes.NewReader(b))
					req.Header = target.header.Clone()
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
	fams, err := scrapeMetrics(ctx, http.DefaultClient, base)
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
