package ingest

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the pipeline's Prometheus metrics, in their own registry so
// that several pipelines (tests, bench) do not collide.
type Metrics struct {
	Registry      *prometheus.Registry
	events        *prometheus.CounterVec
	rejected      *prometheus.CounterVec
	batchRows     prometheus.Histogram
	flushSeconds  prometheus.Histogram
	lookupSeconds prometheus.Histogram
	chErrors      *prometheus.CounterVec
	busy          prometheus.Counter
	// Requests counts HTTP answers by status code.
	Requests *prometheus.CounterVec
}

func newMetrics(p *Pipeline) *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_ingest_events_total", Help: "Events by outcome: accepted (committed), duplicate (already stored or repeated).",
		}, []string{"result"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_ingest_events_rejected_total", Help: "Events rejected, by reason: the field at fault, or malformed.",
		}, []string{"reason"}),
		batchRows: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "adoptscope_ingest_batch_rows", Help: "Rows per insert into ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(10, 4, 8),
		}),
		flushSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "adoptscope_ingest_flush_seconds", Help: "Time of one flush: dedup lookup plus insert.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		lookupSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "adoptscope_ingest_dedup_lookup_seconds", Help: "Time of the event_id lookup in the dedup window, per flush.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}),
		chErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_ingest_clickhouse_errors_total", Help: "Failed ClickHouse operations (each answered 503), by operation.",
		}, []string{"op"}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "adoptscope_ingest_buffer_full_total", Help: "Submissions refused because the buffer was full (503).",
		}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_ingest_http_requests_total", Help: "POST /v1/events answers by status code.",
		}, []string{"code"}),
	}
	for _, r := range []string{"accepted", "duplicate"} {
		m.events.WithLabelValues(r)
	}
	m.Registry.MustRegister(m.events, m.rejected, m.batchRows, m.flushSeconds, m.lookupSeconds, m.chErrors, m.busy, m.Requests,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_buffer_rows", Help: "Events accepted and waiting for their commit.",
		}, func() float64 { return float64(p.pending.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_buffer_capacity_rows", Help: "Buffer size: over it, submissions get 503.",
		}, func() float64 { return float64(p.cfg.BufferRows) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "adoptscope_ingest_writes_in_flight", Help: "Batches being written to ClickHouse now (at most ADOPTSCOPE_INGEST_CONCURRENT_WRITES).",
		}, func() float64 { return float64(len(p.slots)) }),
	)
	return m
}

// Metrics returns the pipeline's metrics (mount Registry on /metrics).
func (p *Pipeline) Metrics() *Metrics { return p.metrics }

// Snapshot is what the dashboard's Ingest page shows.
type Snapshot struct {
	// PerMinute: accepted events per minute over the last hour, oldest
	// first, 60 entries ending with the current minute.
	PerMinute []MinuteCount
	// RejectsByReason: rejected events since start, by field or "malformed".
	RejectsByReason map[string]uint64
	// Recent: the last accepted events, newest first, without user keys.
	Recent []RecentEvent
	// BufferRows and BufferCapacity: events waiting for their commit.
	BufferRows, BufferCapacity int
	// SDK: the PostHog / Segment endpoints' counts (filled by the app
	// from SDK.Snapshot).
	SDK []SDKEndpointStats
}

// MinuteCount is the accepted events of one minute.
type MinuteCount struct {
	Minute   time.Time
	Accepted uint64
}

// RecentEvent is an accepted event as the Ingest page shows it: no user id
// or key.
type RecentEvent struct {
	EventID    string
	Time       time.Time
	ReceivedAt time.Time
	Assistant  string
	Channel    string
	EventType  string
	Modality   string
	Country    string
	Count      uint32
	Source     string
}

const recentKept = 20

type stats struct {
	mu      sync.Mutex
	minutes [60]MinuteCount
	rejects map[string]uint64
	recent  []RecentEvent // ring, newest at the end
}

func newStats() *stats { return &stats{rejects: map[string]uint64{}} }

func (s *stats) reject(reason string) {
	s.mu.Lock()
	s.rejects[reason]++
	s.mu.Unlock()
}

func (s *stats) accepted(batch []*pending, n int, now time.Time) {
	m := now.UTC().Truncate(time.Minute)
	slot := &s.minutes[(m.Unix()/60)%60]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !slot.Minute.Equal(m) {
		*slot = MinuteCount{Minute: m}
	}
	slot.Accepted += uint64(n)
	// The last few accepted events, newest last.
	var picked []RecentEvent
	for bi := len(batch) - 1; bi >= 0 && len(picked) < recentKept; bi-- {
		pd := batch[bi]
		for i := len(pd.events) - 1; i >= 0 && len(picked) < recentKept; i-- {
			if pd.dup[i] {
				continue
			}
			e := &pd.events[i]
			picked = append(picked, RecentEvent{EventID: e.EventID, Time: e.Time, ReceivedAt: e.ReceivedAt, Assistant: e.Assistant,
				Channel: e.Channel, EventType: e.EventType, Modality: e.Modality, Country: e.Country, Count: e.Count, Source: e.Source})
		}
	}
	for i := len(picked) - 1; i >= 0; i-- {
		s.recent = append(s.recent, picked[i])
	}
	if len(s.recent) > recentKept {
		s.recent = append(s.recent[:0], s.recent[len(s.recent)-recentKept:]...)
	}
}

// Snapshot returns the Ingest page's figures for this process.
func (p *Pipeline) Snapshot() Snapshot {
	now := p.cfg.Now().UTC().Truncate(time.Minute)
	s := p.stats
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Snapshot{RejectsByReason: make(map[string]uint64, len(s.rejects)), BufferRows: int(p.pending.Load()), BufferCapacity: p.cfg.BufferRows}
	for k, v := range s.rejects {
		out.RejectsByReason[k] = v
	}
	for i := 59; i >= 0; i-- {
		m := now.Add(-time.Duration(i) * time.Minute)
		slot := s.minutes[(m.Unix()/60)%60]
		mc := MinuteCount{Minute: m}
		if slot.Minute.Equal(m) {
			mc.Accepted = slot.Accepted
		}
		out.PerMinute = append(out.PerMinute, mc)
	}
	for i := len(s.recent) - 1; i >= 0; i-- {
		out.Recent = append(out.Recent, s.recent[i])
	}
	return out
}
