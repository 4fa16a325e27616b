package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// The sources of the rows the export benchmark writes.
const (
	SourceClickHouse = "clickhouse" // streamed from the server, shaped like a series answer
	SourceMemory     = "memory"     // made in Go: the file writer alone
)

// ExportOptions are the settings of the export benchmark; the flags of
// `adoptscope bench export` fill them, and its errors name those flags.
type ExportOptions struct {
	// Config opens the backend as the app does (for SourceClickHouse
	// only); its database should be the benchmark's own.
	Config config.Config
	Log    *slog.Logger
	Rows   []int64 // row counts to export, one file each
	Source string  // SourceClickHouse or SourceMemory
	Dir    string  // folder for the files; empty: a temporary folder, removed afterwards
}

func (o ExportOptions) validate() error {
	if o.Source != SourceClickHouse && o.Source != SourceMemory {
		return fmt.Errorf("--source %q: want clickhouse or memory", o.Source)
	}
	for _, n := range o.Rows {
		if n <= 0 {
			return fmt.Errorf("--rows %d: want positive numbers", n)
		}
	}
	return nil
}

// Export writes each row count through the export pipeline into a CSV file
// and writes rows/s and peak memory to w.
func Export(ctx context.Context, o ExportOptions, w io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	var s *store.Store
	if o.Source == SourceClickHouse {
		cfg := o.Config
		b, err := app.OpenBackend(ctx, &cfg, o.Log)
		if err != nil {
			return err
		}
		defer b.Close()
		s = b.Store
		fmt.Fprintf(w, "ClickHouse %s at %s\n", s.Version, s.Addr)
	}
	root := o.Dir
	if root == "" {
		tmp, err := os.MkdirTemp("", "adoptscope-bench-export-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	fmt.Fprintf(w, "GOMAXPROCS %d, source %s, files in %s\n", runtime.GOMAXPROCS(0), o.Source, root)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rows\tseconds\trows/s\tfile MiB\tpeak heap MiB\tpeak Go sys MiB\t")
	for _, n := range o.Rows {
		var t export.Table = &memBenchTable{n: n}
		if s != nil {
			t = &chBenchTable{ctx: ctx, s: s, n: n}
		}
		r, err := exportOnce(root, t, n)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%d\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t\n", n, r.took.Seconds(), float64(n)/r.took.Seconds(),
			float64(r.bytes)/(1<<20), float64(r.heap)/(1<<20), float64(r.sys)/(1<<20))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hwm := procStatusKB(os.Getpid(), "VmHWM:"); hwm > 0 {
		fmt.Fprintf(w, "process peak RSS (VmHWM, whole run): %.1f MiB\n", float64(hwm<<10)/(1<<20))
	}
	fmt.Fprintln(w, "target: at least 500,000 rows/s written, under 100 MiB peak")
	return nil
}

// exportRun is what writing one file measured.
type exportRun struct {
	took      time.Duration
	bytes     int64
	heap, sys uint64
}

// exportOnce writes the n rows of t into a file in root, from a freshly
// collected heap, and removes the file.
func exportOnce(root string, t export.Table, n int64) (exportRun, error) {
	var r exportRun
	name := fmt.Sprintf("bench_%d.csv", n)
	runtime.GC()
	debug.FreeOSMemory()
	peak := sampleMemory()
	start := time.Now()
	rows, bytes, _, err := export.WriteFile(root, name, t, export.FileOptions{Delimiter: ','}, false)
	r.took = time.Since(start)
	r.heap, r.sys = peak()
	if err != nil {
		return r, fmt.Errorf("bench export %d rows: %w", n, err)
	}
	if rows != n {
		return r, fmt.Errorf("bench export: wrote %d rows, want %d", rows, n)
	}
	r.bytes = bytes
	os.Remove(filepath.Join(root, name))
	return r, nil
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
			lastDay, day = period, period.Format(catalog.DateLayout)
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
			day = base.AddDate(0, 0, int(i/2000)).Format(catalog.DateLayout)
		}
		rec[0], rec[1], rec[2], rec[3], rec[4] = day, exportBenchAssistants[i%4], exportBenchChannels[(i/4)%5], exportBenchCountries[(i/20)%10], strconv.FormatInt((i*7919)%100000, 10)
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}
