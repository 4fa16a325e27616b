package queryapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
)

// ExportHandlers serve /api/v1/exports: list and history need a read
// token (or session), creating, deleting and running need an admin token.
type ExportHandlers struct {
	Exports *export.Store
	Runner  *export.Runner
	Root    string // the exports folder
	// NextRun, when set, tells the next scheduled run of an export
	// (zero when unknown); otherwise it is computed from the schedule.
	NextRun func(id string) time.Time
	// Go runs a manual run in the background; the app tracks them so
	// that shutdown waits. Default: a goroutine.
	Go func(func())
	// RunTimeout bounds a manual run (default 1h).
	RunTimeout time.Duration
	// Context, when set, is the parent of manual runs: cancelling it
	// (shutdown) interrupts them.
	Context context.Context
}

// RegisterExports mounts the export routes on g (the /api/v1 group).
func (a *API) RegisterExports(g *echo.Group, h *ExportHandlers) {
	g.GET("/exports", h.list, a.RequireRead)
	g.POST("/exports", h.create, a.RequireAdmin)
	g.GET("/exports/:id", h.show, a.RequireRead)
	g.DELETE("/exports/:id", h.delete, a.RequireAdmin)
	g.GET("/exports/:id/runs", h.runs, a.RequireRead)
	g.POST("/exports/:id/run", h.runNow, a.RequireAdmin)
	g.GET("/exports/:id/files/:file", h.download, a.RequireRead)
}

// ExportView is an export as the API shows it: never its webhook secret.
type ExportView struct {
	export.Export
	ScheduleWords string      `json:"schedule_words"`
	NextRun       *time.Time  `json:"next_run"`
	LastRun       *export.Run `json:"last_run"`
}

// View builds the API view of e with its latest run.
func (h *ExportHandlers) View(e export.Export, last *export.Run) ExportView {
	e.WebhookSecret = ""
	v := ExportView{Export: e, ScheduleWords: e.Sched().Describe(), LastRun: last}
	var n time.Time
	if h.NextRun != nil {
		n = h.NextRun(e.ID)
	}
	if n.IsZero() {
		n = e.Sched().Next(time.Now())
	}
	if !n.IsZero() {
		v.NextRun = &n
	}
	return v
}

// Overview lists every export with its latest run, by name.
func (h *ExportHandlers) Overview(ctx context.Context) ([]ExportView, error) {
	es, err := h.Exports.List(ctx)
	if err != nil {
		return nil, err
	}
	last, err := h.Exports.LastRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ExportView, 0, len(es))
	for _, e := range es {
		var lr *export.Run
		if r, ok := last[e.ID]; ok {
			lr = &r
		}
		out = append(out, h.View(e, lr))
	}
	return out, nil
}

func (h *ExportHandlers) list(c echo.Context) error {
	vs, err := h.Overview(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"exports": vs})
}

func (h *ExportHandlers) get(c echo.Context) (export.Export, error) {
	e, err := h.Exports.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, export.ErrNotFound) {
		return e, echo.NewHTTPError(http.StatusNotFound, fmt.Sprintf("no export with id %q (GET /api/v1/exports lists them)", c.Param("id")))
	}
	return e, err
}

func (h *ExportHandlers) show(c echo.Context) error {
	e, err := h.get(c)
	if err != nil {
		return err
	}
	runs, err := h.Exports.Runs(c.Request().Context(), e.ID, 1)
	if err != nil {
		return err
	}
	var last *export.Run
	if len(runs) > 0 {
		last = &runs[0]
	}
	return c.JSON(http.StatusOK, h.View(e, last))
}

// exportBody is what POST accepts. query is a URL query string
// ("metric=active_users&by=assistant") or an object of parameters
// ({"metric":"active_users","by":"assistant,channel"}).
type exportBody struct {
	Name          string          `json:"name"`
	Kind          string          `json:"kind"`
	Query         json.RawMessage `json:"query"`
	Range         string          `json:"range"`
	Schedule      string          `json:"schedule"`
	Timezone      string          `json:"timezone"`
	BOM           bool            `json:"bom"`
	Delimiter     string          `json:"delimiter"`
	SkipEmpty     bool            `json:"skip_empty"`
	Folder        string          `json:"folder"`
	WebhookURL    string          `json:"webhook_url"`
	WebhookSecret string          `json:"webhook_secret"`
	Keep          int             `json:"keep"`
}

