package ingest

import (
	"context"

	dto "github.com/prometheus/client_model/go"
)

// HoldWriteSlot takes one of the pipeline's write slots, as a batch being
// written would, until release is called.
func (p *Pipeline) HoldWriteSlot() (release func()) {
	p.slots <- struct{}{}
	return func() { <-p.slots }
}

// Batches returns how many batches were committed and their rows.
func (p *Pipeline) Batches() (batches uint64, rows float64) {
	var m dto.Metric
	if err := p.metrics.batchRows.Write(&m); err != nil {
		panic(err)
	}
	return m.GetHistogram().GetSampleCount(), m.GetHistogram().GetSampleSum()
}

// SubmitReleasing is Submit with the callback the HTTP handler passes to
// give its decoded inputs back.
func (p *Pipeline) SubmitReleasing(ctx context.Context, inputs []Input, done func()) (Result, error) {
	r, _, err := p.submit(ctx, inputs, nil, nil, done)
	return r, err
}

// DedupFilterReady reports whether the dedup filter is built.
func (p *Pipeline) DedupFilterReady() bool { return p.filter != nil && p.filter.ready() }

// AddToDedupFilter puts id into the filter without storing it, as a false
// positive would; false when the filter is not ready.
func (p *Pipeline) AddToDedupFilter(id string) bool { return p.filter.addForTest(id) }

// HoldDedupFilter drops the filter and keeps it from being rebuilt until
// release is called (which rebuilds it before returning).
func (p *Pipeline) HoldDedupFilter() (release func()) { return p.filter.holdForTest() }

// DedupFilterCounts returns the ids probed, passed on to ClickHouse, and
// the batches looked up whole (filter not ready).
func (p *Pipeline) DedupFilterCounts() (probed, maybe, fallback float64) {
	read := func(c interface{ Write(*dto.Metric) error }) float64 {
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			panic(err)
		}
		return m.GetCounter().GetValue()
	}
	return read(p.filter.probed), read(p.filter.candidates), read(p.filter.fallback)
}

// SipHash64 is the hash the filter keys ids by.
func SipHash64(s string) uint64 { return sipHash64(s) }

// DedupFilterBitsPerID is the bits per id of the filter built.
func (p *Pipeline) DedupFilterBitsPerID() float64 { _, _, b := p.filter.size(); return b }

// DedupLogReads returns how many times the filter read the log of
// committed ids (ingest_dedup_recent), and how many reads it skipped
// because only this instance had written since the last.
func (p *Pipeline) DedupLogReads() (reads, skips float64) {
	read := func(c interface{ Write(*dto.Metric) error }) float64 {
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			panic(err)
		}
		return m.GetCounter().GetValue()
	}
	return read(p.filter.logReads), read(p.filter.logSkips)
}
