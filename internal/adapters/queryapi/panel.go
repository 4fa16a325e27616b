package queryapi

import (
	"errors"
	"mime"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/panel"
)

// maxPanelBody bounds a members or targets upload (a million members of
// about 60 bytes).
const maxPanelBody = 64 << 20

// registerPanel mounts /api/v1/panel/…: uploads need an admin token, the
// weights a read token.
func (a *API) registerPanel(g *echo.Group) {
	g.POST("/panel/members", a.postPanelMembers, a.RequireAdmin)
	g.POST("/panel/targets", a.postPanelTargets, a.RequireAdmin)
	g.GET("/panel/weights", a.getPanelWeights, a.RequireRead)
}

// panelBody reads the upload's format from its Content-Type: CSV (with a
// header row) or NDJSON.
func panelBody(c echo.Context) (csvBody bool, err error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "text/csv":
		return true, nil
	case "application/x-ndjson", "application/json", "application/jsonl", "":
		return false, nil
	}
	return false, httperr.New(http.StatusUnsupportedMediaType, "Content-Type "+ct+": send application/x-ndjson (one JSON object a line) or text/csv (with a header row)")
}

func (a *API) panelUpload(c echo.Context, submit func(svc *panel.Service, csvBody bool) (panel.Result, error)) error {
	if a.deps.Panel == nil {
		return httperr.New(http.StatusServiceUnavailable, "this instance does not run ingest, which keys user ids the way events are keyed: send panel uploads to one that does (adoptscope up or ingest)")
	}
	csvBody, err := panelBody(c)
	if err != nil {
		return err
	}
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, maxPanelBody)
	res, err := submit(a.deps.Panel, csvBody)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) || (err != nil && strings.Contains(err.Error(), "request body too large")) {
		return httperr.New(http.StatusRequestEntityTooLarge, "body over 64 MiB: send the rows in several uploads")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (a *API) postPanelMembers(c echo.Context) error {
	return a.panelUpload(c, func(svc *panel.Service, csvBody bool) (panel.Result, error) {
		return svc.SubmitMembers(c.Request().Context(), c.Request().Body, csvBody)
	})
}

func (a *API) postPanelTargets(c echo.Context) error {
	return a.panelUpload(c, func(svc *panel.Service, csvBody bool) (panel.Result, error) {
		return svc.SubmitTargets(c.Request().Context(), c.Request().Body, csvBody)
	})
}

type marginJSON struct {
	Dimension string  `json:"dimension"`
	Category  string  `json:"category"`
	Target    float64 `json:"target"`
	Weighted  float64 `json:"weighted"`
}

func (a *API) getPanelWeights(c echo.Context) error {
	if a.deps.Panel == nil {
		return httperr.New(http.StatusServiceUnavailable, "this instance does not run ingest: ask one that does (adoptscope up or ingest)")
	}
	v, err := params(c)
	if err != nil {
		return err
	}
	name := v.Get("panel")
	if err := catalog.CheckSlug(catalog.Panel, name); err != nil {
		return httperr.New(http.StatusBadRequest, err.Error())
	}
	month, err := panel.ParseMonth("month", v.Get("month"))
	if err != nil {
		return err
	}
	rep, err := a.deps.Panel.Weigh(c.Request().Context(), name, month)
	if err != nil {
		return err
	}
	w := rep.Weights
	margins := make([]marginJSON, len(w.Margins))
	for i, m := range w.Margins {
		margins[i] = marginJSON{m.Dimension, m.Category, m.Target, m.Weighted}
	}
	nonNil := func(xs []string) []string {
		if xs == nil {
			return []string{}
		}
		return xs
	}
	return c.JSON(http.StatusOK, map[string]any{
		"panel": rep.Panel, "month": rep.Month.Format("2006-01"), "targets_month": rep.TargetsMonth.Format("2006-01"),
		"members": rep.Members, "n_eff": w.NEff, "design_effect": w.DesignEffect, "low_n_eff": rep.LowNEff,
		"iterations": w.Iterations, "converged": w.Converged, "min_weight": w.Min, "max_weight": w.Max,
		"margins": margins, "uncovered": nonNil(w.Uncovered), "empty_targets": nonNil(w.Empty),
	})
}
