package cli

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

func init() {
	benchmarks["export"] = command{
		"write 1 and 10 million rows through the export pipeline (ClickHouse stream -> CSV file); rows/s and peak memory",
		runBenchExport,
	}
}

func runBenchExport(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("bench export", benchmarks["export"].summary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	sizes := fs.String("rows", "1000000,10000000", "comma-separated row counts to export")
	source := fs.String("source", "clickhouse", "clickhouse: rows streamed from the server (native protocol), shaped like a series answer; memory: rows made in Go (the file writer alone)")
	dir := fs.String("dir", "", "folder for the files (default: a temporary folder, removed afterwards)")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["clickhouse-database"] && cfg.ClickHouse.Database == "adoptscope" {
		cfg.ClickHouse.Database = "adoptscope_bench"
	}
	var ns []int64
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("--rows %q: want comma-separated positive numbers", *sizes)
		}
		ns = append(ns, n)
	}
	if *source != "clickhouse" && *source != "memory" {
		return fmt.Errorf("--source %q: want clickhouse or memory", *source)
	}
	var s *store.Store
	if *source == "clickhouse" {
		b, err := app.OpenBackend(ctx, &cfg, logger(cfg, e.stderr))
		if err != nil {
			return err
		}
		defer b.Close()
		s = b.Store
		fmt.Fprintf(e.stdout, "ClickHouse %s at %s\n", s.Version, s.Addr)
	}
	root := *dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "adoptscope-bench-export-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	fmt.Fprintf(e.stdout, "GOMAXPROCS %d, source %s, files in %s\n", runtime.GOMAXPROCS(0), *source, root)
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rows\tseconds\trows/s\tfile MiB\tpeak heap MiB\tpeak Go sys MiB\t")
	for _, n := range ns {
		var t export.Table
		if s != nil {
			t = &chBenchTable{ctx: ctx, s: s, n: n}
		} else {
			t = &memBenchTable{n: n}
		}
		runtime.GC()
		debug.FreeOSMemory()
		peak := sampleMemory()
		start := time.Now()
		rows, bytes, _, err := export.WriteFile(root, fmt.Sprintf("bench_%d.csv", n), t, export.FileOptions{Delimiter: ','}, false)
		took := time.Since(start)
		heap, sys := peak()
		if err != nil {
			return fmt.Errorf("bench export %d rows: %w", n, err)
		}
		if rows != n {
			return fmt.Errorf("bench export: wrote %d rows, want %d", rows, n)
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", n, took.Seconds(), float64(n)/took.Seconds(),
			float64(bytes)/(1<<20), float64(heap)/(1<<20), float64(sys)/(1<<20))
		os.Remove(root + "/" + fmt.Sprintf("bench_%d.csv", n))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hwm := peakRSS(); hwm > 0 {
		fmt.Fprintf(e.stdout, "process peak RSS (VmHWM, whole run): %.1f MiB\n", float64(hwm)/(1<<20))
	}
	fmt.Fprintln(e.stdout, "target: at least 500,000 rows/s written, under 100 MiB peak")
	return nil
}

// sampleMemory samples the Go heap in use and the memory the Go runtime
// holds from the OS every 5 ms until the returned function is called, which
// returns the peaks.
func sampleMemory() func() (heap, sys uint64) {
	var stop atomic.Bool
	var wg sync.WaitGroup
	var peakHeap, peakSys uint64
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for !stop.Load() {
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
			peakSys = max(peakSys, m.Sys-m.HeapReleased)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return func() (uint64, uint64) {
		stop.Store(true)
		wg.Wait()
		return peakHeap, peakSys
	}
}

// peakRSS reads VmHWM from /proc (0 where there is none).
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

var (
	exportBenchAssistants = []string{"chatgpt", "meta_ai", "copilot", "perplexity"}
	exportBenchChannels   = []string{"whatsapp", "ios", "android", "web", "desktop"}
	exportBenchCountries  = []string{"EG", "FR", "US", "IN", "BR", "DE", "NG", "MX", "ID", "GB"}
)

// chBenchTable streams n rows shaped like a daily series by assistant,
// channel and country from ClickHouse (system.numbers), and formats them
// the way the series export does.
type chBenchTable struct {
	ctx context.Context
	s   *store.Store
	n   int64
}

func (t *chBenchTable) Columns() []string {
	return []string{"period", "assistant", "channel", "country", "value"}
}

func (t *chBenchTable) Each(fn func([]string) error) error {
	ctx, cancel := context.WithTimeout(t.ctx, time.Hour)
	defer cancel()
	rows, err := t.s.Conn.Query(ctx, `SELECT toDate('2024-01-01') + toUInt32(intDiv(number, 2000)) AS period,
		toUInt8(number % 4) AS a, toUInt8(intDiv(number, 4) % 5) AS c, toUInt8(intDiv(number, 20) % 10) AS k,
		toFloat64(cityHash64(number) % 100000) AS v
		FROM system.numbers LIMIT ?`, uint64(t.n))
	if err != nil {
		return err
	}
	defer rows.Close()
	rec := make([]string, 5)
	var period time.Time
	var a, c, k uint8
	var v float64
	lastDay := time.Time{}
	day := ""
	for rows.Next() {
		if err := rows.Scan(&period, &a, &c, &k, &v); err != nil {
			return err
		}
		if !period.Equal(lastDay) {
			lastDay, day = period, period.Format(query.DateLayout)
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = day, exportBenchAssistants[a], exportBenchChannels[c], exportBenchCountries[k], query.FormatNumber(v)
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

// memBenchTable makes the same rows in Go: the writer alone.
type memBenchTable struct{ n int64 }

func (t *memBenchTable) Columns() []string {
	return []string{"period", "assistant", "channel", "country", "value"}
}

func (t *memBenchTable) Each(fn func([]string) error) error {
	rec := make([]string, 5)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	day := ""
	for i := int64(0); i < t.n; i++ {
		if i%2000 == 0 {
			day = base.AddDate(0, 0, int(i/2000)).Format(query.DateLayout)
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = day, exportBenchAssistants[i%4], exportBenchChannels[(i/4)%5], exportBenchCountries[(i/20)%10], strconv.FormatInt((i*7919)%100000, 10)
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
