package dashboard

import (
	"github.com/adoptscope/adoptscope/catalog"

	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

// The Exports page: the list of scheduled exports (schedule in words, next
// run, last status), each export's run history with download links for the
// files still kept, run now, delete, and the create form that "Schedule
// this as CSV" on a chart opens prefilled.

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
	List    []export.View
	Err     string
	Admin   bool
	CSRF    string
	Notice  string
	Current *export.View
	Runs    []runRow
	Form    exportForm
	FormErr string
}

// runRow is a run with the dashboard's download link while its file is
// kept.
type runRow struct {
	export.Run
	Download string
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
	x := h.opts.Exports
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

// errNoExports is the answer of the export pages in a process without
// exports.
var errNoExports = httperr.New(http.StatusNotFound, "Exports are not available in this process.")

func (h *Handler) currentExport(c echo.Context) (*export.Service, export.Export, error) {
	x := h.opts.Exports
	if x == nil {
		return nil, export.Export{}, errNoExports
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	e, err := x.Store.Get(ctx, c.Param("id"))
	if errors.Is(err, export.ErrNotFound) {
		return nil, e, httperr.New(http.StatusNotFound, "No such export (it may have been deleted).")
	}
	if err != nil {
		return nil, e, err
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
	history, rerr := x.History(ctx, e, 100)
	if rerr != nil {
		v.Err = h.readableErr(c, "export history", rerr).Error()
	}
	runs := make([]runRow, len(history))
	for i, r := range history {
		runs[i].Run = r
		if r.Kept {
			runs[i].Download = "/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(r.File)
		}
	}
	var last *export.Run
	if len(history) > 0 {
		last = &history[0]
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
	f, st, err := x.OpenKept(e, c.Param("file"))
	if err != nil {
		return err
	}
	defer f.Close()
	return httpserver.Attachment(c, f, st)
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
	if err := x.Delete(ctx, e); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/exports?done=deleted")
}

// ScheduleURL is the "Schedule this as CSV" link of a chart whose CSV
// download is csvURL (a query API URL such as
// /api/v1/series?metric=…&from=…&to=…&format=csv): the create form,
// prefilled with the chart's query; its dates become the nearest relative
// range. Empty when the chart has no query API CSV.
func ScheduleURL(csvURL, title string) string { return scheduleURL(csvURL, title, "") }

// scheduleURL is ScheduleURL for a chart shown with the dashboard range
// preset (7d, 28d, 90d, 12m, all; "" or custom: absolute dates): a
// rolling preset stays rolling (last_90_days, last_12_months…), so the
// scheduled file moves with the calendar instead of growing from a fixed
// date.
func scheduleURL(csvURL, title, preset string) string {
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
	if f, err1 := time.Parse(catalog.DateLayout, q.Get("from")); err1 == nil {
		if t, err2 := time.Parse(catalog.DateLayout, q.Get("to")); err2 == nil {
			switch days := int(t.Sub(f).Hours()/24) + 1; {
			case days <= 7:
				rng = "last_7_days"
			case days <= 28:
				rng = "last_28_days"
			default:
				rng = "since:" + f.Format(catalog.DateLayout)
			}
		}
	}
	if r, ok := presetExportRange[preset]; ok && contains(rangeNames(), r) {
		rng = r
	}
	// The export's own time zone sets its days (and its schedule): the
	// chart's tz moves there.
	tz := q.Get("tz")
	for _, k := range []string{"from", "to", "format", "tz"} {
		q.Del(k)
	}
	out := url.Values{"kind": {kind}, "query": {q.Encode()}, "range": {rng}, "chart": {title}}
	if tz != "" {
		out.Set("timezone", tz)
	}
	return "/exports/new?" + out.Encode()
}

func rangeNames() []string {
	out := make([]string, len(export.Ranges))
	for i, r := range export.Ranges {
		out[i] = string(r)
	}
	return out
}

// chartSchedule is the "Schedule this as CSV" link of a chart on the page
// being rendered (its range preset read from the page).
func chartSchedule(ctx context.Context, c Chart) string {
	p, _ := pageOf(ctx)
	return scheduleURL(c.CSV, c.Title, p.Filters.Range)
}

func (h *Handler) showExportFormPage(c echo.Context) error {
	v := h.baseExportsView(c)
	q := c.QueryParams()
	v.Form = exportForm{Kind: q.Get("kind"), Query: q.Get("query"), Range: q.Get("range"), Schedule: "0 6 * * MON",
		Timezone: q.Get("timezone"), Delimiter: ",", Keep: export.DefaultKeep, FromChart: q.Get("chart"), Name: q.Get("name")}
	if v.Form.Timezone == "" {
		v.Form.Timezone = zoneName(h.opts.Timezone)
	}
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
	x := h.opts.Exports
	if x == nil {
		return errNoExports
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
	if err := x.Create(ctx, &e); err != nil {
		_, msg, unexpected := httperr.Describe(err)
		if unexpected {
			return err
		}
		v := h.baseExportsView(c)
		v.Form, v.FormErr = f, "Not saved: "+msg
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
