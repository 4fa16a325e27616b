// Package sdkapi is the HTTP adapter for senders that speak PostHog's
// capture API or Segment's HTTP Tracking API (posthog-node, posthog-js,
// posthog-python, @segment/analytics-node, RudderStack, Jitsu, …). It
// reads the key and the body; ingest maps the messages onto events and
// commits them through the same pipeline as POST /v1/events, so the
// answer comes only after the commit and a retry stores nothing twice.
package sdkapi

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// Deps are what the endpoints need, filled once by the composition root.
type Deps struct {
	// SDK maps the messages and commits them through the pipeline
	// (required).
	SDK *ingest.SDK
	// Tokens are the ingest tokens (required): a PostHog project API key
	// or a Segment write key is one of them.
	Tokens auth.Tokens
	Log    *slog.Logger // nil: slog.Default()
}

// Handler serves both families' endpoints.
type Handler struct {
	sdk    *ingest.SDK
	tokens auth.Tokens
	log    *slog.Logger
	now    func() time.Time
}

// New returns the handler; it fails when a required dependency is
// missing.
func New(d Deps) (*Handler, error) {
	switch {
	case d.SDK == nil:
		return nil, errors.New("sdkapi: Deps.SDK is missing")
	case d.Tokens.Empty():
		return nil, errors.New("sdkapi: Deps.Tokens is empty: no sender could be accepted")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Handler{sdk: d.SDK, tokens: d.Tokens, log: d.Log, now: d.SDK.Pipeline().Config().Now}, nil
}

// Register mounts every endpoint on e: POST, and OPTIONS for the CORS
// preflight of browser SDKs.
func (h *Handler) Register(e *echo.Echo) {
	for _, r := range h.routes() {
		e.POST(r.Path, echo.WrapHandler(r.Handler))
		e.OPTIONS(r.Path, echo.WrapHandler(r.Handler))
	}
}

// route is one endpoint: a path and its handler (POST, and OPTIONS for
// the CORS preflight of browser SDKs).
type route struct {
	Path    string
	Handler http.Handler
}

// routes lists every path of both families, with and without the
// trailing slash the SDKs use.
func (h *Handler) routes() []route {
	var rs []route
	for _, p := range []string{"/batch", "/capture", "/e", "/i/v0/e"} {
		ep := &endpoint{h: h, name: p, family: ingest.PostHog}
		rs = append(rs, route{p, ep}, route{p + "/", ep})
	}
	for _, t := range []string{"batch", "track", "identify", "page", "screen", "group", "alias"} {
		ep := &endpoint{h: h, name: "/v1/" + t, family: ingest.Segment}
		if t != "batch" {
			ep.segmentType = t
		}
		rs = append(rs, route{"/v1/" + t, ep})
	}
	rs = append(rs, h.captureV1Routes()...)
	return rs
}

type endpoint struct {
	h           *Handler
	name        string // metrics label: the path without the trailing slash
	family      string
	segmentType string // the type of a message that names none
}

func (ep *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	status, body, err := ep.serve(r)
	if err != nil {
		st, msg, unexpected := httperr.Describe(err)
		if unexpected {
			ep.h.log.Error("sdk ingest request failed", "endpoint", ep.name, "error", err)
		}
		ep.h.sdk.Answered(ep.name, st, msg)
		httperr.Write(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	ep.h.sdk.Answered(ep.name, status, "")
}

// cors lets browser SDKs (posthog-js) on another origin post and read the
// answer. The key is in the body, never in a cookie, so any origin may,
// and none is ever answered with credentials: a browser then sends no
// cookie of this site with the request, whatever the page asks.
func cors(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if r.Header.Get("Origin") == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization")
		h.Set("Access-Control-Max-Age", "86400")
	}
}

func (ep *endpoint) serve(r *http.Request) (int, []byte, error) {
	if r.Method != http.MethodPost {
		return 0, nil, httperr.New(http.StatusMethodNotAllowed, "use POST")
	}
	headerKey := ep.headerKey(r)
	// A key in the header is checked before the body is read.
	if headerKey != "" && !ep.h.tokens.Allows(headerKey) {
		return 0, nil, ep.unauthorized("the key in the Authorization header is not an ingest token")
	}
	// The body is read and parsed whole, in one of the pipeline's decoding
	// slots, as POST /v1/events decodes its bodies: the memory held by
	// bodies being read is bounded however many SDKs send at once.
	var b *ingest.SDKBatch
	err := ep.h.sdk.Pipeline().WithDecodeSlot(r.Context(), func() (err error) {
		b, err = ep.parse(r)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	if err := ep.authorize(headerKey, b.Keys); err != nil {
		return 0, nil, err
	}
	res, err := ep.h.sdk.Submit(r.Context(), ep.name, b)
	if err != nil {
		return 0, nil, err // an ingest.Error: it says its status and Retry-After
	}
	if res.Accepted == 0 && res.Duplicates == 0 && res.Skipped == 0 && res.Rejected > 0 {
		return 0, nil, httperr.New(http.StatusBadRequest, rejectedMessage(res))
	}
	return http.StatusOK, successBody(ep.family, res), nil
}

// parse reads the body and maps its messages.
func (ep *endpoint) parse(r *http.Request) (*ingest.SDKBatch, error) {
	limits := ep.h.sdk.Pipeline().Config()
	body, err := readBody(r, limits.MaxBody)
	if err != nil {
		return nil, err
	}
	if ep.family == ingest.PostHog {
		if body, err = posthogForm(r, body); err != nil {
			return nil, err
		}
	}
	now := ep.h.now()
	var b *ingest.SDKBatch
	if ep.family == ingest.PostHog {
		b, err = ep.h.sdk.Mapper().ParsePostHog(body, now)
	} else {
		b, err = ep.h.sdk.Mapper().ParseSegment(body, ep.segmentType, now)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// headerKey is the key of the Authorization header: HTTP Basic with the
// write key as the user name (Segment), or a bearer token (both).
func (ep *endpoint) headerKey(r *http.Request) string {
	if user, _, ok := r.BasicAuth(); ok {
		return user
	}
	return auth.BearerToken(r)
}

func (ep *endpoint) unauthorized(msg string) error {
	e := httperr.New(http.StatusUnauthorized, msg+": "+ep.keyAdvice())
	if ep.family == ingest.Segment {
		e.Challenge = `Basic realm="adoptscope ingest"`
	}
	return e
}

func (ep *endpoint) keyAdvice() string {
	if ep.family == ingest.PostHog {
		return "set the SDK's project API key (api_key / token) to one of ADOPTSCOPE_INGEST_TOKENS"
	}
	return "set the SDK's write key (HTTP Basic user name, or writeKey in the body) to one of ADOPTSCOPE_INGEST_TOKENS"
}

// authorize wants at least one key, and every key given to be an ingest
// token: a batch may not smuggle events of an unknown key past a good one.
func (ep *endpoint) authorize(headerKey string, keys []string) error {
	if headerKey == "" && len(keys) == 0 {
		return ep.unauthorized("no key")
	}
	for _, k := range keys {
		if !ep.h.tokens.Allows(k) {
			return ep.unauthorized("the key in the body is not an ingest token")
		}
	}
	return nil
}

// readBody reads the whole body, gunzipped when Content-Encoding says so,
// when PostHog's compression parameter says so (gzip, gzip-js), or when it
// starts with the gzip magic bytes: some senders compress without saying.
func readBody(r *http.Request, maxBody int64) ([]byte, error) {
	br := bufio.NewReader(ingest.LimitReader(r.Body, maxBody))
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	comp := strings.ToLower(r.URL.Query().Get("compression"))
	var src io.Reader = br
	magic, _ := br.Peek(2)
	gz := len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b
	switch {
	case enc == "gzip" || comp == "gzip" || comp == "gzip-js" || gz:
		if !gz {
			return nil, httperr.New(http.StatusBadRequest, "the body is not gzip data, though Content-Encoding or ?compression= says gzip")
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, httperr.New(http.StatusBadRequest, "the body is not gzip data")
		}
		defer zr.Close()
		src = ingest.LimitReader(zr, maxBody)
	case enc != "" && enc != "identity":
		return nil, httperr.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: send gzip or nothing", enc))
	case comp == "lz64":
		return nil, httperr.New(http.StatusUnsupportedMediaType, "compression lz64 is not supported: let the SDK send gzip (posthog-js does by default) or no compression")
	}
	b, err := readAll(src, r.ContentLength, gz, maxBody)
	if err != nil {
		return nil, ingest.BodyError(err)
	}
	return b, nil
}

// readAll reads src whole. A plain body of a known length is read into one
// buffer of that size: grown from empty, as io.ReadAll grows it, a batch
// of a few MiB was copied about five times over and left that much
// garbage per request.
func readAll(src io.Reader, length int64, gz bool, maxBody int64) ([]byte, error) {
	if gz || length <= 0 || length > maxBody {
		return io.ReadAll(src)
	}
	buf := bytes.NewBuffer(make([]byte, 0, length+bytes.MinRead))
	_, err := buf.ReadFrom(src)
	return buf.Bytes(), err
}

// rejectedMessage names the first errors of a request whose every
// message was rejected.
func rejectedMessage(res ingest.SDKResult) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d event(s) rejected, none stored:", res.Rejected)
	for i, e := range res.Errors {
		if i == 3 {
			sb.WriteString(" …")
			break
		}
		if e.Field != "" {
			fmt.Fprintf(&sb, " event %d: %s: %s;", e.Line, e.Field, e.Error)
		} else {
			fmt.Fprintf(&sb, " event %d: %s;", e.Line, e.Error)
		}
	}
	return strings.TrimSuffix(sb.String(), ";")
}

// successBody is what each family's SDKs take as success, with the
// counts for people reading it (curl).
func successBody(family string, res ingest.SDKResult) []byte {
	type counts struct {
		Accepted   int                 `json:"accepted"`
		Duplicates int                 `json:"duplicates"`
		Skipped    int                 `json:"skipped"`
		Rejected   int                 `json:"rejected"`
		Errors     []ingest.FieldError `json:"errors"`
	}
	c := counts{res.Accepted, res.Duplicates, res.Skipped, res.Rejected, res.Errors}
	var b []byte
	if family == ingest.PostHog {
		b, _ = json.Marshal(struct {
			Status int `json:"status"`
			counts
		}{1, c})
	} else {
		b, _ = json.Marshal(struct {
			Success bool `json:"success"`
			counts
		}{true, c})
	}
	return append(b, '\n')
}
