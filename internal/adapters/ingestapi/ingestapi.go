// Package ingestapi is the HTTP adapter of ingest: POST /v1/events. It
// checks the token, the media type and the encoding, honours an
// Idempotency-Key, and hands the body to the pipeline, which answers only
// once its events are committed.
package ingestapi

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// Deps are what the endpoint needs, filled once by the composition root.
type Deps struct {
	// Pipeline commits the events (required).
	Pipeline *ingest.Pipeline
	// Tokens are the accepted bearer tokens (required, never empty: the
	// app generates one when none is configured).
	Tokens auth.Tokens
	Log    *slog.Logger // nil: slog.Default()
}

// Handler serves POST /v1/events. It is a plain http.Handler; Register
// mounts it on echo.
type Handler struct {
	p      *ingest.Pipeline
	tokens auth.Tokens
	log    *slog.Logger
}

// New returns the ingest endpoint; it fails when a required dependency is
// missing.
func New(d Deps) (*Handler, error) {
	switch {
	case d.Pipeline == nil:
		return nil, errors.New("ingestapi: Deps.Pipeline is missing")
	case d.Tokens.Empty():
		return nil, errors.New("ingestapi: Deps.Tokens is empty: no sender could be accepted")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Handler{p: d.Pipeline, tokens: d.Tokens, log: d.Log}, nil
}

// Path is the endpoint's path.
const Path = "/v1/events"

// Register mounts POST /v1/events on e.
func (h *Handler) Register(e *echo.Echo) {
	e.POST(Path, echo.WrapHandler(h))
}

func (h *Handler) answer(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	h.p.Metrics().Requests.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (h *Handler) fail(w http.ResponseWriter, err error) {
	status := httperr.Write(w, err)
	h.p.Metrics().Requests.WithLabelValues(strconv.Itoa(status)).Inc()
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.serve(w, r); err != nil {
		h.fail(w, err)
	}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		return httperr.New(http.StatusMethodNotAllowed, "use POST")
	}
	tok := auth.BearerToken(r)
	if !h.tokens.Allows(tok) {
		e := httperr.New(http.StatusUnauthorized, "unknown bearer token: use one of ADOPTSCOPE_INGEST_TOKENS")
		if tok == "" {
			e.Message = "missing bearer token: send 'Authorization: Bearer <token>' with a token from ADOPTSCOPE_INGEST_TOKENS"
		}
		e.Challenge = `Bearer realm="adoptscope ingest"`
		return e
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	format, ok := ingest.FormatOfMediaType(mt)
	if err != nil || !ok {
		return httperr.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send application/x-ndjson, application/json or text/csv", r.Header.Get("Content-Type")))
	}
	opts, err := bodyOptions(r, format)
	if err != nil {
		return err
	}
	limits := h.p.Config()
	var body io.Reader = r.Body
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(ingest.LimitReader(r.Body, limits.MaxBody))
		if err != nil {
			return httperr.New(http.StatusBadRequest, "Content-Encoding gzip: the body is not gzip data")
		}
		defer zr.Close()
		body = zr
	default:
		return httperr.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: send gzip or nothing", enc))
	}

	key := r.Header.Get("Idempotency-Key")
	var scope string
	if key != "" {
		if len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			return httperr.New(http.StatusBadRequest, "Idempotency-Key: 1-255 printable ASCII characters")
		}
		sum := sha256.Sum256([]byte(tok))
		scope = hex.EncodeToString(sum[:8])
		prev, err := h.p.LookupIdempotent(r.Context(), scope, key)
		if err != nil {
			return err
		}
		if prev != nil {
			w.Header().Set("Idempotent-Replayed", "true")
			h.answer(w, prev.Status, prev.Body)
			return nil
		}
	}

	res, err := h.p.SubmitBodyWith(r.Context(), format, body, opts)
	if err != nil {
		return err // an ingest.Error: it says its status and Retry-After
	}
	status := http.StatusOK
	if res.Accepted == 0 && res.Duplicates == 0 {
		status = http.StatusBadRequest
	}
	b, _ := json.Marshal(res)
	b = append(b, '\n')
	if key != "" {
		if err := h.p.StoreIdempotent(r.Context(), scope, key, ingest.Idempotent{Status: status, Body: b}); err != nil {
			// The events are committed; a retry with this key would be
			// answered from the event_id dedup instead (as duplicates).
			h.log.Warn("ingest: could not store the idempotent answer", "error", err)
		}
	}
	h.answer(w, status, b)
	return nil
}

// bodyOptions reads the query parameters of a body: ?delimiter= (, ; or
// tab) overrides the delimiter detected from a CSV header row, and
// ?errors=all lists every error rather than the first hundred.
func bodyOptions(r *http.Request, format ingest.Format) (ingest.BodyOptions, error) {
	var opts ingest.BodyOptions
	if d, ok := queryValue(r.URL.RawQuery, "delimiter"); ok {
		if format != ingest.CSV {
			return opts, httperr.New(http.StatusBadRequest, fmt.Sprintf("?delimiter= applies to CSV bodies (Content-Type text/csv), not to %s: leave it out", format))
		}
		delim, err := ingest.ParseDelimiter(d)
		if err != nil || d == "" {
			return opts, httperr.New(http.StatusBadRequest, fmt.Sprintf("?delimiter=%s: want , (comma), ; (semicolon) or tab; leave the parameter out to detect the delimiter from the header row", url.QueryEscape(d)))
		}
		opts.Delimiter = delim
	}
	switch e, _ := queryValue(r.URL.RawQuery, "errors"); e {
	case "":
	case "all":
		opts.AllErrors = true
	default:
		return opts, httperr.New(http.StatusBadRequest, fmt.Sprintf("?errors=%s: want all (every error listed) or leave it out (the first %d)", url.QueryEscape(e), ingest.MaxListedErrors))
	}
	return opts, nil
}

// queryValue is the first value of key in a raw query. It reads a bare
// ";" as itself: net/url drops a pair that holds one, and
// ?delimiter=; typed as it is must not be silently ignored.
func queryValue(raw, key string) (string, bool) {
	for _, pair := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if k != key {
			continue
		}
		if u, err := url.QueryUnescape(v); err == nil {
			return u, true
		}
		return v, true
	}
	return "", false
}
