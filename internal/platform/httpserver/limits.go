package httpserver

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// Options are the server's defences; the zero value of a field is its
// default.
type Options struct {
	// AllowedHosts are the names beyond localhost and IP literals that
	// requests may be addressed to (HostAllowed).
	AllowedHosts []string
	// BodyTimeout bounds the reading of a request body (default 30 s);
	// IngestBodyTimeout that of a body sent to /v1/ (default 94 s, what a
	// 16 MiB body takes at 256 KiB/s, plus 30 s).
	BodyTimeout, IngestBodyTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (default 64 KiB;
	// 431 above).
	MaxHeaderBytes int
	// MaxConcurrent caps the dashboard and query API requests answered at
	// once (default 32); QueueTimeout is how long one more waits for a slot
	// before it gets 503 (default 2 s).
	MaxConcurrent int
	QueueTimeout  time.Duration
	// IngestPaths are the paths of the ingest endpoints (a path ending in
	// "/" is a prefix): they get IngestBodyTimeout and are not counted
	// against MaxConcurrent (the ingest buffer bounds them). The app sets
	// the paths its ingest mounted (SetIngestPaths); default: /v1/ and the
	// PostHog-compatible paths.
	IngestPaths []string
}

var defaultIngestPaths = []string{"/v1/", "/batch", "/batch/", "/capture", "/capture/", "/e", "/e/", "/i/v0/e", "/i/v0/e/", "/i/v1/analytics/events", "/i/v1/analytics/events/"}

func (o Options) withDefaults() Options {
	if o.BodyTimeout <= 0 {
		o.BodyTimeout = 30 * time.Second
	}
	if o.IngestBodyTimeout <= 0 {
		o.IngestBodyTimeout = 94 * time.Second
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = 64 << 10
	}
	if len(o.IngestPaths) == 0 {
		o.IngestPaths = defaultIngestPaths
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 32
	}
	if o.QueueTimeout < 0 {
		o.QueueTimeout = 0
	} else if o.QueueTimeout == 0 {
		o.QueueTimeout = 2 * time.Second
	}
	return o
}

// SetOptions replaces the server's defences; call it before Serve.
func (s *Server) SetOptions(o Options) {
	s.opts = o.withDefaults()
	s.slots = make(chan struct{}, s.opts.MaxConcurrent)
}

// SetIngestPaths sets Options.IngestPaths (the app knows them once the
// ingest routes are mounted); call it before Serve.
func (s *Server) SetIngestPaths(paths []string) {
	if len(paths) > 0 {
		s.opts.IngestPaths = paths
	}
}

// IsIngest reports whether path is an ingest endpoint (Options.IngestPaths).
func (s *Server) IsIngest(path string) bool {
	for _, p := range s.opts.IngestPaths {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// Options returns the defences in force.
func (s *Server) Options() Options { return s.opts }

// Rejected counts the requests the concurrency cap answered 503.
func (s *Server) Rejected() int64 { return s.rejected.Load() }

// Handler is the server's http.Handler: echo behind the per-request body
// read deadline.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			limit, ingest := s.opts.BodyTimeout, s.IsIngest(r.URL.Path)
			if ingest {
				limit = s.opts.IngestBodyTimeout
			}
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(limit)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, w: w, limit: limit, ingest: ingest}
			}
		}
		s.Echo.ServeHTTP(w, r)
	})
}

// HTTPServer is the http.Server Serve runs: header read timeout and size,
// idle timeout, and Handler.
func (s *Server) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
	}
}

// deadlineBody is a request body read under a connection read deadline.
// Once the body has been read to its end, the deadline is lifted: the
// server's background read (which notices a client that goes away while
// the handler works) must not time out under a handler that takes longer
// than the body did.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	w      http.ResponseWriter
	limit  time.Duration
	ingest bool
	done   bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == nil || b.done {
		return n, err
	}
	b.done = true
	if errors.Is(err, os.ErrDeadlineExceeded) {
		b.w.Header().Set("Connection", "close")
		return n, &BodyTimeoutError{Limit: b.limit, Ingest: b.ingest, Err: err}
	}
	_ = b.rc.SetReadDeadline(time.Time{})
	return n, err
}

// BodyTimeoutError is a request body that did not arrive within its
// deadline: answered 408, and the connection is closed.
type BodyTimeoutError struct {
	Limit  time.Duration
	Ingest bool
	Err    error
}

func (e *BodyTimeoutError) Error() string {
	v := "ADOPTSCOPE_BODY_TIMEOUT"
	if e.Ingest {
		v = "ADOPTSCOPE_INGEST_BODY_TIMEOUT"
	}
	return fmt.Sprintf("the request body did not arrive within %s (%s): send it in one go, or raise %s", e.Limit, v, v)
}

func (e *BodyTimeoutError) Unwrap() error   { return e.Err }
func (e *BodyTimeoutError) HTTPStatus() int { return http.StatusRequestTimeout }

// capped reports whether path counts against the concurrency cap: the
// dashboard and the query API. Ingest has its own bound (its buffer
// answers 503 when full); health checks, metrics scrapes and static files
// must answer when the pages are busy.
func (s *Server) capped(path string) bool {
	switch {
	case s.IsIngest(path), path == "/healthz", path == "/metrics", strings.HasPrefix(path, "/static/"):
		return false
	}
	return true
}

// limitConcurrency answers at most MaxConcurrent dashboard and query API
// requests at once; one more waits up to QueueTimeout for a slot, then
// gets 503 with Retry-After.
func (s *Server) limitConcurrency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.capped(c.Request().URL.Path) {
			return next(c)
		}
		slots := s.slots
		select {
		case slots <- struct{}{}:
		default:
			t := time.NewTimer(s.opts.QueueTimeout)
			select {
			case slots <- struct{}{}:
				t.Stop()
			case <-t.C:
				s.rejected.Add(1)
				s.log.Warn("dashboard/API request refused: too many at once", "path", c.Request().URL.Path, "limit", cap(slots))
				return &httperr.Error{Status: http.StatusServiceUnavailable, RetryAfter: 2, Message: fmt.Sprintf(
					"the server is answering %d dashboard and API requests at once (ADOPTSCOPE_MAX_CONCURRENT_REQUESTS) and this one waited %s (ADOPTSCOPE_QUEUE_TIMEOUT): retry in a few seconds; if this happens often, narrow the queries or raise the limit",
					cap(slots), s.opts.QueueTimeout)}
			case <-c.Request().Context().Done():
				t.Stop()
				return c.Request().Context().Err()
			}
		}
		defer func() { <-slots }()
		return next(c)
	}
}
