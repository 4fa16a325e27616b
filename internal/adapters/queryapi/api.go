// Package queryapi serves the query API under /api/v1/.
package queryapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/query"
)

// mimeJSON is the Content-Type of the JSON answers, byte for byte what
// echo's MIMEApplicationJSONCharsetUTF8 (deprecated) says.
const mimeJSON = "application/json; charset=UTF-8"

// Deps are everything the query API needs, filled once by the
// composition root. Store is required; Exports, Annotations and Detect are
// optional features: without Exports or Annotations their routes are not
// mounted, and the routes that need one they lack answer 503.
type Deps struct {
	Store *store.Store
	Log   *slog.Logger // nil: slog.Default()
	// ReadTokens may read; AdminTokens may read and write (annotations,
	// export definitions).
	ReadTokens, AdminTokens []string
	// Session, when set, reports the role ("viewer" or "admin") of a
	// logged-in dashboard session, so that the dashboard's own pages can
	// read the API. It is called per request.
	Session func(r *http.Request) (role string, ok bool)
	// DashboardUsers, when set, reports whether dashboard accounts exist.
	// Called per request.
	DashboardUsers func() bool
	// Loopback is true when the server listens on loopback only; with no
	// token and no dashboard account configured, admin calls are then
	// open too (a single-user install on a laptop).
	Loopback bool
	// Registry holds filter values to the configured assistants, channels
	// and event types (zero: the catalog's defaults): an unknown value is
	// a 400 naming the known ones.
	Registry catalog.Registry
	// Owners is who makes each assistant and owns each channel, for
	// /dependency (zero: catalog.DefaultOwners).
	Owners catalog.Owners

	// Exports serves /exports (nil: not mounted).
	Exports *export.Service
	// Annotations serves /annotations, annotation=<id> on /impact and the
	// detected breaks of /breaks (nil: /annotations is not mounted, the
	// others answer 503).
	Annotations *annotation.Service
	// Alerts serves /alerts (nil: not mounted).
	Alerts *alert.Service
	// Detect runs break detection now and describes what it did, for POST
	// /breaks/detect (nil: 503).
	Detect func(ctx context.Context) (string, error)
	// Panel keeps panel members and targets and weights them; nil on an
	// instance without ingest (its uploads and weights answer 503).
	Panel *panel.Service
}

// API holds the query API's handlers and access policy.
type API struct {
	deps   Deps
	read   auth.Tokens // read + admin tokens
	admin  auth.Tokens
	noAuth bool // no token configured
}

// New builds the API; it fails when a required dependency is missing.
func New(d Deps) (*API, error) {
	if d.Store == nil {
		return nil, errors.New("queryapi: Deps.Store is missing")
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &API{
		deps:   d,
		read:   auth.NewTokens(d.ReadTokens, d.AdminTokens),
		admin:  auth.NewTokens(d.AdminTokens),
		noAuth: len(d.ReadTokens)+len(d.AdminTokens) == 0,
	}, nil
}

// open reports whether nothing at all is configured to check against.
func (a *API) open() bool {
	return a.noAuth && (a.deps.DashboardUsers == nil || !a.deps.DashboardUsers())
}

// CanRead reports whether r may read: a read or admin bearer token, a
// dashboard session, or nothing configured at all (reads are then open; the
// server binds loopback by default).
func (a *API) CanRead(r *http.Request) bool {
	if a.read.Allows(auth.BearerToken(r)) {
		return true
	}
	if a.deps.Session != nil {
		if role, ok := a.deps.Session(r); ok && role != "" {
			return true
		}
	}
	return a.open()
}

// CanAdmin reports whether r may write: an admin bearer token, an admin
// dashboard session, or nothing configured on a loopback-only server.
func (a *API) CanAdmin(r *http.Request) bool {
	if a.admin.Allows(auth.BearerToken(r)) {
		return true
	}
	if a.deps.Session != nil {
		if role, ok := a.deps.Session(r); ok && role == "admin" {
			return true
		}
	}
	return a.open() && a.deps.Loopback
}

// RequireRead is middleware that answers 401 unless CanRead.
func (a *API) RequireRead(next echo.HandlerFunc) echo.HandlerFunc {
	return require(a.CanRead, "missing or unknown token: send Authorization: Bearer <token> with a token from ADOPTSCOPE_READ_TOKENS or ADOPTSCOPE_ADMIN_TOKENS", next)
}

// RequireAdmin is middleware that answers 401 unless CanAdmin.
func (a *API) RequireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return require(a.CanAdmin, "this needs Authorization: Bearer <token> with a token from ADOPTSCOPE_ADMIN_TOKENS", next)
}

