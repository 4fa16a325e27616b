package httpserver

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// The APIs answer every request in JSON, those no handler serves too: an
// unknown path is a 404 and a known path asked with another method a 405
// with Allow. Without this, the dashboard's catch-all (the route its group
// of pages registers for every path) answered them: an unknown POST got
// the page's "the form has expired" 403 in HTML, and a wrong method a 404.

// SetAPIPaths adds paths answered in JSON beyond /api/ and /v1/ (a path
// ending in "/" is a prefix): the app names the ingest routes it mounted
// (the PostHog-compatible ones). Call it before Serve.
func (s *Server) SetAPIPaths(paths []string) {
	s.apiPaths = append([]string(nil), paths...)
}

// answersJSON reports whether path belongs to an API (IsAPI, or a path
// given to SetAPIPaths).
func (s *Server) answersJSON(path string) bool {
	if IsAPI(path) {
		return true
	}
	for _, p := range s.apiPaths {
		if path == p || strings.HasSuffix(p, "/") && strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// probedMethods are the methods tried to fill Allow.
var probedMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// apiRouting answers, for an API path, the requests that no route of their
// method serves: 404 when no method is served at the path, 405 with Allow
// otherwise (OPTIONS: 204 with Allow).
func (s *Server) apiRouting(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if !s.answersJSON(r.URL.Path) || routed(c) {
			return next(c)
		}
		allow := s.allowed(r.URL.Path)
		if len(allow) == 0 {
			return httperr.New(http.StatusNotFound, fmt.Sprintf("no endpoint %s: the query API is described at /api/v1/openapi.json", strconv.Quote(r.URL.Path)))
		}
		c.Response().Header().Set(echo.HeaderAllow, strings.Join(append(allow, http.MethodOptions), ", "))
		if r.Method == http.MethodOptions {
			return c.NoContent(http.StatusNoContent)
		}
		return httperr.New(http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, strings.Join(allow, " or ")))
	}
}

// routed reports whether the route echo chose for c serves its method at
// its path: not a catch-all ("/*", which a group of pages registers for
// its middleware) nor echo's own 405.
func routed(c echo.Context) bool {
	p := c.Path()
	return p != "" && !strings.HasSuffix(p, "*") && c.Get(echo.ContextKeyHeaderAllow) == nil
}

// allowed lists the methods a route serves at path.
func (s *Server) allowed(path string) []string {
	var out []string
	c := s.Echo.AcquireContext()
	defer s.Echo.ReleaseContext(c)
	for _, m := range probedMethods {
		c.Reset(nil, nil)
		s.Echo.Router().Find(m, path, c)
		if routed(c) {
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}

// net/http answers a request line and headers over MaxHeaderBytes itself,
// before any handler, with a text/plain 431. jsonHeaderLimit rewrites that
// one canned answer, as it is written to the connection, into the APIs'
// JSON error shape, with advice.

// cannedHeaderLimit is what net/http writes (net/http/server.go).
const cannedHeaderLimit = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"

type headerLimitListener struct {
	net.Listener
	answer []byte
}

func (l headerLimitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &headerLimitConn{Conn: c, answer: l.answer}, nil
}

type headerLimitConn struct {
	net.Conn
	answer []byte
}

func (c *headerLimitConn) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, []byte(cannedHeaderLimit)) {
		if _, err := c.Conn.Write(c.answer); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// headerLimitAnswer is the 431 sent instead of net/http's.
func headerLimitAnswer(limit int) []byte {
	body := httperr.JSON(fmt.Sprintf("the request line and headers are over %d bytes (ADOPTSCOPE_MAX_HEADER_BYTES): send fewer or smaller headers (cookies, tokens), or raise the limit", limit))
	return []byte(fmt.Sprintf("HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body))
}
