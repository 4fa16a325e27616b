package breaks

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// DefaultHistoryDays is how many complete days a run reads per series.
const DefaultHistoryDays = 365

// Detector runs Detect over the daily active people of every assistant ×
// channel series of complete days and records what it finds as suggested
// annotations (annotation.Service.RecordBreaks). One run at a time.
type Detector struct {
	store       *store.Store
	annotations *annotation.Service
	log         *slog.Logger
	// Options tune the algorithm; HistoryDays is how far back a run reads.
	Options     Options
	HistoryDays int
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	mu      sync.Mutex // one run at a time
	runs    *prometheus.CounterVec
	lastRun prometheus.Gauge
}

// NewDetector returns a detector over s that records into a.
func NewDetector(s *store.Store, a *annotation.Service, log *slog.Logger) *Detector {
	if log == nil {
		log = slog.Default()
	}
	return &Detector{store: s, annotations: a, log: log, HistoryDays: DefaultHistoryDays,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adoptscope_breaks_runs_total",
			Help: "Break detection runs, by result (ok, error)."}, []string{"result"}),
		lastRun: prometheus.NewGauge(prometheus.GaugeOpts{Name: "adoptscope_breaks_last_run_day",
			Help: "The last complete day (Unix seconds of its midnight, UTC) the last successful detection run read up to."}),
	}
}

// Result says what a run read and found.
type Result struct {
	From, To time.Time // the days read
	Series   int       // series with activity
	Found    int       // breaks found
	annotation.BreakRun
}

func (r Result) String() string {
	return fmt.Sprintf("%d series over %s..%s: %d breaks (%d new, %d updated, %d already accepted or dismissed, %d withdrawn)",
		r.Series, r.From.Format(catalog.DateLayout), r.To.Format(catalog.DateLayout), r.Found, r.New, r.Updated, r.Ignored, r.Withdrawn)
}

func (d *Detector) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Run detects breaks in the complete days of the last HistoryDays.
func (d *Detector) Run(ctx context.Context) (Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	res, err := d.run(ctx)
	if err != nil {
		d.runs.WithLabelValues("error").Inc()
		return res, err
	}
	d.runs.WithLabelValues("ok").Inc()
	d.lastRun.Set(float64(res.To.Unix()))
	return res, nil
}

// Scan finds the breaks of every assistant × channel series over the
// complete days of the last HistoryDays, without recording them.
func (d *Detector) Scan(ctx context.Context) (Result, []annotation.DetectedBreak, []annotation.ScannedSeries, error) {
	var res Result
	fr, err := query.Freshness(ctx, d.store, d.now())
	if err != nil {
		return res, nil, nil, err
	}
	if fr.Empty() {
		return res, nil, nil, nil
	}
	days := d.HistoryDays
	if days <= 0 {
		days = DefaultHistoryDays
	}
	res.To = fr.LastCompleteDay(time.UTC)
	res.From = res.To.AddDate(0, 0, -(days - 1))
	if first := fr.FirstDay(time.UTC); res.From.Before(first) {
		res.From = first
	}
	n := int(res.To.Sub(res.From).Hours()/24) + 1
	o := d.Options.withDefaults()
	if n < 2*o.MinSegment {
		return res, nil, nil, nil
	}
	series, err := query.Series(ctx, d.store, query.SeriesRequest{Metric: query.ActiveUsers, Interval: query.Day, From: res.From, To: res.To,
		By: []query.Dim{query.DimAssistant, query.DimChannel}, Partial: true, Freshness: &fr})
	if err != nil {
		return res, nil, nil, err
	}
	values := map[[2]string][]float64{}
	var order [][2]string
	for _, row := range series.Rows {
		k := [2]string{row.Dims[0], row.Dims[1]}
		v, ok := values[k]
		if !ok {
			v = make([]float64, n)
			values[k] = v
			order = append(order, k)
		}
		if i := int(row.Period.Sub(res.From).Hours() / 24); i >= 0 && i < n {
			v[i] = row.Value
		}
	}
	var found []annotation.DetectedBreak
	var scanned []annotation.ScannedSeries
	metric := string(query.ActiveUsers)
	for _, k := range order {
		y := values[k]
		res.Series++
		scanned = append(scanned, annotation.ScannedSeries{Assistant: k[0], Channel: k[1], Metric: metric,
			From: res.From.Format(catalog.DateLayout), To: res.To.Format(catalog.DateLayout), Margin: o.MinSegment})
		for _, b := range Detect(y, o) {
			day := func(i int) string { return res.From.AddDate(0, 0, i).Format(catalog.DateLayout) }
			found = append(found, annotation.DetectedBreak{Assistant: k[0], Channel: k[1], Metric: metric,
				Day: day(b.Index), RangeStart: day(b.First), RangeEnd: day(b.Last),
				Before: round1(b.Before), After: round1(b.After)})
		}
	}
	res.Found = len(found)
	return res, found, scanned, nil
}

func (d *Detector) run(ctx context.Context) (Result, error) {
	res, found, scanned, err := d.Scan(ctx)
	if err != nil || res.Series == 0 {
		return res, err
	}
	res.BreakRun, err = d.annotations.RecordBreaks(ctx, found, scanned)
	return res, err
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }

// Collectors are the detector's metrics for /metrics: runs by result, the
// last day read, and the stored breaks by status
// (adoptscope_breaks_detected{status}, read from the store at scrape).
func (d *Detector) Collectors() []prometheus.Collector {
	return []prometheus.Collector{d.runs, d.lastRun, countsCollector{d.annotations}}
}

var breaksDesc = prometheus.NewDesc("adoptscope_breaks_detected", "Detected breaks stored, by status (suggested, accepted, dismissed, withdrawn).", []string{"status"}, nil)

type countsCollector struct{ a *annotation.Service }

func (c countsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- breaksDesc }

func (c countsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.a.BreakCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(breaksDesc, err)
		return
	}
	for _, s := range []string{annotation.BreakSuggested, annotation.BreakAccepted, annotation.BreakDismissed, annotation.BreakWithdrawn} {
		ch <- prometheus.MustNewConstMetric(breaksDesc, prometheus.GaugeValue, float64(counts[s]), s)
	}
}

// Loop runs the detector after each complete day: it checks every
// interval whether the data's last complete day moved on since the last
// successful run, and runs when it did (and once at start).
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs d in the background every time a day completes, checking
// every interval (default one minute).
func (d *Detector) Start(interval time.Duration) *Loop {
	if interval <= 0 {
		interval = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		var last time.Time
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			t.Reset(interval)
			fctx, fcancel := context.WithTimeout(ctx, 15*time.Second)
			fr, err := query.Freshness(fctx, d.store, d.now())
			fcancel()
			if err != nil {
				d.log.Warn("break detection: read freshness", "error", err)
				continue
			}
			day := fr.LastCompleteDay(time.UTC)
			if fr.Empty() || !day.After(last) {
				continue
			}
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
			res, err := d.Run(rctx)
			rcancel()
			if err != nil {
				d.log.Error("break detection failed (retried in a minute)", "error", err)
				continue
			}
			last = day
			d.log.Info("break detection", "result", res.String())
		}
	}()
	return l
}

// Stop ends the loop and waits for a run in progress to end.
func (l *Loop) Stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