// require answers 401 with msg, and the bearer challenge, unless allowed.
func require(allowed func(*http.Request) bool, msg string, next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !allowed(c.Request()) {
			return &httperr.Error{Status: http.StatusUnauthorized, Challenge: `Bearer realm="adoptscope"`, Message: msg}
		}
		return next(c)
	}
}

// Register mounts every route of the API on g (the /api/v1 group): the
// queries, the insight endpoints, the description, and the exports and
// annotations when their services are given.
func (a *API) Register(g *echo.Group) {
	g.GET("/openapi.json", ServeOpenAPI)
	g.GET("/series", a.getSeries, a.RequireRead)
	g.GET("/migration", a.getMigration, a.RequireRead)
	g.GET("/retention", a.getRetention, a.RequireRead)
	g.GET("/lifecycle", a.getLifecycle, a.RequireRead)
	g.GET("/stickiness", a.getStickiness, a.RequireRead)
	g.GET("/metrics", a.getMetrics, a.RequireRead)
	g.GET("/dependency", a.getDependency, a.RequireRead)
	g.GET("/kpis", a.getKPIs, a.RequireRead)
	g.GET("/countries", a.getCountries, a.RequireRead)
	g.GET("/freshness", a.getFreshness, a.RequireRead)
	a.registerInsight(g)
	if a.deps.Exports != nil {
		a.registerExports(g)
	}
	if a.deps.Annotations != nil {
		a.annotationHandlers().register(g)
	}
	a.registerPanel(g)
	if a.deps.Alerts != nil {
		a.registerAlerts(g)
	}
}

// format reads the format parameter: json (default) or csv.
func format(v url.Values) (string, error) {
	switch f := v.Get("format"); f {
	case "", "json":
		return "json", nil
	case "csv":
		return "csv", nil
	default:
		return "", &query.ParamError{Param: "format", Value: f, Allowed: "want json or csv"}
	}
}

// params parses the query string strictly: a malformed one (a ';', a bad
// escape) is a 400 rather than a silently dropped parameter.
func params(c echo.Context) (url.Values, error) {
	v, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, &query.ParamError{Param: "query string", Value: c.Request().URL.RawQuery,
			Allowed: "malformed (" + err.Error() + "): separate parameters with '&' and percent-encode values"}
	}
	return v, nil
}

func (a *API) getSeries(c echo.Context) error {
	v, err := params(c)
	if err != nil {
		return err
	}
	f, err := format(v)
	if err != nil {
		return err
	}
	first, err := a.since(c.Request().Context(), v)
	if err != nil {
		return err
	}
	req, err := query.ParseSeriesSince(v, first)
	if err != nil {
		return err
	}
	if err := query.CheckKnown(a.deps.Registry, req.Filters); err != nil {
		return err
	}
	if v.Has("estimate") || v.Has("panel") {
		return a.getSeriesEstimate(c, v, req, f)
	}
	ctx := c.Request().Context()
	if f == "csv" {
		name, err := a.csvName(ctx, query.EndpointSeries, string(req.Metric), req.From, req.To, v)
		if err != nil {
			return err
		}
		w := newLazyCSV(c, name)
		if err := query.WriteSeriesCSV(ctx, a.deps.Store, req, w); err != nil {
			return a.streamFailed(c, w, err)
		}
		return w.finish()
	}
	w := newLazyJSON(c)
	if err := query.StreamSeriesJSON(ctx, a.deps.Store, req, w); err != nil {
		return a.streamFailed(c, w, err)
	}
	return w.finish()
}

