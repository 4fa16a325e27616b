package dashboard

import (
	"context"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/views"
)

// pageRequest is one page request as its handler and its charts see it,
// built once by the page's handler and passed down explicitly: who asks,
// the page's filters, and what the charts of the page share (the series
// answers, the freshness read once, whether a chart had nothing to show).
type pageRequest struct {
	c       echo.Context
	f       Filters
	session auth.Session
	csrf    string
	series  seriesMemo
	fresh   freshMemo
	empty   emptyFlag
}

// request starts a page request without filters (pages that show no
// charts, or read their filters another way).
func (h *Handler) request(c echo.Context) *pageRequest {
	ctx := c.Request().Context()
	return &pageRequest{c: c, session: sessionOf(ctx), csrf: csrfOf(ctx), series: seriesMemo{calls: map[string]*memoCall{}}}
}

// chartRequest starts the request of a chart page: its filters read from
// the URL ("since launch" from the first stored event).
func (h *Handler) chartRequest(c echo.Context) *pageRequest {
	pr := h.request(c)
	pr.f = h.filters(pr)
	return pr
}

// ctx is the request's context (cancelled when the client goes away).
func (pr *pageRequest) ctx() context.Context { return pr.c.Request().Context() }

// emptyFlag notes that a chart of the request had nothing to show: the
// page then says once, above them, why and what to do, instead of every
// card repeating it.
type emptyFlag struct {
	mu  sync.Mutex
	set bool
}

func (e *emptyFlag) mark() {
	e.mu.Lock()
	e.set = true
	e.mu.Unlock()
}

func (e *emptyFlag) seen() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.set
}

// chart starts a chart card with its CSV link and, when an export can
// repeat that query, its "Schedule this as CSV" link (the page's range
// preset keeps the export rolling).
func (pr *pageRequest) chart(id, title, csv string) views.Chart {
	return views.Chart{ID: id, Title: title, CSV: csv, Schedule: scheduleURL(csv, title, pr.f.Range)}
}
