// Package httperr is the one place that turns an error into an HTTP status
// and the message a client may see. Errors carry their status from the
// layer that knows why (an *Error built by an adapter, or a domain error
// with an HTTPStatus method); everything else is a 500 whose details stay
// in the log. It imports no web framework, so domain packages may use it.
package httperr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Error is an error with the status and the message a client should see.
type Error struct {
	Status  int
	Message string
	// RetryAfter, when positive, is sent as Retry-After (seconds).
	RetryAfter int
	// Challenge, when set, is sent as WWW-Authenticate (401s).
	Challenge string
	// Err is the cause, for the log and errors.Is; never shown.
	Err error
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

// New returns an error answered with status and msg.
func New(status int, msg string) *Error { return &Error{Status: status, Message: msg} }

// Wrap is New with a cause.
func Wrap(status int, msg string, cause error) *Error {
	return &Error{Status: status, Message: msg, Err: cause}
}

// StatusClientClosed is the (nginx) status of a request its client gave up.
const StatusClientClosed = 499

// TimeoutMessage is what a query over its time budget answers.
const TimeoutMessage = "the query took too long: narrow the date range or the groups"

// Describe returns the status and public message of err, and whether err
// is unexpected (a 500 of unknown cause: log it, never show it).
func Describe(err error) (status int, msg string, unexpected bool) {
	var he *Error
	var st interface{ HTTPStatus() int }
	switch {
	case err == nil:
		return http.StatusOK, "", false
	case errors.As(err, &he):
		return he.Status, he.Message, false
	case errors.As(err, &st):
		return st.HTTPStatus(), err.Error(), false
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, TimeoutMessage, false
	case errors.Is(err, context.Canceled):
		return StatusClientClosed, "request cancelled", false
	}
	return http.StatusInternalServerError, "internal error", true
}

// Body is the JSON shape of every API error.
type Body struct {
	Error string `json:"error"`
}

// SetHeaders sets the headers that go with err (Retry-After,
// WWW-Authenticate). A domain error says its Retry-After (seconds) with a
// RetryAfter method, as it says its status with HTTPStatus.
func SetHeaders(h http.Header, err error) {
	var he *Error
	var ra interface{ RetryAfter() int }
	switch {
	case errors.As(err, &he):
		if he.RetryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(he.RetryAfter))
		}
		if he.Challenge != "" {
			h.Set("WWW-Authenticate", he.Challenge)
		}
	case errors.As(err, &ra):
		if s := ra.RetryAfter(); s > 0 {
			h.Set("Retry-After", strconv.Itoa(s))
		}
	}
}

// JSON is the body of err as the APIs answer it, newline-terminated.
func JSON(msg string) []byte {
	b, _ := json.Marshal(Body{Error: msg})
	return append(b, '\n')
}

// Write answers err as JSON on w and returns the status it sent.
func Write(w http.ResponseWriter, err error) int {
	status, msg, _ := Describe(err)
	SetHeaders(w.Header(), err)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(JSON(msg))
	return status
}
