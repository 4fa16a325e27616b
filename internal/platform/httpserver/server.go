// Package httpserver builds the one echo server that carries the ingest API,
// the query API and the dashboard, and runs it with a graceful shutdown.
package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// New returns an echo instance with recovery, request logging, security
// headers and JSON errors for the APIs.
func New(log *slog.Logger) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic in handler", "path", c.Request().URL.Path, "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(securityHeaders)
	e.Use(requestLog(log))
	return e
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

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error string `json:"error"`
}

func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		code := http.StatusInternalServerError
		msg := "internal error"
		var he *echo.HTTPError
		if errors.As(err, &he) {
			code = he.Code
			if m, ok := he.Message.(string); ok {
				msg = m
			} else {
				msg = http.StatusText(code)
			}
		} else {
			log.Error("request failed", "path", c.Request().URL.Path, "error", err)
		}
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(code)
			return
		}
		path := c.Request().URL.Path
		if strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/api/") || path == "/healthz" {
			_ = c.JSON(code, ErrorBody{Error: msg})
			return
		}
		_ = c.String(code, msg)
	}
}

// Serve listens on addr, calls ready with the bound address, and serves
// until ctx ends; then it stops accepting and gives in-flight requests up to
// grace to finish.
func Serve(ctx context.Context, e *echo.Echo, addr string, grace time.Duration, ready func(net.Addr)) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
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
