package ingest

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// decodeWait is how long a body may wait for a decoding slot before it is
// refused with ErrBusy. The slots bound the bodies decoded at once: a
// decoded body holds its events in memory until they are committed, and
// those are bounded by the buffer; the bodies being decoded are bounded by
// the slots (each up to MaxBody).
const decodeWait = 10 * time.Second

// SubmitBody decodes a whole request body first (nothing is written from a
// body that breaks a limit), then submits its events and waits for their
// commit. A body with no valid event answers a Result with nothing
// accepted (Result.Accepted and Duplicates zero), not an error.
func (p *Pipeline) SubmitBody(ctx context.Context, f Format, body io.Reader) (Result, error) {
	wait := time.NewTimer(decodeWait)
	select {
	case p.decoding <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		return Result{}, fmt.Errorf("%w: every decoding slot stayed busy for %s", ErrBusy, decodeWait)
	case <-ctx.Done():
		wait.Stop()
		return Result{}, ctx.Err()
	}
	dec := decodedPool.Get().(*decoded)
	in, lines, decodeErrs, err := decodeAll(f, LimitReader(body, p.cfg.MaxBody), p.cfg.MaxLine, dec.in, dec.lines)
	dec.in, dec.lines = in, lines
	<-p.decoding
	if err != nil {
		dec.release()
		return Result{}, err
	}
	if len(in) == 0 && len(decodeErrs) == 0 {
		dec.release()
		return Result{}, fmt.Errorf("no events in the body: %w", ErrMalformed)
	}
	// The inputs go back to the pool once validated, before the wait for
	// the commit.
	res, _, err := p.submit(ctx, in, lines, decodeErrs, dec.release)
	return res, err
}

// decoded holds a request's decoded inputs, reused by the next request:
// growing a fresh slice to 5,000 inputs copied them a dozen times, a tenth
// of ingest's CPU per event with the garbage collection it caused.
type decoded struct {
	in    []Input
	lines []int
}

var decodedPool = sync.Pool{New: func() any { return new(decoded) }}

// maxPooledInputs: the slices of a bigger body go to the garbage collector
// rather than stay in the pool.
const maxPooledInputs = 20_000

func (d *decoded) release() {
	if cap(d.in) > maxPooledInputs {
		return
	}
	clear(d.in) // drop the strings
	d.in, d.lines = d.in[:0], d.lines[:0]
	decodedPool.Put(d)
}

// DecodeAll decodes a whole body: the inputs with their lines, and the
// records that could not be decoded.
func DecodeAll(f Format, r io.Reader, maxLine int) (inputs []Input, lines []int, decodeErrs []FieldError, err error) {
	return decodeAll(f, r, maxLine, nil, nil)
}

// decodeAll is DecodeAll appending to inputs and lines (empty slices
// whose room is reused).
func decodeAll(f Format, r io.Reader, maxLine int, inputs []Input, lines []int) ([]Input, []int, []FieldError, error) {
	var decodeErrs []FieldError
	d := NewDecoder(f, r, maxLine, false)
	defer Release(d)
	var rec Record
	for {
		err := d.Next(&rec)
		if err == io.EOF {
			return inputs, lines, decodeErrs, nil
		}
		if err != nil {
			return nil, nil, nil, err
		}
		if rec.Err != nil {
			decodeErrs = append(decodeErrs, *rec.Err)
			continue
		}
		inputs = append(inputs, rec.Input)
		lines = append(lines, rec.Line)
	}
}
