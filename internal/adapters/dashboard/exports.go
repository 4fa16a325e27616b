package dashboard

import (
	"github.com/adoptscope/adoptscope/catalog"

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
	"github.com/adoptscope/adoptscope/views"
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
	g.GET("/exports/:id/delete", h.showExportDeletePage, h.requireAdmin)
	g.POST("/exports/:id/delete", h.submitExportDelete, h.requireAdmin)
}

var exportRanges = append(append([]export.Range{}, export.Ranges...), "since:2026-01-01")

func (h *Handler) exportsPage(pr *pageRequest, title string) views.Page {
	p := h.page(pr, title, "/exports", ParseFilters(nil, h.today(), launchDate))
	p.ShowFilters = false
	return p
}

func (h *Handler) baseExportsView(pr *pageRequest) views.ExportsView {
	ranges := make([]string, len(exportRanges))
	for i, r := range exportRanges {
		ranges[i] = string(r)
	}
	zone := zoneName(h.opts.Timezone)
	if tz := pr.c.QueryParam("tz"); tz != "" {
		if _, err := loadZone(tz); err == nil {
			zone = tz
		}
	}
	return views.ExportsView{Zone: zone, Admin: pr.session.IsAdmin(), CSRF: pr.csrf, Ranges: ranges}
}

// viewExport is an export as the pages show it.
func viewExport(x export.View) views.Export {
	v := views.Export{ID: x.ID, Name: x.Name, Kind: x.Kind, Query: x.Query, Range: string(x.Range), ScheduleWords: x.ScheduleWords,
		Timezone: x.Timezone, Delimiter: x.Delimiter, BOM: x.BOM, SkipEmpty: x.SkipEmpty, Keep: x.Keep, WebhookURL: x.WebhookURL,
		NextRun: x.NextRun}
	if x.LastRun != nil {
		r := viewRun(*x.LastRun, "")
		v.LastRun = &r
	}
	return v
}

// viewRun is a run with its download link (download: "" once the file is
// gone).
func viewRun(r export.Run, download string) views.ExportRun {
	return views.ExportRun{ScheduledAt: r.ScheduledAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Status: r.Status,
		StatusClass: statusClass(r.Status), File: r.File, Download: download, Synthetic: r.Synthetic, Rows: r.Rows, Bytes: r.Bytes,
		Error: r.Error, Trigger: r.Trigger, Attempt: r.Attempt, PeriodFrom: r.PeriodFrom, PeriodTo: r.PeriodTo}
}

func (h *Handler) showExportsPage(c echo.Context) error {
	pr := h.request(c)
	v := h.baseExportsView(pr)
	x := h.opts.Exports
	if x == nil {
		v.Err = "Exports are not available in this process."
		return h.render(pr, http.StatusOK, h.exportsPage(pr, "Exports"), views.ExportsPage(v))
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	list, err := x.Overview(ctx)
	if err != nil {
		v.Err = h.readableErr(c, "exports", err).Error()
	}
	for _, x := range list {
		v.List = append(v.List, viewExport(x))
	}
	switch c.QueryParam("done") {
	case "deleted":
		v.Notice = "Export deleted. Its files and history stay in the exports folder."
	}
	return h.render(pr, http.StatusOK, h.exportsPage(pr, "Exports"), views.ExportsPage(v))
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
	pr := h.request(c)
	v := h.baseExportsView(pr)
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	history, rerr := x.History(ctx, e, 100)
	if rerr != nil {
		v.Err = h.readableErr(c, "export history", rerr).Error()
	}
	runs := make([]views.ExportRun, len(history))
	for i, r := range history {
		var download string
		if r.Kept {
			download = "/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(r.File)
		}
		runs[i] = viewRun(r, download)
	}
	var last *export.Run
	if len(history) > 0 {
		last = &history[0]
	}
	cur := viewExport(x.View(e, last))
	v.Current, v.Runs = &cur, runs
	switch c.QueryParam("done") {
	case "started":
		v.Notice = "Run started. Reload this page to see it finish."
	case "created":
		v.Notice = "Export created. It runs on its schedule; use Run now to try it."
	}
	return h.render(pr, http.StatusOK, h.exportsPage(pr, "Export "+e.Name), views.ExportPage(v))
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

// showExportDeletePage asks whether to delete the export (the list's
// Delete links here; only this page's form deletes).
func (h *Handler) showExportDeletePage(c echo.Context) error {
	x, e, err := h.currentExport(c)
	if x == nil {
		return err
	}
	pr := h.request(c)
	v := h.baseExportsView(pr)
	cur := viewExport(x.View(e, nil))
	v.Current = &cur
	return h.render(pr, http.StatusOK, h.exportsPage(pr, "Delete export "+e.Name), views.ExportDeletePage(v))
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
	if !contains(export.Kinds, kind) {
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

func (h *Handler) showExportFormPage(c echo.Context) error {
	pr := h.request(c)
	v := h.baseExportsView(pr)
	q := c.QueryParams()
	v.Form = views.ExportForm{Kind: q.Get("kind"), Query: q.Get("query"), Range: q.Get("range"), Schedule: "0 6 * * MON",
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
	return h.render(pr, http.StatusOK, h.exportsPage(pr, "New export"), views.ExportFormPage(v))
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
	f := views.ExportForm{Name: strings.TrimSpace(c.FormValue("name")), Kind: c.FormValue("kind"), Query: c.FormValue("query"),
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
		pr := h.request(c)
		v := h.baseExportsView(pr)
		v.Form, v.FormErr = f, "Not saved: "+msg
		return h.render(pr, http.StatusBadRequest, h.exportsPage(pr, "New export"), views.ExportFormPage(v))
	}
	if e.WebhookSecret != "" {
		// Shown once: the page after the redirect cannot read it back.
		pr := h.request(c)
		v := h.baseExportsView(pr)
		cur := viewExport(x.View(e, nil))
		v.Current = &cur
		v.Notice = fmt.Sprintf("Export created. Webhook secret (shown only now; receivers verify the %s header with it): %s", export.HeaderSignature, e.WebhookSecret)
		return h.render(pr, http.StatusCreated, h.exportsPage(pr, "Export "+e.Name), views.ExportPage(v))
	}
	return c.Redirect(http.StatusSeeOther, "/exports/"+url.PathEscape(e.ID)+"?done=created")
}

// statusClass is the CSS class of a run's status.
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
