package queryapi

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/query"
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

// getSeriesEstimate answers /series with estimate=population&panel=P:
// each row's value is the population the panel's active members stand
// for, with its 95 % interval, the members counted, their effective
// number and a grade; a suppressed value is null.
func (a *API) getSeriesEstimate(c echo.Context, v url.Values, req query.SeriesRequest, format string) error {
	if e := v.Get("estimate"); e != "population" {
		return &query.ParamError{Param: "estimate", Value: e, Allowed: "want population (with panel=<slug>)"}
	}
	name := v.Get("panel")
	if err := catalog.CheckSlug(catalog.Panel, name); err != nil {
		return &query.ParamError{Param: "panel", Value: name, Err: err}
	}
	switch {
	case a.deps.Panel == nil:
		return httperr.New(http.StatusServiceUnavailable, "this instance does not run ingest, which keeps the panels' weights: ask one that does (adoptscope up or ingest)")
	case req.Metric != query.ActiveUsers:
		return &query.ParamError{Param: "metric", Value: string(req.Metric), Allowed: "population estimates are of active_users for now"}
	case req.TZ != "":
		return &query.ParamError{Param: "tz", Value: req.TZ, Allowed: "population estimates count UTC days for now: leave tz out"}
	case req.Compare.On():
		return &query.ParamError{Param: "compare", Value: "previous", Allowed: "population estimates have no comparison yet: leave compare out"}
	case len(req.Filters.Modalities) > 0 || len(req.Filters.EventTypes) > 0:
		return &query.ParamError{Param: "modality", Value: "", Allowed: "population estimates slice by assistant, channel and country"}
	}
	by := make([]string, len(req.By))
	for i, d := range req.By {
		by[i] = string(d)
	}
	rows, err := a.deps.Panel.Series(c.Request().Context(), panel.SeriesRequest{Panel: name, Interval: string(req.Interval), From: req.From, To: req.To, By: by,
		Filters: map[string][]string{"assistant": req.Filters.Assistants, "channel": req.Filters.Channels, "country": req.Filters.Countries}})
	if err != nil {
		return err
	}
	if format == "csv" {
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		cw.UseCRLF = true
		cw.Write(append(append([]string{"period"}, by...), "value", "low", "high", "n", "n_eff", "confidence"))
		for _, r := range rows {
			e := r.Estimate
			val := ""
			if e.Value != nil {
				val = query.FormatNumber(math.Round(*e.Value))
			}
			cw.Write(append(append([]string{r.Period.Format(catalog.DateLayout)}, r.Dims...), val, query.FormatNumber(math.Round(e.Low)),
				query.FormatNumber(math.Round(e.High)), strconv.Itoa(e.N), query.FormatNumber(math.Round(e.NEff*10)/10), e.Confidence))
		}
		cw.Flush()
		setCSV(c, fmt.Sprintf("population-%s-%s-%s-%s.csv", name, req.Interval, req.From.Format(catalog.DateLayout), req.To.Format(catalog.DateLayout)))
		return c.Blob(http.StatusOK, csvType, buf.Bytes())
	}
	out := make([]map[string]any, len(rows))
	for i, r := range rows {
		e := r.Estimate
		row := map[string]any{"period": r.Period.Format(catalog.DateLayout), "value": nil, "low": math.Round(e.Low), "high": math.Round(e.High),
			"n": e.N, "n_eff": math.Round(e.NEff*10) / 10, "confidence": e.Confidence}
		if e.Value != nil {
			row["value"] = math.Round(*e.Value)
		}
		for j, d := range by {
			row[d] = r.Dims[j]
		}
		out[i] = row
	}
	return c.JSON(http.StatusOK, map[string]any{
		"metric": req.Metric, "interval": req.Interval, "from": req.From.Format(catalog.DateLayout), "to": req.To.Format(catalog.DateLayout),
		"by": by, "tz": "UTC", "estimate": "population", "panel": name, "assumption": panel.Assumption,
		"confidence_rules": fmt.Sprintf("suppressed (value null) when n_eff < %d; else high when the 95 %% interval's width is at most %.0f %% of the value, medium up to %.0f %%, low beyond",
			panel.MinNEff, panel.HighRelWidth*100, panel.MediumRelWidth*100),
		"rows": out,
	})
}
