// Package dashboard is the dashboard's echo adapter: routes, sign-in and
// CSRF, and one handler per page that reads its numbers through package
// query, turns them into a view model of package views and renders it.
package dashboard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/views"
)

// Deps are what the dashboard is built from, by the composition root
// (internal/app). Store, Auth and Annotations are required: New fails
// naming the one missing. The others are optional, as each says.
type Deps struct {
	Store *store.Store
	Auth  *Auth
	// Annotations are the annotations of the store, scopes checked against
	// the registries.
	Annotations *annotation.Service
	// Log: nil means slog.Default().
	Log *slog.Logger
	// Now is the clock (tests); nil means time.Now. "Today" is its UTC date.
	Now func() time.Time
	// Assistants and Channels are the filter choices; empty: the ingest
	// defaults.
	Assistants, Channels []string
	// IngestStats returns the ingest snapshot for the Ingest page; nil when
	// this process does not run ingest.
	IngestStats func() ingest.Snapshot
	// Ingest is the pipeline behind POST /v1/events, which files uploaded
	// on the Ingest page go through; nil when this process does not run
	// ingest (the page then says where to send files).
	Ingest *ingest.Pipeline
	// QueryTimeout bounds each chart's query (default 20 s).
	QueryTimeout time.Duration
	// Exports serves the Exports page (nil: this process has no exports;
	// the page says so).
	Exports *export.Service
	// Alerts serves the Alerts page (nil: the page says alerts are not
	// served here).
	Alerts *alert.Service
	// Owners says who makes each assistant and owns each channel (platform
	// dependency); nil: catalog.DefaultOwners.
	Owners *catalog.Owners
	// Timezone is the IANA zone of the days of every page when the URL has
	// no tz (ADOPTSCOPE_TIMEZONE); "" is UTC.
	Timezone string
	// Panel weights consumer panels (the Panel page); nil when this
	// process does not run ingest (the page says so).
	Panel *panel.Service
	// RollupInterval and RollupMaxLag are the rollup builder's schedule,
	// as the Ingest page explains it (zero: the builder's defaults).
	RollupInterval, RollupMaxLag time.Duration
}

// Handler serves the dashboard pages.
type Handler struct {
	opts   Deps
	log    *slog.Logger
	owners catalog.Owners
}

// New returns the dashboard handler, or an error naming the required
// dependency that is missing.
func New(d Deps) (*Handler, error) {
	switch {
	case d.Store == nil:
		return nil, errors.New("dashboard: Deps.Store is missing")
	case d.Auth == nil:
		return nil, errors.New("dashboard: Deps.Auth is missing")
	case d.Annotations == nil:
		return nil, errors.New("dashboard: Deps.Annotations is missing")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	rc := rollup.Config{Interval: d.RollupInterval, MaxLag: d.RollupMaxLag}.WithDefaults()
	d.RollupInterval, d.RollupMaxLag = rc.Interval, rc.MaxLag
	if len(d.Assistants) == 0 {
		d.Assistants = defaultAssistants()
	}
	if len(d.Channels) == 0 {
		d.Channels = defaultChannels()
	}
	if d.QueryTimeout == 0 {
		d.QueryTimeout = 20 * time.Second
	}
	owners := catalog.DefaultOwners()
	if d.Owners != nil {
		owners = *d.Owners
	}
	return &Handler{opts: d, log: d.Log, owners: owners}, nil
}

// Register mounts the dashboard on e: static files, login, and the pages
// behind the session and CSRF checks.
func (h *Handler) Register(e *echo.Echo) {
	e.GET("/static/:hash/:name", serveStatic)
	g := e.Group("", h.secure)
	g.GET("/login", h.showLoginPage)
	g.POST("/login", h.submitLogin)
	g.POST("/logout", h.submitLogout)
	// An upload's body is bounded before the CSRF check reads it (upload.go).
	e.POST(UploadPath, h.submitIngestUpload, h.guardUpload, h.secure, h.requireSession, h.requireAdmin)
	pages := g.Group("", h.requireSession)
	h.routes(pages)
}

// routes lists every dashboard page. Add a page here (one line) and in
// the nav of layout.templ.
func (h *Handler) routes(g *echo.Group) {
	g.GET("/", h.showOverviewPage)
	g.GET("/compare", h.showComparePage)
	g.GET("/channel", h.showChannelPage)
	g.GET("/channel/dependency.csv", h.dependencyCSV)
	g.GET("/impact", h.showImpactPage)
	g.GET("/retention", h.showRetentionPage)
	g.GET("/lifecycle", h.showLifecyclePage)
	g.GET("/countries", h.showCountriesPage)
	g.GET("/modalities", h.showModalitiesPage)
	g.GET("/panel", h.showPanelPage)
	g.GET("/annotations", h.showAnnotationsPage)
	g.POST("/annotations", h.submitAnnotation, h.requireAdmin)
	g.POST("/annotations/:id/delete", h.submitAnnotationDelete, h.requireAdmin)
	g.POST("/annotations/breaks/:id/accept", h.submitBreakAccept, h.requireAdmin)
	g.POST("/annotations/breaks/:id/dismiss", h.submitBreakDismiss, h.requireAdmin)
	g.GET("/overlap", h.showOverlapPage)
	g.GET("/ingest", h.showIngestPage)
	h.exportRoutes(g)
	h.alertRoutes(g)
}

// secure sets the security headers of dashboard responses, with a fresh
// CSP nonce for each, and checks every write (any method but GET, HEAD
// and OPTIONS) for the CSRF token or this site's Origin (validCSRF).
func (h *Handler) secure(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		nb := make([]byte, 16)
		_, _ = rand.Read(nb)
		nonce := base64.RawStdEncoding.EncodeToString(nb)
		hd := c.Response().Header()
		// ECharts draws on canvas and needs no eval. Its tooltips set
		// inline style attributes, hence style-src 'unsafe-inline' (styles
		// cannot run code); scripts only from this origin or with the nonce.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'nonce-"+nonce+"'; "+
			"style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "+
			"base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Cache-Control", "no-store")
		ctx := context.WithValue(templ.WithNonce(r.Context(), nonce), csrfKey, h.opts.Auth.csrfToken(c.Response(), r))
		c.SetRequest(r.WithContext(ctx))
		if !safeMethod(r.Method) && !h.opts.Auth.validCSRF(c.Request()) {
			return httperr.New(http.StatusForbidden, "The form has expired or did not come from this site. Reload the page and try again.")
		}
		return next(c)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func (h *Handler) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		s, ok := h.opts.Auth.SessionFromRequest(c.Request())
		if !ok {
			return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(c.Request().URL.RequestURI()))
		}
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), sessionKey, s)))
		return next(c)
	}
}