func (a *API) getMigration(c echo.Context) error {
	return answerNamed(c, func(v url.Values) (query.MigrationRequest, error) {
		r, err := query.ParseMigration(v)
		if err == nil {
			err = query.CheckKnownMigration(a.deps.Registry, r)
		}
		return r, err
	},
		func(ctx context.Context, req query.MigrationRequest) (query.MigrationResult, error) {
			return query.Migration(ctx, a.deps.Store, req)
		},
		query.WriteMigrationJSON, query.WriteMigrationCSV,
		func(ctx context.Context, req query.MigrationRequest, v url.Values) (string, error) {
			return a.csvName(ctx, query.EndpointMigration, "migration", req.Date.AddDate(0, 0, -req.BeforeDays), req.Date.AddDate(0, 0, req.AfterDays), v)
		})
}

func (a *API) getRetention(c echo.Context) error {
	return answerNamed(c, func(v url.Values) (query.RetentionRequest, error) {
		first, err := a.since(c.Request().Context(), v)
		if err != nil {
			return query.RetentionRequest{}, err
		}
		r, err := query.ParseRetentionSince(v, first)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, r.Filters)
		}
		return r, err
	},
		func(ctx context.Context, req query.RetentionRequest) (query.RetentionResult, error) {
			return query.Retention(ctx, a.deps.Store, req)
		},
		query.WriteRetentionJSON, query.WriteRetentionCSV,
		func(ctx context.Context, req query.RetentionRequest, v url.Values) (string, error) {
			return a.csvName(ctx, query.EndpointRetention, "retention", req.From, req.To, v)
		})
}

// getLifecycle: per week or month (and assistant or channel), the
// active people split into new, returning and resurrecting, and the
// dormant.
func (a *API) getLifecycle(c echo.Context) error {
	return answerNamed(c, func(v url.Values) (query.LifecycleRequest, error) {
		first, err := a.since(c.Request().Context(), v)
		if err != nil {
			return query.LifecycleRequest{}, err
		}
		r, err := query.ParseLifecycleSince(v, first)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, r.Filters)
		}
		return r, err
	},
		func(ctx context.Context, req query.LifecycleRequest) (query.LifecycleResult, error) {
			return query.Lifecycle(ctx, a.deps.Store, req)
		},
		query.WriteLifecycleJSON, query.WriteLifecycleCSV,
		func(ctx context.Context, req query.LifecycleRequest, v url.Values) (string, error) {
			return a.csvName(ctx, query.EndpointLifecycle, "lifecycle", query.PeriodStart(req.From, req.Interval), req.To, v)
		})
}

// getStickiness: of the people active in each whole window of 7 or 28
// days, how many were active on 1, 2, … all of its days.
func (a *API) getStickiness(c echo.Context) error {
	return answerNamed(c, func(v url.Values) (query.StickinessRequest, error) {
		r, err := query.ParseStickiness(v)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, r.Filters)
		}
		return r, err
	},
		func(ctx context.Context, req query.StickinessRequest) (query.StickinessResult, error) {
			return query.StickinessDistribution(ctx, a.deps.Store, req)
		},
		query.WriteStickinessJSON, query.WriteStickinessCSV,
		func(ctx context.Context, req query.StickinessRequest, v url.Values) (string, error) {
			return a.csvName(ctx, query.EndpointStickiness, "stickiness", req.From, req.To, v)
		})
}

// getDependency: per period and assistant, the people on channels the
// assistant's maker does not control, with the percentage.
func (a *API) getDependency(c echo.Context) error {
	return answerNamed(c, func(v url.Values) (query.DependencyRequest, error) {
		first, err := a.since(c.Request().Context(), v)
		if err != nil {
			return query.DependencyRequest{}, err
		}
		r, err := query.ParseDependencySince(v, first)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, r.Filters)
		}
		r.Owners = a.deps.Owners
		return r, err
	},
		func(ctx context.Context, req query.DependencyRequest) (query.DependencyResult, error) {
			return query.Dependency(ctx, a.deps.Store, req)
		},
		query.WriteDependencyJSON, query.WriteDependencyCSV,
		func(ctx context.Context, req query.DependencyRequest, v url.Values) (string, error) {
			return a.csvName(ctx, query.EndpointDependency, "dependency", req.From, req.To, v)
		})
}

