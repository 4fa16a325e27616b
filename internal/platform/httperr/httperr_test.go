package httperr

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// domainErr is an error of a layer below, saying its status and its
// Retry-After as ingest's errors do.
type domainErr struct{ status, retry int }

func (e domainErr) Error() string   { return fmt.Sprintf("refused (%d)", e.status) }
func (e domainErr) HTTPStatus() int { return e.status }
func (e domainErr) RetryAfter() int { return e.retry }

func TestWriteTakesStatusAndRetryAfterFromTheError(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
		message    string
	}{
		{"domain error", domainErr{503, 5}, 503, "5", `{"error":"refused (503)"}` + "\n"},
		{"domain error, wrapped", fmt.Errorf("outer: %w", domainErr{503, 1}), 503, "1", `{"error":"outer: refused (503)"}` + "\n"},
		{"domain error without advice", domainErr{413, 0}, 413, "", `{"error":"refused (413)"}` + "\n"},
		{"adapter error", &Error{Status: 429, Message: "slow down", RetryAfter: 30}, 429, "30", `{"error":"slow down"}` + "\n"},
		{"adapter error around a domain error", Wrap(http.StatusBadGateway, "upstream", domainErr{503, 5}), 502, "", `{"error":"upstream"}` + "\n"},
		{"unknown", errors.New("boom"), 500, "", `{"error":"internal error"}` + "\n"},
	} {
		w := httptest.NewRecorder()
		if got := Write(w, tc.err); got != tc.status || w.Code != tc.status {
			t.Errorf("%s: status %d (recorded %d), want %d", tc.name, got, w.Code, tc.status)
		}
		if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", tc.name, got, tc.retryAfter)
		}
		if w.Body.String() != tc.message {
			t.Errorf("%s: body %q, want %q", tc.name, w.Body.String(), tc.message)
		}
	}
}
