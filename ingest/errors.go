package ingest

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

var (
	// ErrTooLarge: the body, the file or one line is over its limit.
	ErrTooLarge = errors.New("over the size limit")
	// ErrMalformed: the body as a whole cannot be read.
	ErrMalformed = errors.New("malformed body")
	// ErrBusy: the buffer of accepted, not yet committed events is full,
	// or every decoding slot stayed busy. Nothing was acknowledged.
	ErrBusy = errors.New("ingest buffer is full")
	// ErrUnavailable: ClickHouse did not take the batch. Nothing of the
	// submission was acknowledged.
	ErrUnavailable = errors.New("ClickHouse is unavailable")
	// ErrClosed: the pipeline is shutting down.
	ErrClosed = errors.New("ingest is shutting down")
)

// Kind is why ingest refused a body (or a submission) as a whole.
type Kind int

const (
	// BadInput: the body cannot be read as its format (not JSON, no CSV
	// header, damaged gzip, no events at all).
	BadInput Kind = iota + 1
	// BodyTooLarge: the body is over MaxBody once decompressed.
	BodyTooLarge
	// LineTooLong: one NDJSON or CSV line is over MaxLine.
	LineTooLong
	// Busy: the buffer is full or no decoding slot came free in time; the
	// load passes within a second or so.
	Busy
	// Unavailable: ClickHouse did not take the batch (or the idempotency
	// lookup); it takes a few seconds to come back, if it does.
	Unavailable
	// ShuttingDown: the process is stopping; its successor, or another
	// instance, answers in a few seconds.
	ShuttingDown
	// Interrupted: the request ended (its context was cancelled or ran
	// out) before its events were committed.
	Interrupted
)

// Error is a body or submission ingest refused as a whole: nothing of it
// was acknowledged. Its kind decides the HTTP status and the Retry-After
// every intake answers (POST /v1/events, the SDK endpoints, the
// dashboard's upload), so that the same cause gets the same answer.
type Error struct {
	Kind Kind
	// Line is the 1-based line (or JSON element) at fault; 0 when the
	// error is about the body as a whole or the line is not known.
	Line int
	// Field names the field (CSV column) at fault, where one is.
	Field string
	// Limit is the limit broken (bytes), for BodyTooLarge and LineTooLong.
	Limit int64
	// Msg says what is wrong, without the advice Error adds.
	Msg string
	// Err is the cause (a context error, ClickHouse's), for the log and
	// errors.Is; Error shows it for Unavailable only.
	Err error
}

// refuse returns an Error of kind with the message format, args.
func refuse(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	switch e.Kind {
	case BodyTooLarge:
		return fmt.Sprintf("the body is over %d bytes once decompressed (ADOPTSCOPE_INGEST_MAX_BODY): nothing from it was stored; send it in smaller parts", e.Limit)
	case LineTooLong:
		where := "a line"
		if e.Line > 0 {
			where = fmt.Sprintf("line %d", e.Line)
		}
		return fmt.Sprintf("%s is longer than %d bytes (ADOPTSCOPE_INGEST_MAX_LINE): nothing from the body was stored", where, e.Limit)
	case Busy:
		return e.Msg + ": nothing from this request was acknowledged, retry after a second"
	case Unavailable:
		msg := e.Msg
		if e.Err != nil {
			msg += " (" + e.Err.Error() + ")"
		}
		return "events not stored: " + msg + ": nothing from this request was acknowledged, retry in a few seconds"
	case ShuttingDown:
		return "ingest is shutting down: nothing from this request was acknowledged, retry in a few seconds"
	case Interrupted:
		return "the request ended before its events were committed: they are not acknowledged, send them again (nothing is stored twice)"
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is match the kind's sentinel (ErrTooLarge, ErrBusy, …).
func (e *Error) Is(target error) bool {
	switch e.Kind {
	case BadInput:
		return target == ErrMalformed
	case BodyTooLarge, LineTooLong:
		return target == ErrTooLarge
	case Busy:
		return target == ErrBusy
	case Unavailable:
		return target == ErrUnavailable
	case ShuttingDown:
		return target == ErrClosed
	}
	return false
}

// HTTPStatus is the status every intake answers for e.
func (e *Error) HTTPStatus() int {
	switch e.Kind {
	case BodyTooLarge, LineTooLong:
		return http.StatusRequestEntityTooLarge
	case Busy, Unavailable, ShuttingDown, Interrupted:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// RetryAfter is the Retry-After (seconds) e deserves: a second for load
// that passes (a full buffer, an interrupted request), five for a
// database or a process coming back; 0 when sending the same body again
// cannot help.
func (e *Error) RetryAfter() int {
	switch e.Kind {
	case Busy, Interrupted:
		return 1
	case Unavailable, ShuttingDown:
		return 5
	}
	return 0
}

// interrupted is the Error of a request whose context ended.
func interrupted(err error) *Error { return &Error{Kind: Interrupted, Err: err} }

// BodyError is the error of a body that could not be read to its end: an
// Error or an error that already carries its status (a read deadline) as
// it is, a context's end as Interrupted, anything else (a damaged gzip
// stream, a broken chunked encoding) as BadInput.
func BodyError(err error) error {
	var e *Error
	var st interface{ HTTPStatus() int }
	switch {
	case err == nil:
		return nil
	case errors.As(err, &e), errors.As(err, &st):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return interrupted(err)
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Kind: BadInput, Msg: "the body is cut short, or its gzip data is damaged", Err: err}
	}
	return &Error{Kind: BadInput, Msg: "reading the body: " + err.Error(), Err: err}
}