// getCountries: the countries present in a slice, with their people, the
// comparison window's and the change (compare=), and each one's share of
// people per assistant: the Countries page's ranking.
func (a *API) getCountries(c echo.Context) error {
	return answer(c, func(v url.Values) (query.Slice, error) {
		first, err := a.since(c.Request().Context(), v)
		if err != nil {
			return query.Slice{}, err
		}
		sl, err := query.ParseCountries(v, first)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, sl.Filters)
		}
		return sl, err
	},
		func(ctx context.Context, sl query.Slice) (query.CountriesResult, error) {
			return query.CountryRanking(ctx, a.deps.Store, sl, time.Time{})
		},
		query.WriteCountriesJSON, query.WriteCountriesCSV,
		func(sl query.Slice) string {
			return query.CSVFileName("countries", sl.From, sl.To, false)
		})
}

type kpiRequest struct {
	filters query.Filters
	tz      string
}

// getKPIs: each assistant's DAU, WAU, MAU and stickiness over the last
// complete periods.
func (a *API) getKPIs(c echo.Context) error {
	return answer(c, func(v url.Values) (kpiRequest, error) {
		f, tz, err := query.ParseKPIs(v)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, f)
		}
		return kpiRequest{f, tz}, err
	},
		func(ctx context.Context, req kpiRequest) (query.KPIResult, error) {
			return query.KPIs(ctx, a.deps.Store, req.filters, req.tz, time.Time{})
		},
		query.WriteKPIsJSON, query.WriteKPIsCSV,
		func(kpiRequest) string { return "kpis.csv" })
}

// getFreshness: how far the data reaches and how far the charts trail.
func (a *API) getFreshness(c echo.Context) error {
	f, err := query.Freshness(c.Request().Context(), a.deps.Store, time.Time{})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := query.WriteFreshnessJSON(&buf, f); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mimeJSON, buf.Bytes())
}

// since is where range=all starts: the first stored event, read from the
// store only when v asks for it (zero otherwise, and while nothing is
// stored: the parsers then start at catalog.DefaultLaunch).
func (a *API) since(ctx context.Context, v url.Values) (time.Time, error) {
	if v.Get("range") != string(query.RangeAll) {
		return time.Time{}, nil
	}
	fr, err := query.Freshness(ctx, a.deps.Store, time.Now())
	if err != nil {
		return time.Time{}, err
	}
	return fr.FirstEvent, nil
}

// csvName names the CSV answer of an endpoint (kind) over the days [from,
// to] as a scheduled export names its files (query.CSVFileName), with name
// in the export's place: active_users_2026-01-05_2026-02-01.csv, and
// _synthetic when the days hold demo events, decided by the scheduler's
// own check (export.QuerySource.HasDemoData) on the same days.
func (a *API) csvName(ctx context.Context, kind, name string, from, to time.Time, v url.Values) (string, error) {
	p := url.Values{}
	for k, vs := range v {
		p[k] = vs
	}
	if kind != query.EndpointMigration {
		// The dates as parsed (range=all starts at the first event).
		p.Del("range")
		p.Set("from", from.Format(catalog.DateLayout))
		p.Set("to", to.Format(catalog.DateLayout))
	}
	synth, err := export.QuerySource{S: a.deps.Store}.HasDemoData(ctx, kind, p)
	if err != nil {
		return "", err
	}
	return query.CSVFileName(name, from, to, synth), nil
}

