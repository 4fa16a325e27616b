package ingest

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/auth"
)

// Handler serves POST /v1/events. It is a plain http.Handler; the app
// mounts it on echo.
type Handler struct {
	p      *Pipeline
	tokens auth.Tokens
	log    *slog.Logger
	// decoding bounds the bodies decoded at once: a decoded body holds
	// its events in memory until they are committed, and those are
	// bounded by the pipeline's buffer; the bodies being decoded are
	// bounded here (each up to MaxBody).
	decoding chan struct{}
}

// decodeWait is how long a request may wait for a decoding slot before it
// is answered 503.
const decodeWait = 10 * time.Second

// NewHandler returns the ingest endpoint; tokens are the accepted bearer
// tokens (never empty: the app generates one when none is configured).
func NewHandler(p *Pipeline, tokens auth.Tokens, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.Default()
	}
	return &Handler{p: p, tokens: tokens, log: log, decoding: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0)))}
}

type errorBody struct {
	Error string `json:"error"`
}

func (h *Handler) answer(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	h.p.metrics.Requests.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (h *Handler) fail(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg})
	h.answer(w, status, append(b, '\n'))
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		h.fail(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	tok := auth.BearerToken(r)
	if !h.tokens.Allows(tok) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="adoptscope ingest"`)
		if tok == "" {
			h.fail(w, http.StatusUnauthorized, "missing bearer token: send 'Authorization: Bearer <token>' with a token from ADOPTSCOPE_INGEST_TOKENS")
		} else {
			h.fail(w, http.StatusUnauthorized, "unknown bearer token: use one of ADOPTSCOPE_INGEST_TOKENS")
		}
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format, ok := FormatOfMediaType(mt)
	if err != nil || !ok {
		h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send application/x-ndjson, application/json or text/csv", r.Header.Get("Content-Type")))
		return
	}
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(LimitReader(r.Body, h.p.cfg.MaxBody))
		if err != nil {
			h.fail(w, http.StatusBadRequest, "Content-Encoding gzip: the body is not gzip data")
			return
		}
		defer zr.Close()
		body = zr
	default:
		h.fail(w, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: send gzip or nothing", enc))
		return
	}
	body = LimitReader(body, h.p.cfg.MaxBody)

	key := r.Header.Get("Idempotency-Key")
	var scope string
	if key != "" {
		if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			h.fail(w, http.StatusBadRequest, "Idempotency-Key: 1-255 printable ASCII characters")
			return
		}
		sum := sha256.Sum256([]byte(tok))
		scope = hex.EncodeToString(sum[:8])
		prev, err := h.p.LookupIdempotent(r.Context(), scope, key)
		if err != nil {
			h.unavailable(w, fmt.Errorf("%w: idempotency lookup: %v", ErrUnavailable, err))
			return
		}
		if prev != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			h.answer(w, prev.Status, prev.Body)
			return
		}
	}

	status, resp, err := h.process(r.Context(), format, body)
	if err != nil {
		switch {
		case errors.Is(err, ErrTooLarge):
			h.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%v: nothing from this request was written (limits: %d bytes per body after decompression, %d per line)", err, h.p.cfg.MaxBody, h.p.cfg.MaxLine))
		case errors.Is(err, ErrMalformed):
			h.fail(w, http.StatusBadRequest, err.Error())
		case errors.Is(err, ErrBusy), errors.Is(err, ErrUnavailable), errors.Is(err, ErrClosed):
			h.unavailable(w, err)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			h.fail(w, http.StatusServiceUnavailable, "request ended before its events were committed; they are not acknowledged: retry")
		default:
			h.log.Error("ingest request failed", "error", err)
			h.fail(w, http.StatusBadRequest, "reading the body: "+err.Error())
		}
		return
	}
	b, _ := json.Marshal(resp)
	b = append(b, '\n')
	if key != "" {
		if err := h.p.StoreIdempotent(r.Context(), scope, key, Idempotent{Status: status, Body: b}); err != nil {
			// The events are committed; a retry with this key would be
			// answered from the event_id dedup instead (as duplicates).
			h.log.Warn("ingest: could not store the idempotent answer", "error", err)
		}
	}
	h.answer(w, status, b)
}

func (h *Handler) unavailable(w http.ResponseWriter, err error) {
	retry := "1"
	msg := "the ingest buffer is full: nothing from this request was acknowledged, retry after a second"
	if !errors.Is(err, ErrBusy) {
		retry = "5"
		msg = "events not stored (" + err.Error() + "): nothing from this request was acknowledged, retry later"
	}
	w.Header().Set("Retry-After", retry)
	h.fail(w, http.StatusServiceUnavailable, msg)
}

// process decodes the whole body first (nothing is written from a body that
// breaks a limit), then submits it.
func (h *Handler) process(ctx context.Context, f Format, body io.Reader) (int, Result, error) {
	wait := time.NewTimer(decodeWait)
	select {
	case h.decoding <- struct{}{}:
		wait.Stop()
	case <-wait.C:
		return 0, Result{}, fmt.Errorf("%w: every decoding slot stayed busy for %s", ErrBusy, decodeWait)
	case <-ctx.Done():
		wait.Stop()
		return 0, Result{}, ctx.Err()
	}
	dec := decodedPool.Get().(*decoded)
	in, lines, decodeErrs, err := decodeAll(f, body, h.p.cfg.MaxLine, dec.in, dec.lines)
	dec.in, dec.lines = in, lines
	<-h.decoding
	if err != nil {
		dec.release()
		return 0, Result{}, err
	}
	if len(in) == 0 && len(decodeErrs) == 0 {
		dec.release()
		return 0, Result{}, fmt.Errorf("no events in the body: %w", ErrMalformed)
	}
	// The inputs go back to the pool once validated, before the wait for
	// the commit.
	res, _, err := h.p.submit(ctx, in, lines, decodeErrs, dec.release)
	if err != nil {
		return 0, Result{}, err
	}
	status := http.StatusOK
	if res.Accepted == 0 && res.Duplicates == 0 {
		status = http.StatusBadRequest
	}
	return status, res, nil
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
