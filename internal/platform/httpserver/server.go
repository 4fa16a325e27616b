// Package httpserver builds the one echo server that carries the ingest API,
// the query API and the dashboard, and runs it with a graceful shutdown.
package httpserver

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// Server is the echo instance every adapter mounts its routes on, with
// the one error handler they share.
type Server struct {
	Echo *echo.Echo
	// PageError renders the error of a dashboard page (any path outside
	// the APIs) in the page layout; nil: plain text.
	PageError func(c echo.Context, status int, msg string) error
	log       *slog.Logger

	opts     Options       // SetOptions
	apiPaths []string      // SetAPIPaths
	slots    chan struct{} // the concurrency cap's slots
	rejected atomic.Int64  // requests the cap answered 503
}

// New returns a server with recovery, request logging, security headers,
// the Host allow-list (on every route, before routing), the concurrency cap
// of the dashboard and query API, and one error handler: JSON errors for
// the APIs, error pages elsewhere. Its defences have their defaults until
// SetOptions.
func New(log *slog.Logger) *Server {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	s := &Server{Echo: e, log: log}
	s.SetOptions(Options{})
	e.HTTPErrorHandler = s.handleError
	e.Pre(s.hostGuard)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic in handler", "path", c.Request().URL.Path, "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(securityHeaders)
	e.Use(requestLog(log))
	e.Use(s.limitConcurrency)
	e.Use(s.apiRouting)
	return s
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
		}
		return next(c)
	}
}

func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req := c.Request()
			level := slog.LevelDebug
			if c.Response().Status >= 500 {
				level = slog.LevelWarn
			}
			log.Log(req.Context(), level, "http request", "method", req.Method, "path", req.URL.Path,
				"status", c.Response().Status, "bytes", c.Response().Size, "took", time.Since(start).Round(time.Microsecond))
			return nil
		}
	}
}

// Attachment sends an open file as a download named by its base name (with
// ranges and conditional requests), for the export files that the query
// API and the dashboard both serve.
func Attachment(c echo.Context, f io.ReadSeeker, st fs.FileInfo) error {
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+st.Name()+`"`)
	http.ServeContent(c.Response(), c.Request(), st.Name(), st.ModTime(), f)
	return nil
}

// IsAPI reports whether path is answered in JSON (the ingest API, the
// query API, the health check) rather than as a page.
func IsAPI(path string) bool {
	return strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/api/") || path == "/healthz"
}

// handleError answers every error a handler returns: the status and message
// come from httperr.Describe (echo's own errors, such as an unknown route,
// keep their status); only the presentation differs between the APIs and
// the dashboard.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ee *echo.HTTPError
	if errors.As(err, &ee) {
		msg, ok := ee.Message.(string)
		if !ok {
			msg = http.StatusText(ee.Code)
		}
		err = httperr.Wrap(ee.Code, msg, err)
	}
	status, msg, unexpected := httperr.Describe(err)
	req := c.Request()
	switch {
	case unexpected:
		s.log.Error("request failed", "method", req.Method, "path", req.URL.Path, "error", err)
	case status == http.StatusGatewayTimeout:
		s.log.Warn("query timed out", "path", req.URL.Path, "query", req.URL.RawQuery)
	}
	httperr.SetHeaders(c.Response().Header(), err)
	if req.Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if s.answersJSON(req.URL.Path) {
		_ = c.JSONBlob(status, httperr.JSON(msg))
		return
	}
	if s.PageError != nil {
		if perr := s.PageError(c, status, msg); perr == nil {
			return
		}
	}
	_ = c.String(status, msg)
}

// Serve listens on addr, calls ready with the bound address, and serves
// until ctx ends; then it stops accepting and gives in-flight requests up to
// grace to finish.
func (s *Server) Serve(ctx context.Context, addr string, grace time.Duration, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	l = headerLimitListener{Listener: l, answer: headerLimitAnswer(s.opts.MaxHeaderBytes)}
	srv := s.HTTPServer()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	if ready != nil {
		ready(l.Addr())
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}
