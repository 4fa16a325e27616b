package queryapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/httpserver"
)

// registerExports mounts /api/v1/exports on g (the /api/v1 group): list
// and history need a read token (or session), creating, deleting and
// running need an admin token.
func (a *API) registerExports(g *echo.Group) {
	h := exportHandlers{a.deps.Exports, a}
	g.GET("/exports", h.list, a.RequireRead)
	g.POST("/exports", h.create, a.RequireAdmin)
	g.GET("/exports/:id", h.show, a.RequireRead)
	g.DELETE("/exports/:id", h.delete, a.RequireAdmin)
	g.GET("/exports/:id/runs", h.runs, a.RequireRead)
	g.POST("/exports/:id/run", h.runNow, a.RequireAdmin)
	g.GET("/exports/:id/files/:file", h.download, a.RequireRead)
}

type exportHandlers struct {
	x *export.Service
	a *API
}

// shown is v as the caller may see it: webhook URLs (which often carry a
// password or a secret path) only to admins, masked; readers see the host.
func (h exportHandlers) shown(c echo.Context, v export.View) export.View {
	if h.a.CanAdmin(c.Request()) {
		return v.Admin()
	}
	return v
}

func (h exportHandlers) list(c echo.Context) error {
	vs, err := h.x.Overview(c.Request().Context())
	if err != nil {
		return err
	}
	for i := range vs {
		vs[i] = h.shown(c, vs[i])
	}
	return c.JSON(http.StatusOK, map[string]any{"exports": vs})
}

func (h exportHandlers) show(c echo.Context) error {
	e, err := h.x.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	v, err := h.x.Latest(c.Request().Context(), e)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.shown(c, v))
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

func (h exportHandlers) create(c echo.Context) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return httperr.New(http.StatusUnsupportedMediaType, "send the export as application/json")
	}
	var b exportBody
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return httperr.New(http.StatusBadRequest, "body: "+err.Error()+` (want JSON such as {"name":"weekly_dau","query":"metric=active_users&by=assistant","range":"last_28_days","schedule":"0 6 * * MON","timezone":"Europe/Paris"})`)
	}
	q, err := queryString(b.Query)
	if err != nil {
		return httperr.New(http.StatusBadRequest, err.Error())
	}
	e := export.Export{Name: b.Name, Kind: b.Kind, Query: q, Range: export.Range(b.Range), Schedule: b.Schedule,
		Timezone: b.Timezone, BOM: b.BOM, Delimiter: b.Delimiter, SkipEmpty: b.SkipEmpty, Folder: b.Folder,
		WebhookURL: b.WebhookURL, WebhookSecret: b.WebhookSecret, Keep: b.Keep}
	if err := h.x.Create(c.Request().Context(), &e); err != nil {
		return err
	}
	// The only answer that shows the webhook secret.
	return c.JSON(http.StatusCreated, struct {
		export.View
		WebhookSecret string `json:"webhook_secret,omitempty"`
	}{h.x.View(e, nil).Admin(), e.WebhookSecret})
}

func (h exportHandlers) delete(c echo.Context) error {
	e, err := h.x.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if err := h.x.Delete(c.Request().Context(), e); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// runView is a run with the download path of its file while it is kept.
type runView struct {
	export.Run
	Download         string `json:"download,omitempty"`
	ManifestDownload string `json:"manifest_download,omitempty"`
}

func (h exportHandlers) runs(c echo.Context) error {
	e, err := h.x.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	limit := 100
	if l := c.QueryParam("limit"); l != "" {
		if _, err := fmt.Sscan(l, &limit); err != nil || limit < 1 || limit > 1000 {
			return httperr.New(http.StatusBadRequest, "limit: want a number from 1 to 1000")
		}
	}
	runs, err := h.x.History(c.Request().Context(), e, limit)
	if err != nil {
		return err
	}
	vs := make([]runView, 0, len(runs))
	for _, r := range runs {
		v := runView{Run: r}
		if r.Kept {
			v.Download = "/api/v1/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(r.File)
		}
		if r.Manifest != "" {
			v.ManifestDownload = "/api/v1/exports/" + url.PathEscape(e.ID) + "/files/" + url.PathEscape(r.Manifest)
		}
		vs = append(vs, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"export": e.Name, "runs": vs})
}

func (h exportHandlers) runNow(c echo.Context) error {
	e, err := h.x.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	id := h.x.StartRun(e)
	return c.JSON(http.StatusAccepted, map[string]string{"run_id": id, "status": "started",
		"runs": "/api/v1/exports/" + url.PathEscape(e.ID) + "/runs"})
}

func (h exportHandlers) download(c echo.Context) error {
	e, err := h.x.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	f, st, err := h.x.OpenKept(e, c.Param("file"))
	if err != nil {
		return err
	}
	defer f.Close()
	return httpserver.Attachment(c, f, st)
}