func (h *Handler) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !sessionOf(c.Request().Context()).IsAdmin() {
			return httperr.New(http.StatusForbidden, "Only an admin may do this: sign in with an admin account.")
		}
		return next(c)
	}
}

// page fills the layout data common to every page.
func (h *Handler) page(pr *pageRequest, title, path string, f Filters) views.Page {
	if f.TZ == "" {
		f.TZ = zoneName(h.opts.Timezone)
	}
	return views.Page{
		Title: title, Path: path, Filters: filterState(f), ShowFilters: true,
		User: pr.session.User, Role: pr.session.Role, AuthEnabled: h.opts.Auth.Enabled(), CSRF: pr.csrf,
		Assistants: h.opts.Assistants, Channels: h.opts.Channels,
		Freshness: freshnessText(h.fresh(pr), f.Location()),
		ZoneNote:  zoneNote(h.fresh(pr), f.zone()),
	}
}

// zoneNote says, for a zone other than UTC without rollups of its own
// (ADOPTSCOPE_TIME_ZONES, or one still being backfilled), that its charts
// read raw events.
func zoneNote(fr freshness, zone string) string {
	if zone == "UTC" || !fr.Known || fr.Q.ZoneBuilt(zone) {
		return ""
	}
	return zone + " has no rollups of its own yet (ADOPTSCOPE_TIME_ZONES): its charts are computed from raw events, exact but slower"
}

// filterState is the filter bar showing f.
func filterState(f Filters) views.FilterState {
	s := views.FilterState{Range: f.Range, From: f.FromString(), To: f.ToString(), Zone: f.zone(), Interval: f.Interval,
		Assistants: f.Assistants, Channels: f.Channels, Countries: f.Countries, Compare: string(f.Compare), Partial: f.Partial,
		Errors: f.Errors, Query: f.Values().Encode(), Intervals: Intervals}
	for _, p := range Presets {
		s.Presets = append(s.Presets, views.Choice{Value: p.Key, Label: p.Label})
	}
	return s
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// render writes a page rendered into a buffer first, so that a render
// error becomes a proper error page rather than half a page.
func (h *Handler) render(pr *pageRequest, status int, p views.Page, body templ.Component) error {
	c := pr.c
	var buf bytes.Buffer
	if pr.empty.seen() && p.EmptyHint == "" {
		p.EmptyHint = h.emptyHint(pr, pr.f)
	}
	if p.ShowFilters && p.Countries == nil && p.CountriesErr == "" {
		p.Countries, p.CountriesErr = h.countryChoices(pr, pr.f)
	}
	ctx := templ.WithChildren(c.Request().Context(), body)
	if err := views.Layout(p).Render(ctx, &buf); err != nil {
		h.log.Error("render page", "path", c.Request().URL.Path, "error", err)
		return httperr.Wrap(http.StatusInternalServerError, "The page could not be rendered. The error is in the server log.", err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// ErrorPage shows the message of a failed page in the layout, never a
// stack trace: the server's error handler calls it for every dashboard
// path (httpserver.Server.PageError), with the status and message of
// httperr.Describe.
func (h *Handler) ErrorPage(c echo.Context, status int, msg string) error {
	s := sessionOf(c.Request().Context())
	p := views.Page{Title: http.StatusText(status), CSRF: csrfOf(c.Request().Context()), AuthEnabled: h.opts.Auth.Enabled(),
		User: s.User, Role: s.Role, Filters: filterState(Filters{})}
	var buf bytes.Buffer
	ctx := templ.WithChildren(c.Request().Context(), views.ErrorBox(msg))
	if err := views.Layout(p).Render(ctx, &buf); err != nil {
		return c.String(status, msg)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

func (h *Handler) today() time.Time { return truncDay(h.opts.Now()) }

// queryCtx bounds one chart's work.
func (h *Handler) queryCtx(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), h.opts.QueryTimeout)
}

// readableErr turns a query failure into the message of its chart's box:
// the same message the query API gives for it (httperr.Describe); the
// details go to the log.
func (h *Handler) readableErr(c echo.Context, chart string, err error) error {
	h.log.Warn("chart failed", "path", c.Request().URL.Path, "chart", chart, "error", err)
	if _, msg, unexpected := httperr.Describe(err); !unexpected {
		return errors.New(msg)
	}
	return err
}

// filters reads the page's filter state from its URL: days in the URL's tz
// (default Options.Timezone), "since launch" from the first stored event,
// values checked against the registries the filter bar offers.
func (h *Handler) filters(pr *pageRequest) Filters {
	return parseFilters(pr.c.QueryParams(), filterEnv{now: h.opts.Now(), launch: h.launch(pr),
		assistants: h.opts.Assistants, channels: h.opts.Channels, tz: h.opts.Timezone})
}
