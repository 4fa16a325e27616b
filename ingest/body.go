package ingest

import (
	"context"
	"io"
	"sync"
	"time"
)

// DefaultDecodeWait is how long a body may wait for a decoding slot
// before it is refused with ErrBusy (Config.DecodeWait). The slots bound
// the bodies decoded at once: a decoded body holds its events in memory
// until they are committed, and those are bounded by the buffer; the
// bodies being decoded are bounded by the slots (each up to MaxBody).
const DefaultDecodeWait = 10 * time.Second

// MaxAllErrors bounds Result.Errors when BodyOptions.AllErrors asks for
// every error: 10,000 lines of MaxErrorsPerLine errors each.
const MaxAllErrors = 100_000

// BodyOptions are a request's choices for its body.
type BodyOptions struct {
	// Delimiter separates the fields of a CSV body (',', ';' or '\t',
	// see ParseDelimiter); 0: detected from the header row.
	Delimiter rune
	// AllErrors lists every error in Result.Errors (up to MaxAllErrors)
	// rather than the first MaxListedErrors: a sender that keeps a file of
	// the refused lines (adoptscope load --api) needs each of them.
	AllErrors bool
}

// SubmitBody decodes a whole request body first (nothing is written from a
// body that breaks a limit), then submits its events and waits for their
// commit. A body with no valid event answers a Result with nothing
// accepted (Result.Accepted and Duplicates zero), not an error.
func (p *Pipeline) SubmitBody(ctx context.Context, f Format, body io.Reader) (Result, error) {
	return p.SubmitBodyWith(ctx, f, body, BodyOptions{})
}

// SubmitBodyWith is SubmitBody with the body's options.
func (p *Pipeline) SubmitBodyWith(ctx context.Context, f Format, body io.Reader, opts BodyOptions) (Result, error) {
	if err := p.takeDecodeSlot(ctx); err != nil {
		return Result{}, err
	}
	dec := decodedPool.Get().(*decoded)
	in, lines, decodeErrs, err := decodeAll(f, LimitReader(body, p.cfg.MaxBody), p.cfg.MaxLine, opts.Delimiter, dec.in, dec.lines)
	dec.in, dec.lines = in, lines
	<-p.decoding
	if err != nil {
		dec.release()
		return Result{}, BodyError(err)
	}
	if len(in) == 0 && len(decodeErrs) == 0 {
		dec.release()
		return Result{}, refuse(BadInput, "no events in the body")
	}
	// The inputs go back to the pool once validated, before the wait for
	// the commit.
	res, all, err := p.submit(ctx, in, lines, decodeErrs, dec.release)
	if err == nil && opts.AllErrors && len(all) > len(res.Errors) {
		res.Errors = all[:min(len(all), MaxAllErrors):min(len(all), MaxAllErrors)]
	}
	return res, err
}

// WithDecodeSlot runs fn, which reads and decodes one request body, once
// one of the decoding slots SubmitBody takes is free: every intake that
// holds a whole body in memory (the PostHog and Segment endpoints) is
// bounded by the same slots. When none is free within Config.DecodeWait it
// returns an Error of kind Busy (HTTP 503, retry) without calling fn.
// The slot is given back when fn returns.
func (p *Pipeline) WithDecodeSlot(ctx context.Context, fn func() error) error {
	if err := p.takeDecodeSlot(ctx); err != nil {
		return err
	}
	defer func() { <-p.decoding }()
	return fn()
}

// DecodeSlots is how many bodies may be decoded at once.
func (p *Pipeline) DecodeSlots() int { return cap(p.decoding) }

// takeDecodeSlot waits up to Config.DecodeWait for a decoding slot; the
// caller gives it back with <-p.decoding.
func (p *Pipeline) takeDecodeSlot(ctx context.Context) error {
	select {
	case p.decoding <- struct{}{}:
		return nil
	default:
	}
	wait := time.NewTimer(p.cfg.DecodeWait)
	defer wait.Stop()
	select {
	case p.decoding <- struct{}{}:
		return nil
	case <-wait.C:
		return refuse(Busy, "every one of the %d decoding slots stayed busy for %s", cap(p.decoding), p.cfg.DecodeWait)
	case <-ctx.Done():
		return interrupted(ctx.Err())
	}
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
	return decodeAll(f, r, maxLine, 0, nil, nil)
}

// decodeAll is DecodeAll appending to inputs and lines (empty slices
// whose room is reused), with a CSV body's delimiter (0: detect it).
func decodeAll(f Format, r io.Reader, maxLine int, delim rune, inputs []Input, lines []int) ([]Input, []int, []FieldError, error) {
	var decodeErrs []FieldError
	var d Decoder
	if f == CSV {
		d = NewCSVDecoder(r, maxLine, false, delim)
	} else {
		d = NewDecoder(f, r, maxLine, false)
	}
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
