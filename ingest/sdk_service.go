package ingest

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// SDK takes the messages of PostHog and Segment SDKs through the pipeline:
// the same validation, pseudonymization, dedup window (by the SDK's own
// event id) and commit as /v1/events. SDKs show no response bodies, so it
// counts every outcome by endpoint and reason, for /metrics and the
// Ingest page.
type SDK struct {
	p      *Pipeline
	mapper *SDKMapper

	messages *prometheus.CounterVec // endpoint, result
	skipped  *prometheus.CounterVec // endpoint, reason
	rejected *prometheus.CounterVec // endpoint, reason
	requests *prometheus.CounterVec // endpoint, code

	mu    sync.Mutex
	stats map[string]*SDKEndpointStats
}

// SDKResult is the outcome of one SDK request.
type SDKResult struct {
	Result
	Skipped int `json:"skipped"`
}

// SDKEndpointStats are the counts of one endpoint since start.
type SDKEndpointStats struct {
	Endpoint                                string
	Requests                                uint64
	Accepted, Duplicates, Skipped, Rejected uint64
	SkippedBy, RejectedBy                   map[string]uint64
	Failed                                  uint64 // requests answered 4xx/5xx
	LastError                               string // of the last rejected message or refused request
}

// NewSDK builds the SDK intake on p and registers its metrics on p's
// registry.
func NewSDK(p *Pipeline, cfg SDKConfig) (*SDK, error) {
	if len(cfg.KnownEventTypes) == 0 {
		cfg.KnownEventTypes = p.Config().EventTypes
	}
	m, err := NewSDKMapper(cfg)
	if err != nil {
		return nil, err
	}
	s := &SDK{
		p: p, mapper: m, stats: map[string]*SDKEndpointStats{},
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_sdk_messages_total", Help: "PostHog / Segment messages by endpoint and outcome: accepted (committed), duplicate (the SDK's id already stored), skipped (not a usage event), rejected.",
		}, []string{"endpoint", "result"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_sdk_skipped_total", Help: "SDK messages accepted but not stored (not usage events), by endpoint and reason.",
		}, []string{"endpoint", "reason"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_sdk_rejected_total", Help: "SDK messages rejected, by endpoint and reason: the field at fault, or malformed.",
		}, []string{"endpoint", "reason"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "adoptscope_sdk_requests_total", Help: "PostHog / Segment endpoint answers by endpoint and status code.",
		}, []string{"endpoint", "code"}),
	}
	p.Metrics().Registry.MustRegister(s.messages, s.skipped, s.rejected, s.requests)
	return s, nil
}

// Mapper is the mapping in use.
func (s *SDK) Mapper() *SDKMapper { return s.mapper }

// Pipeline is the pipeline the SDK writes through.
func (s *SDK) Pipeline() *Pipeline { return s.p }

func (s *SDK) endpoint(name string) *SDKEndpointStats {
	st, ok := s.stats[name]
	if !ok {
		st = &SDKEndpointStats{Endpoint: name, SkippedBy: map[string]uint64{}, RejectedBy: map[string]uint64{}}
		s.stats[name] = st
	}
	return st
}

// Submit writes the inputs of b and answers once they are committed (or
// refused: ErrBusy, ErrUnavailable, nothing acknowledged). Skips and
// rejections are counted only when the request is answered 2xx: a request
// refused with 503 comes again, and would count them twice.
func (s *SDK) Submit(ctx context.Context, endpoint string, b *SDKBatch) (SDKResult, error) {
	res, _, err := s.submit(ctx, endpoint, b)
	return res, err
}

// submit is Submit that also returns every error, uncapped, with its Line.
func (s *SDK) submit(ctx context.Context, endpoint string, b *SDKBatch) (SDKResult, []FieldError, error) {
	res, all, err := s.p.SubmitLines(ctx, b.Inputs, b.Lines, b.Errors)
	if err != nil {
		return SDKResult{}, nil, err
	}
	out := SDKResult{Result: res, Skipped: b.SkippedTotal()}
	s.messages.WithLabelValues(endpoint, "accepted").Add(float64(res.Accepted))
	s.messages.WithLabelValues(endpoint, "duplicate").Add(float64(res.Duplicates))
	s.messages.WithLabelValues(endpoint, "skipped").Add(float64(out.Skipped))
	s.messages.WithLabelValues(endpoint, "rejected").Add(float64(res.Rejected))
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.endpoint(endpoint)
	st.Accepted += uint64(res.Accepted)
	st.Duplicates += uint64(res.Duplicates)
	st.Skipped += uint64(out.Skipped)
	st.Rejected += uint64(res.Rejected)
	for r, n := range b.Skipped {
		s.skipped.WithLabelValues(endpoint, r).Add(float64(n))
		st.SkippedBy[r] += uint64(n)
	}
	for _, e := range all {
		s.rejected.WithLabelValues(endpoint, e.Reason()).Inc()
		st.RejectedBy[e.Reason()]++
	}
	if len(all) > 0 {
		e := all[len(all)-1]
		st.LastError = e.Field + ": " + e.Error
	}
	return out, all, nil
}

// Answered counts one answer of endpoint; msg is the error shown for a
// refused request (empty for 2xx).
func (s *SDK) Answered(endpoint string, status int, msg string) {
	s.requests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.endpoint(endpoint)
	st.Requests++
	if status >= 400 {
		st.Failed++
		if msg != "" {
			st.LastError = strconv.Itoa(status) + ": " + msg
		}
	}
}

// Snapshot returns the counts of every endpoint that was called, by name.
func (s *SDK) Snapshot() []SDKEndpointStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SDKEndpointStats, 0, len(s.stats))
	for _, st := range s.stats {
		c := *st
		c.SkippedBy = make(map[string]uint64, len(st.SkippedBy))
		for k, v := range st.SkippedBy {
			c.SkippedBy[k] = v
		}
		c.RejectedBy = make(map[string]uint64, len(st.RejectedBy))
		for k, v := range st.RejectedBy {
			c.RejectedBy[k] = v
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Endpoint < out[j].Endpoint })
	return out
}
