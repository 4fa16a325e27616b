package ingest_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/ingest"
)

// TestRefusalsSayKindLineStatusAndRetry: a body refused as a whole says
// why (its kind), where (the line, when one is at fault), the status every
// intake answers and the Retry-After it deserves; errors.Is still matches
// the sentinels the CLI and the demo load test for.
func TestRefusalsSayKindLineStatusAndRetry(t *testing.T) {
	ok := `{"event_id":"a","time":"2026-01-15T00:00:00Z","assistant":"chatgpt","channel":"ios","user_id":"u"}`
	long := `{"event_id":"` + strings.Repeat("x", 200) + `"}`
	decode := func(f ingest.Format, body string, maxBody int64) error {
		_, _, _, err := ingest.DecodeAll(f, ingest.LimitReader(strings.NewReader(body), maxBody), 100)
		return ingest.BodyError(err)
	}
	for _, tc := range []struct {
		name     string
		err      error
		kind     ingest.Kind
		line     int
		status   int
		retry    int
		sentinel error
	}{
		{"NDJSON line 3 too long", decode(ingest.NDJSON, ok+"\n"+ok+"\n"+long+"\n", 1<<20), ingest.LineTooLong, 3, 413, 0, ingest.ErrTooLarge},
		{"CSV line 3 too long", decode(ingest.CSV, "event_id,time,assistant,channel,user_id\na,2026-01-15T00:00:00Z,chatgpt,ios,u\n"+strings.Repeat("x", 200)+"\n", 1<<20), ingest.LineTooLong, 3, 413, 0, ingest.ErrTooLarge},
		{"body too large", decode(ingest.NDJSON, strings.Repeat(ok+"\n", 10), 500), ingest.BodyTooLarge, 0, 413, 0, ingest.ErrTooLarge},
		{"not JSON", decode(ingest.JSON, "[nope", 1<<20), ingest.BadInput, 0, 400, 0, ingest.ErrMalformed},
		{"CSV without a time column", decode(ingest.CSV, "event_id,assistant,channel,user_id\n", 1<<20), ingest.BadInput, 1, 400, 0, ingest.ErrMalformed},
		{"read cut short", ingest.BodyError(context.Canceled), ingest.Interrupted, 0, 503, 1, context.Canceled},
		{"busy", &ingest.Error{Kind: ingest.Busy}, ingest.Busy, 0, 503, 1, ingest.ErrBusy},
		{"unavailable", &ingest.Error{Kind: ingest.Unavailable}, ingest.Unavailable, 0, 503, 5, ingest.ErrUnavailable},
		{"shutting down", &ingest.Error{Kind: ingest.ShuttingDown}, ingest.ShuttingDown, 0, 503, 5, ingest.ErrClosed},
	} {
		var e *ingest.Error
		if !errors.As(tc.err, &e) {
			t.Errorf("%s: %T %v, want an *ingest.Error", tc.name, tc.err, tc.err)
			continue
		}
		if e.Kind != tc.kind || e.Line != tc.line || e.HTTPStatus() != tc.status || e.RetryAfter() != tc.retry {
			t.Errorf("%s: kind %d line %d status %d retry %d, want %d %d %d %d (%v)", tc.name, e.Kind, e.Line, e.HTTPStatus(), e.RetryAfter(),
				tc.kind, tc.line, tc.status, tc.retry, e)
		}
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("%s: errors.Is(%v, %v) is false", tc.name, tc.err, tc.sentinel)
		}
	}
	if e := (&ingest.Error{Kind: ingest.Busy}); errors.Is(e, ingest.ErrUnavailable) || errors.Is(e, ingest.ErrClosed) {
		t.Error("a busy refusal matches another kind's sentinel")
	}
}