// answer serves an endpoint whose whole result is built before it is
// written: parse the parameters, run the query, write JSON or CSV (named
// by csvName).
func answer[Req, Res any](c echo.Context, parse func(url.Values) (Req, error), run func(context.Context, Req) (Res, error),
	writeJSON, writeCSV func(io.Writer, Res) error, csvName func(Req) string) error {
	return answerNamed(c, parse, run, writeJSON, writeCSV, func(_ context.Context, req Req, _ url.Values) (string, error) {
		return csvName(req), nil
	})
}

// answerNamed is answer for a CSV whose name needs the store (the
// _synthetic mark).
func answerNamed[Req, Res any](c echo.Context, parse func(url.Values) (Req, error), run func(context.Context, Req) (Res, error),
	writeJSON, writeCSV func(io.Writer, Res) error, csvName func(context.Context, Req, url.Values) (string, error)) error {
	v, err := params(c)
	if err != nil {
		return err
	}
	f, err := format(v)
	if err != nil {
		return err
	}
	req, err := parse(v)
	if err != nil {
		return err
	}
	res, err := run(c.Request().Context(), req)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if f == "csv" {
		if err := writeCSV(&buf, res); err != nil {
			return err
		}
		name, err := csvName(c.Request().Context(), req, v)
		if err != nil {
			return err
		}
		setCSV(c, name)
		return c.Blob(http.StatusOK, csvType, buf.Bytes())
	}
	if err := writeJSON(&buf, res); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, mimeJSON, buf.Bytes())
}

// getMetrics lists the metrics and dimensions, for clients that build
// requests.
func (a *API) getMetrics(c echo.Context) error {
	type metric struct {
		Name        string `json:"name"`
		Title       string `json:"title"`
		Unit        string `json:"unit"`
		Description string `json:"description"`
		Approximate bool   `json:"approximate"`
	}
	var ms []metric
	for _, n := range query.MetricNames() {
		d, _ := query.Definition(query.Metric(n))
		ms = append(ms, metric{n, d.Title, d.Unit, d.Description, d.Approximate})
	}
	return c.JSON(http.StatusOK, map[string]any{"metrics": ms, "dimensions": query.Dims, "intervals": query.Intervals})
}

const csvType = "text/csv; charset=utf-8"

func setCSV(c echo.Context, filename string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, csvType)
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
}

// lazyStream holds the first part of a streamed answer back, so that an
// error early in the query (the usual case, a refused size among them)
// still becomes a proper error status; past that, rows stream to the
// client and memory holds at most lazyLimit bytes of the answer.
type lazyStream struct {
	c         echo.Context
	setHeader func(echo.Context)
	buf       bytes.Buffer
	committed bool
}

const lazyLimit = 256 << 10

func newLazyCSV(c echo.Context, name string) *lazyStream {
	return &lazyStream{c: c, setHeader: func(c echo.Context) { setCSV(c, name) }}
}

func newLazyJSON(c echo.Context) *lazyStream {
	return &lazyStream{c: c, setHeader: func(c echo.Context) {
		c.Response().Header().Set(echo.HeaderContentType, mimeJSON)
	}}
}

func (w *lazyStream) Write(p []byte) (int, error) {
	if w.committed {
		return w.c.Response().Write(p)
	}
	w.buf.Write(p)
	if w.buf.Len() >= lazyLimit {
		w.commit()
		_, err := w.c.Response().Write(w.buf.Bytes())
		w.buf.Reset()
		return len(p), err
	}
	return len(p), nil
}

func (w *lazyStream) commit() {
	w.setHeader(w.c)
	w.c.Response().WriteHeader(http.StatusOK)
	w.committed = true
}

func (w *lazyStream) finish() error {
	if !w.committed {
		w.commit()
	}
	_, err := w.c.Response().Write(w.buf.Bytes())
	w.buf.Reset()
	return err
}

// streamFailed reports an error of a streamed answer: a proper status when
// nothing was sent yet, else a log line (the client sees a cut answer).
func (a *API) streamFailed(c echo.Context, w *lazyStream, err error) error {
	if !w.committed {
		return err
	}
	a.deps.Log.Error("answer stream failed after the first rows", "path", c.Request().URL.Path, "error", err)
	return nil
}
