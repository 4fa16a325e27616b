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