// QueryString turns the query field into a URL query string.
func queryString(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", errors.New(`query: want a URL query string or an object of parameters, for example {"metric":"active_users","by":"assistant"}`)
	}
	v := url.Values{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch x := m[k].(type) {
		case string:
			v.Set(k, x)
		case bool:
			v.Set(k, fmt.Sprint(x))
		case float64:
			v.Set(k, fmt.Sprint(x))
		case []any:
			var parts []string
			for _, p := range x {
				parts = append(parts, fmt.Sprint(p))
			}
			v.Set(k, strings.Join(parts, ","))
		default:
			return "", fmt.Errorf("query parameter %q: want a string, number, boolean or list", k)
		}
	}
	return v.Encode(), nil
}

func (h *ExportHandlers) create(c echo.Context) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the export as application/json")
	}
	var b exportBody
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body: "+err.Error()+` (want JSON such as {"name":"weekly_dau","query":"metric=active_users&by=assistant","range":"last_28_days","schedule":"0 6 * * MON","timezone":"Europe/Paris"})`)
	}
	q, err := queryString(b.Query)
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	e := export.Export{Name: b.Name, Kind: b.Kind, Query: q, Range: export.Range(b.Range), Schedule: b.Schedule,
		Timezone: b.Timezone, BOM: b.BOM, Delimiter: b.Delimiter, SkipEmpty: b.SkipEmpty, Folder: b.Folder,
		WebhookURL: b.WebhookURL, WebhookSecret: b.WebhookSecret, Keep: b.Keep}
	if err := e.Normalize(); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	if err := h.Exports.Create(c.Request().Context(), &e); err != nil {
		if strings.Contains(err.Error(), "exists") {
			return echo.NewHTTPError(http.StatusConflict, err.Error())
		}
		return err
	}
	// The only answer that shows the webhook secret.
	v := h.View(e, nil)
	return c.JSON(http.StatusCreated, struct {
		ExportView
		WebhookSecret string `json:"webhook_secret,omitempty"`
	}{v, e.WebhookSecret})
}

func (h *ExportHandlers) delete(c echo.Context) error {
	e, err := h.get(c)
	if err != nil {
		return err
	}
	if err := h.Exports.Delete(c.Request().Context(), e.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// RunView is a run with the download path of its file while it is kept.
type RunView struct {
	export.Run
	Download string `json:"download,omitempty"`
}

// History returns the runs of e, newest first, with download paths.
func (h *ExportHandlers) History(ctx context.Context, e export.Export, limit int) ([]RunView, error) {
	runs, err := h.Exports.Runs(ctx, e.ID, limit)
	if err != nil {
		return nil, err
	}
	export.MarkKept(h.Root, e, runs)
	out := make([]RunView, 0, len(runs))
	for _, r := range runs {
		v := RunView{Run: r}
		if r.Kept {
			v.Download = "/api/v1/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(r.File)
		}
		out = append(out, v)
	}
	return out, nil
}

func (h *ExportHandlers) runs(c echo.Context) error {
	e, err := h.get(c)
	if err != nil {
		return err
	}
	limit := 100
	if l := c.QueryParam("limit"); l != "" {
		if _, err := fmt.Sscan(l, &limit); err != nil || limit < 1 || limit > 1000 {
			return echo.NewHTTPError(http.StatusBadRequest, "limit: want a number from 1 to 1000")
		}
	}
	vs, err := h.History(c.Request().Context(), e, limit)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"export": e.Name, "runs": vs})
}

// StartRun starts a manual run of e now and returns its id.
func (h *ExportHandlers) StartRun(e export.Export) string {
	id := export.NewID()
	timeout := h.RunTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	run := func() {
		parent := h.Context
		if parent == nil {
			parent = context.Background()
		}
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		_, _ = h.Runner.RunAs(ctx, id, e, time.Now().UTC(), 1, "manual")
	}
	if h.Go != nil {
		h.Go(run)
	} else {
		go run()
	}
	return id
}

func (h *ExportHandlers) runNow(c echo.Context) error {
	e, err := h.get(c)
	if err != nil {
		return err
	}
	id := h.StartRun(e)
	return c.JSON(http.StatusAccepted, map[string]string{"run_id": id, "status": "started",
		"runs": "/api/v1/exports/" + url.PathEscape(e.ID) + "/runs"})
}

func (h *ExportHandlers) download(c echo.Context) error {
	e, err := h.get(c)
	if err != nil {
		return err
	}
	return ServeExportFile(c, h.Root, e, c.Param("file"))
}

// ServeExportFile sends a kept file of e; any other name is 404.
func ServeExportFile(c echo.Context, root string, e export.Export, name string) error {
	f, err := export.OpenFile(root, e, name)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "no such file: it may have been removed by the export's retention (keep)")
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return echo.NewHTTPError(http.StatusNotFound, "no such file")
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Response(), c.Request(), name, st.ModTime(), f)
	return nil
}
