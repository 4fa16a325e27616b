package sdkapi

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// CaptureV1Path is PostHog's capture v1 endpoint (posthog-python with
// capture_mode="v1", posthog-go with CaptureModeAnalyticsV1).
const CaptureV1Path = "/i/v1/analytics/events"

// The request headers of capture v1.
const (
	headerSDKInfo          = "PostHog-Sdk-Info"
	headerAttempt          = "PostHog-Attempt"
	headerRequestID        = "PostHog-Request-Id"
	headerRequestTimestamp = "PostHog-Request-Timestamp"
)

// captureV1Routes are the endpoint with and without the trailing slash.
func (h *Handler) captureV1Routes() []route {
	ep := &captureV1{h: h}
	return []route{{CaptureV1Path, ep}, {CaptureV1Path + "/", ep}}
}

// captureV1 answers every event of a body by its uuid: ok (stored, or
// stored before), warning (not a usage event), drop (refused, with why) or
// retry (not stored now: ClickHouse unavailable or ingest full). A resent
// request, whatever its PostHog-Attempt, stores nothing twice: each uuid is
// the event's id, so what was stored before is a duplicate, answered ok.
// Faults of the request itself (key, headers, body) are JSON errors.
type captureV1 struct {
	h *Handler
}

func (ep *captureV1) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Content-Encoding, Authorization, "+
			strings.Join([]string{headerSDKInfo, headerAttempt, headerRequestID, headerRequestTimestamp}, ", "))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	ans, err := ep.serve(r)
	if err != nil {
		st, msg, unexpected := httperr.Describe(err)
		if unexpected {
			ep.h.log.Error("sdk ingest request failed", "endpoint", CaptureV1Path, "error", err,
				"request_id", r.Header.Get(headerRequestID), "attempt", r.Header.Get(headerAttempt))
		}
		ep.h.sdk.Answered(CaptureV1Path, st, msg)
		httperr.Write(w, err)
		return
	}
	body, _ := json.Marshal(ans)
	w.Header().Set("Content-Type", "application/json")
	if ans.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ans.RetryAfter))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
	ep.h.sdk.Answered(CaptureV1Path, http.StatusOK, "")
}

func (ep *captureV1) serve(r *http.Request) (ingest.CaptureV1Answer, error) {
	var none ingest.CaptureV1Answer
	if r.Method != http.MethodPost {
		return none, httperr.New(http.StatusMethodNotAllowed, "use POST")
	}
	if err := ep.authorize(r); err != nil {
		return none, err
	}
	meta, enc, err := captureV1Headers(r)
	if err != nil {
		return none, err
	}
	// Read, decompressed and parsed in one of the pipeline's decoding
	// slots, as every other body.
	var b *ingest.CaptureV1Batch
	err = ep.h.sdk.Pipeline().WithDecodeSlot(r.Context(), func() error {
		body, err := readCaptureV1Body(r, enc, ep.h.sdk.Pipeline().Config().MaxBody)
		if err != nil {
			return err
		}
		b, err = ep.h.sdk.Mapper().ParseCaptureV1(body, meta, ep.h.now())
		if errors.Is(err, ingest.ErrMalformed) {
			return httperr.Wrap(http.StatusBadRequest, err.Error(), err)
		}
		return err
	})
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return none, ingest.BodyError(err)
		}
		return none, err
	}
	return ep.h.sdk.SubmitCaptureV1(r.Context(), CaptureV1Path, b)
}

// authorize wants the project key as PostHog's SDKs send it in v1: a
// bearer token, one of the ingest tokens. It is checked before the body is
// read.
func (ep *captureV1) authorize(r *http.Request) error {
	unauthorized := func(msg string) error {
		e := httperr.New(http.StatusUnauthorized, msg+": set the SDK's project API key (api_key / token) to one of ADOPTSCOPE_INGEST_TOKENS; capture v1 sends it as Authorization: Bearer KEY")
		e.Challenge = `Bearer realm="adoptscope ingest"`
		return e
	}
	switch key := auth.BearerToken(r); {
	case r.Header.Get("Authorization") == "":
		return unauthorized("no key")
	case key == "":
		return unauthorized("the Authorization header is not a bearer token")
	case !ep.h.tokens.Allows(key):
		return unauthorized("the key in the Authorization header is not an ingest token")
	}
	return nil
}

