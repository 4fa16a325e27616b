package dashboard

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/adapters/queryapi"
)

// The Exports page: the list of scheduled exports (schedule in words, next
// run, last status), each export's run history with download links for the
// files still kept, run now, delete, and the create form that "Schedule
// this as CSV" on a chart opens prefilled.

var exportBackends sync.Map // *Handler -> *queryapi.ExportHandlers

// UseExports gives the dashboard the process's export handlers (the same
// ones that serve /api/v1/exports). Without it the page says exports are
// not available in this process.
func (h *Handler) UseExports(x *queryapi.ExportHandlers) { exportBackends.Store(h, x) }

func (h *Handler) exportsBackend() *queryapi.ExportHandlers {
	if x, ok := exportBackends.Load(h); ok {
		return x.(*queryapi.ExportHandlers)
	}
	return nil
}

// exportRoutes mounts the Exports page (called from routes).
func (h *Handler) exportRoutes(g *echo.Group) {
	g.GET("/exports", h.showExportsPage)
	g.GET("/exports/new", h.showExportFormPage, h.requireAdmin)
	g.POST("/exports", h.submitExport, h.requireAdmin)
	g.GET("/exports/:id", h.showExportPage)
	g.GET("/exports/:id/files/:file", h.downloadExportFile)
	g.POST("/exports/:id/run", h.submitExportRun, h.requireAdmin)
	g.POST("/exports/:id/delete", h.submitExportDelete, h.requireAdmin)
}

type exportsView struct {
	List    []queryapi.ExportView
	Err     string
	Admin   bool
	CSRF    string
	Notice  string
	Current *queryapi.ExportView
	Runs    []queryapi.RunView
	Form    exportForm
	FormErr string
}

// exportForm is the create form's fields.
type exportForm struct {
	Name, Kind, Query, Range, Schedule, Timezone, Delimiter, Folder, WebhookURL string
	BOM, SkipEmpty                                                              bool
	Keep                                                                        int
	FromChart                                                                   string // the chart's title, when opened from one
}

var exportRanges = append(append([]export.Range{}, export.Ranges...), "since:2026-01-01")

var exportZones = []string{"UTC", "Europe/Paris", "Europe/London", "America/New_York", "America/Los_Angeles", "Asia/Kolkata", "Asia/Tokyo", "Africa/Cairo", "America/Sao_Paulo"}

func (h *Handler) exportsPage(c echo.Context, title string) Page {
	p := h.page(c, title, "/exports", ParseFilters(nil, h.today(), launchDate))
	p.ShowFilters = false
	return p
}

func (h *Handler) baseExportsView(c echo.Context) exportsView {
	return exportsView{Admin: sessionOf(c.Request().Context()).IsAdmin(), CSRF: csrfOf(c.Request().Context())}
}

