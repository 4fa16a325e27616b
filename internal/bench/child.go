package bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// child is a process of this binary that a benchmark sends to (an
// `ingest` or an `up`), or a running instance given by URL.
type child struct {
	url, token string
	pid        int // 0: memory not sampled
	stop       func()
}

// startChild starts this binary with the arguments args gives for a free
// address and a fresh token (named prefix-…), and waits until it answers
// /healthz. It dies with the benchmark.
// The ClickHouse password reaches the child in its environment
// (ADOPTSCOPE_CLICKHOUSE_PASSWORD), not on its command line, where any
// local user would read it.
func startChild(ctx context.Context, stderr io.Writer, prefix, chPassword string, args func(addr, token string) []string) (child, error) {
	tok := prefix + "-token-" + strconv.FormatUint(rand.Uint64(), 16)
	addr, err := freeAddr()
	if err != nil {
		return child{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return child{}, err
	}
	cmd := exec.Command(exe, args(addr, tok)...)
	cmd.Env = append(os.Environ(), "ADOPTSCOPE_CLICKHOUSE_PASSWORD="+chPassword)
	cmd.Stdout = io.Discard
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return child{}, err
	}
	c := child{url: "http://" + addr, token: tok, pid: cmd.Process.Pid, stop: func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}}
	if err := waitHealthy(ctx, c.url, 60*time.Second); err != nil {
		c.stop()
		return child{}, err
	}
	return c, nil
}

// scrapeMetrics reads an instance's /metrics.
func scrapeMetrics(ctx context.Context, hc *http.Client, base string) (map[string]*dto.MetricFamily, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// metricValue is the value of the first series of the gauge or counter
// name in fams (0 when absent).
func metricValue(fams map[string]*dto.MetricFamily, name string) float64 {
	f := fams[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0
	}
	m := f.GetMetric()[0]
	if m.GetGauge() != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}