// captureV1Headers reads the headers that describe the body. The SDKs send
// them all; a request without one (curl) is taken, one with a value that
// is not what PostHog specifies is refused.
func captureV1Headers(r *http.Request) (ingest.CaptureV1Meta, string, error) {
	var meta ingest.CaptureV1Meta
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return meta, "", httperr.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send application/json", ct))
		}
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	switch enc {
	case "", "identity", "gzip", "deflate", "zstd", "br":
	default:
		return meta, "", httperr.New(http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: send gzip, deflate, zstd, br or nothing", enc))
	}
	if id := r.Header.Get(headerRequestID); id != "" && !isUUID(id) {
		return meta, "", httperr.New(http.StatusBadRequest, fmt.Sprintf("%s %q is not a UUID", headerRequestID, id))
	}
	if a := r.Header.Get(headerAttempt); a != "" {
		if n, err := strconv.ParseUint(a, 10, 32); err != nil || n < 1 {
			return meta, "", httperr.New(http.StatusBadRequest, fmt.Sprintf("%s %q is not a positive integer", headerAttempt, a))
		}
	}
	if ts := r.Header.Get(headerRequestTimestamp); ts != "" {
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return meta, "", httperr.New(http.StatusBadRequest, fmt.Sprintf("%s %q is not RFC 3339", headerRequestTimestamp, ts))
		}
		meta.ClientTime = t
	}
	meta.Library = sdkName(r.Header.Get(headerSDKInfo))
	return meta, enc, nil
}

// sdkName is the name of PostHog-Sdk-Info's name/version (split at the
// last slash); empty when it is not of that shape.
func sdkName(info string) string {
	if len(info) > 200 {
		return ""
	}
	i := strings.LastIndexByte(info, '/')
	if i < 0 {
		return ""
	}
	name, version := strings.TrimSpace(info[:i]), strings.TrimSpace(info[i+1:])
	if name == "" || version == "" {
		return ""
	}
	return name
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// readCaptureV1Body reads the body whole, decompressed per enc. Both the
// bytes received and the bytes decompressed are held to maxBody, so a
// small body that expands past it is cut off there (413).
func readCaptureV1Body(r *http.Request, enc string, maxBody int64) ([]byte, error) {
	raw := ingest.LimitReader(r.Body, maxBody)
	var src io.Reader
	switch enc {
	case "", "identity":
		src = raw
	case "gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, damaged(enc, err)
		}
		defer zr.Close()
		src = zr
	case "deflate":
		// zlib (RFC 1950), as the SDKs send it; a raw deflate stream, as
		// some HTTP clients send it, is taken too.
		buf := make([]byte, 2)
		n, err := io.ReadFull(raw, buf)
		if err != nil && n == 0 {
			return nil, damaged(enc, err)
		}
		head := io.MultiReader(bytes.NewReader(buf[:n]), raw)
		if n == 2 && buf[0]&0x0f == 8 && (uint16(buf[0])<<8|uint16(buf[1]))%31 == 0 {
			zr, err := zlib.NewReader(head)
			if err != nil {
				return nil, damaged(enc, err)
			}
			defer zr.Close()
			src = zr
		} else {
			fr := flate.NewReader(head)
			defer fr.Close()
			src = fr
		}
	case "zstd":
		zr, err := zstd.NewReader(raw, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(uint64(maxBody)+1))
		if err != nil {
			return nil, damaged(enc, err)
		}
		defer zr.Close()
		src = zr
	case "br":
		src = brotli.NewReader(raw)
	}
	b, err := io.ReadAll(ingest.LimitReader(src, maxBody))
	var st interface{ HTTPStatus() int }
	switch {
	case err != nil && errors.As(err, &st):
		return nil, err // a body cut off at its read deadline: 408 from the HTTP server
	case errors.Is(err, ingest.ErrTooLarge), errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		return nil, httperr.Wrap(http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over %d bytes (received or decompressed; ADOPTSCOPE_INGEST_MAX_BODY): nothing from this request was written; send smaller batches", maxBody), err)
	case err != nil && enc != "" && enc != "identity":
		return nil, damaged(enc, err)
	case err != nil:
		return nil, httperr.Wrap(http.StatusBadRequest, "reading the body: "+err.Error(), err)
	}
	return b, nil
}

func damaged(enc string, err error) error {
	return httperr.Wrap(http.StatusBadRequest, fmt.Sprintf("the body is not %s data, or is cut short or damaged, though Content-Encoding says %s", enc, enc), err)
}