func (h *Handler) showExportsPage(c echo.Context) error {
	v := h.baseExportsView(c)
	x := h.exportsBackend()
	if x == nil {
		v.Err = "Exports are not available in this process."
		return h.render(c, http.StatusOK, h.exportsPage(c, "Exports"), ExportsPage(v))
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	list, err := x.Overview(ctx)
	if err != nil {
		v.Err = h.readableErr(c, "exports", err).Error()
	}
	v.List = list
	switch c.QueryParam("done") {
	case "deleted":
		v.Notice = "Export deleted. Its files and history stay in the exports folder."
	}
	return h.render(c, http.StatusOK, h.exportsPage(c, "Exports"), ExportsPage(v))
}

func (h *Handler) currentExport(c echo.Context) (*queryapi.ExportHandlers, export.Export, error) {
	x := h.exportsBackend()
	if x == nil {
		return nil, export.Export{}, h.renderError(c, http.StatusNotFound, "Exports are not available in this process.")
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	e, err := x.Exports.Get(ctx, c.Param("id"))
	if errors.Is(err, export.ErrNotFound) {
		return nil, e, h.renderError(c, http.StatusNotFound, "No such export (it may have been deleted).")
	}
	if err != nil {
		return nil, e, h.renderError(c, http.StatusInternalServerError, h.readableErr(c, "exports", err).Error())
	}
	return x, e, nil
}

func (h *Handler) showExportPage(c echo.Context) error {
	x, e, err := h.currentExport(c)
	if x == nil {
		return err
	}
	v := h.baseExportsView(c)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	runs, rerr := x.History(ctx, e, 100)
	if rerr != nil {
		v.Err = h.readableErr(c, "export history", rerr).Error()
	}
	for i := range runs {
		if runs[i].Download != "" {
			runs[i].Download = "/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(runs[i].File)
		}
	}
	var last *export.Run
	if len(runs) > 0 {
		last = &runs[0].Run
	}
	cur := x.View(e, last)
	v.Current, v.Runs = &cur, runs
	switch c.QueryParam("done") {
	case "started":
		v.Notice = "Run started. Reload this page to see it finish."
	case "created":
		v.Notice = "Export created. It runs on its schedule; use Run now to try it."
	}
	return h.render(c, http.StatusOK, h.exportsPage(c, "Export "+e.Name), ExportPage(v))
}

func (h *Handler) downloadExportFile(c echo.Context) error {
	x, e, err := h.currentExport(c)
	if x == nil {
		return err
	}
	return queryapi.ServeExportFile(c, x.Root, e, c.Param("file"))
}

func (h *Handler) submitExportRun(c echo.Context) error {
	x, e, err := h.currentExport(c)
	if x == nil {
		return err
	}
	x.StartRun(e)
	return c.Redirect(http.StatusSeeOther, "/exports/"+url.PathEscape(e.ID)+"?done=started")
}

func (h *Handler) submitExportDelete(c echo.Context) error {
	x, e, err := h.currentExport(c)
	if x == nil {
		return err
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	if err := x.Exports.Delete(ctx, e.ID); err != nil {
		return h.renderError(c, http.StatusInternalServerError, "Could not delete: "+h.readableErr(c, "exports", err).Error())
	}
	return c.Redirect(http.StatusSeeOther, "/exports?done=deleted")
}

// ScheduleURL is the "Schedule this as CSV" link of a chart whose CSV
// download is csvURL (a query API URL such as
// /api/v1/series?metric=…&from=…&to=…&format=csv): the create form,
// prefilled with the chart's query; its dates become the nearest relative
// range. Empty when the chart has no query API CSV.
func ScheduleURL(csvURL, title string) string {
	u, err := url.Parse(csvURL)
	if err != nil || !strings.HasPrefix(u.Path, "/api/v1/") {
		return ""
	}
	kind := strings.TrimPrefix(u.Path, "/api/v1/")
	if kind != "series" && kind != "migration" && kind != "retention" {
		return ""
	}
	q := u.Query()
	rng := "last_28_days"
	if f, err1 := time.Parse("2006-01-02", q.Get("from")); err1 == nil {
		if t, err2 := time.Parse("2006-01-02", q.Get("to")); err2 == nil {
			switch days := int(t.Sub(f).Hours()/24) + 1; {
			case days <= 7:
				rng = "last_7_days"
			case days <= 28:
				rng = "last_28_days"
			default:
				rng = "since:" + f.Format("2006-01-02")
			}
		}
	}
	for _, k := range []string{"from", "to", "format"} {
		q.Del(k)
	}
	out := url.Values{"kind": {kind}, "query": {q.Encode()}, "range": {rng}, "chart": {title}}
	return "/exports/new?" + out.Encode()
}

func (h *Handler) showExportFormPage(c echo.Context) error {
	v := h.baseExportsView(c)
	q := c.QueryParams()
	v.Form = exportForm{Kind: q.Get("kind"), Query: q.Get("query"), Range: q.Get("range"), Schedule: "0 6 * * MON",
		Timezone: "UTC", Delimiter: ",", Keep: export.DefaultKeep, FromChart: q.Get("chart"), Name: q.Get("name")}
	if v.Form.Kind == "" {
		v.Form.Kind = "series"
	}
	if v.Form.Query == "" {
		v.Form.Query = "metric=active_users&interval=day&by=assistant"
	}
	if v.Form.Range == "" {
		v.Form.Range = "last_28_days"
	}
	if v.Form.Name == "" {
		v.Form.Name = suggestExportName(v.Form.Query)
	}
	return h.render(c, http.StatusOK, h.exportsPage(c, "New export"), ExportFormPage(v))
}

func suggestExportName(query string) string {
	q, _ := url.ParseQuery(query)
	parts := []string{q.Get("metric")}
	if parts[0] == "" {
		parts[0] = "export"
	}
	if by := q.Get("by"); by != "" {
		parts = append(parts, "by", strings.ReplaceAll(by, ",", "_"))
	}
	n := strings.Join(parts, "_")
	if !export.ValidName(n) {
		return "export"
	}
	return n
}

func (h *Handler) submitExport(c echo.Context) error {
	x := h.exportsBackend()
	if x == nil {
		return h.renderError(c, http.StatusNotFound, "Exports are not available in this process.")
	}
	keep, _ := strconv.Atoi(c.FormValue("keep"))
	f := exportForm{Name: strings.TrimSpace(c.FormValue("name")), Kind: c.FormValue("kind"), Query: c.FormValue("query"),
		Range: strings.TrimSpace(c.FormValue("range")), Schedule: strings.TrimSpace(c.FormValue("schedule")),
		Timezone: strings.TrimSpace(c.FormValue("timezone")), Delimiter: c.FormValue("delimiter"),
		Folder: strings.TrimSpace(c.FormValue("folder")), WebhookURL: strings.TrimSpace(c.FormValue("webhook_url")),
		BOM: c.FormValue("bom") == "on", SkipEmpty: c.FormValue("skip_empty") == "on", Keep: keep}
	e := export.Export{Name: f.Name, Kind: f.Kind, Query: f.Query, Range: export.Range(f.Range), Schedule: f.Schedule,
		Timezone: f.Timezone, Delimiter: f.Delimiter, Folder: f.Folder, WebhookURL: f.WebhookURL, BOM: f.BOM,
		SkipEmpty: f.SkipEmpty, Keep: f.Keep}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	err := e.Normalize()
	if err == nil {
		err = x.Exports.Create(ctx, &e)
	}
	if err != nil {
		v := h.baseExportsView(c)
		v.Form, v.FormErr = f, "Not saved: "+err.Error()
		return h.render(c, http.StatusBadRequest, h.exportsPage(c, "New export"), ExportFormPage(v))
	}
	if e.WebhookSecret != "" {
		// Shown once: the page after the redirect cannot read it back.
		v := h.baseExportsView(c)
		cur := x.View(e, nil)
		v.Current = &cur
		v.Notice = fmt.Sprintf("Export created. Webhook secret (shown only now; receivers verify the %s header with it): %s", export.HeaderSignature, e.WebhookSecret)
		return h.render(c, http.StatusCreated, h.exportsPage(c, "Export "+e.Name), ExportPage(v))
	}
	return c.Redirect(http.StatusSeeOther, "/exports/"+url.PathEscape(e.ID)+"?done=created")
}

// readableQuery shows a stored query string without percent-escapes.
func readableQuery(q string) string {
	if u, err := url.QueryUnescape(q); err == nil {
		return u
	}
	return q
}

func fmtWhen(t *time.Time, zone string) string {
	if t == nil || t.IsZero() {
		return "–"
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func fmtBytes(n uint64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func statusClass(s string) string {
	switch s {
	case export.StatusSuccess:
		return "status ok"
	case export.StatusFailed:
		return "status failed"
	case export.StatusRunning:
		return "status running"
	}
	return "status"
}
