package queryapi

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/query"
)

func (a *API) annotations() (*annotation.Service, error) {
	if a.deps.Annotations == nil {
		return nil, httperr.New(http.StatusServiceUnavailable, "annotations are not available in this process")
	}
	return a.deps.Annotations, nil
}

// getImpact: the effect of an event on a series against controls.
func (a *API) getImpact(c echo.Context) error {
	return answer(c, func(v url.Values) (query.ImpactRequest, error) {
		r, err := query.ParseImpact(v)
		if err == nil {
			err = a.checkImpactValues(r)
		}
		return r, err
	},
		func(ctx context.Context, req query.ImpactRequest) (query.ImpactResult, error) {
			if err := a.resolveAnnotation(ctx, &req); err != nil {
				return query.ImpactResult{}, err
			}
			return query.Impact(ctx, a.deps.Store, req)
		},
		query.WriteImpactJSON, query.WriteImpactCSV,
		func(req query.ImpactRequest) string {
			name := "impact-" + strings.NewReplacer(":", "-", "*", "all").Replace(req.Treated.String())
			if !req.Date.IsZero() {
				name += "-" + req.Date.Format(catalog.DateLayout)
			}
			if req.DaysCSV {
				name += "-days"
			}
			return name + ".csv"
		})
}

// checkImpactValues holds the treated and control series to the
// configured registry.
func (a *API) checkImpactValues(r query.ImpactRequest) error {
	keys := append([]query.SeriesKey{r.Treated}, r.Controls...)
	for i, k := range keys {
		var f query.Filters
		if k.Assistant != "" {
			f.Assistants = []string{k.Assistant}
		}
		if k.Channel != "" {
			f.Channels = []string{k.Channel}
		}
		if err := query.CheckKnown(a.deps.Registry, f); err != nil {
			if i > 0 {
				return &query.ParamError{Param: "control", Value: k.String(), Err: err}
			}
			return err
		}
	}
	return nil
}

// resolveAnnotation fills the request's date and treated series from the
// annotation it names.
func (a *API) resolveAnnotation(ctx context.Context, r *query.ImpactRequest) error {
	if r.Annotation == "" {
		return nil
	}
	svc, err := a.annotations()
	if err != nil {
		return err
	}
	an, err := svc.Get(ctx, r.Annotation)
	if errors.Is(err, annotation.ErrNotFound) {
		return httperr.New(http.StatusNotFound, "no annotation with id "+annotationQuote(r.Annotation)+" (parameter annotation)")
	}
	if err != nil {
		return err
	}
	start, err := time.Parse(catalog.DateLayout, an.Start)
	if err != nil {
		return err
	}
	r.ApplyAnnotation(start, an.Assistant, an.Channel)
	if r.Treated == (query.SeriesKey{}) {
		return &query.ParamError{Param: "assistant", Value: "", Allowed: "annotation " + r.Annotation + " applies to every assistant and channel: name the treated series with assistant and/or channel"}
	}
	return nil
}

// getOverlap: people on each pair of assistants, on one only.
func (a *API) getOverlap(c echo.Context) error {
	return answer(c, func(v url.Values) (query.OverlapRequest, error) {
		first, err := a.since(c.Request().Context(), v)
		if err != nil {
			return query.OverlapRequest{}, err
		}
		r, err := query.ParseOverlapSince(v, first)
		if err == nil {
			err = query.CheckKnown(a.deps.Registry, r.Filters)
		}
		return r, err
	},
		func(ctx context.Context, req query.OverlapRequest) (query.OverlapResult, error) {
			return query.Overlap(ctx, a.deps.Store, req)
		},
		query.WriteOverlapJSON, query.WriteOverlapCSV,
		func(req query.OverlapRequest) string {
			name := "overlap"
			if req.Interval == query.Month {
				name += "-month"
			}
			if !req.From.IsZero() {
				name += "-" + req.From.Format(catalog.DateLayout) + "-" + req.To.Format(catalog.DateLayout)
			}
			return name + ".csv"
		})
}

// breakJSON is a detected break with its size and suggested annotation.
type breakJSON struct {
	annotation.DetectedBreak
	Change     float64               `json:"change"`
	ChangePct  *float64              `json:"change_pct"`
	Title      string                `json:"title"`
	Suggestion annotation.Annotation `json:"annotation"`
}

func newBreakJSON(b annotation.DetectedBreak) breakJSON {
	out := breakJSON{DetectedBreak: b, Change: math.Round(b.Change()*10) / 10, Title: b.Title(), Suggestion: b.Annotation()}
	if p := b.ChangePct(); !math.IsNaN(p) {
		p = math.Round(p*100) / 100
		out.ChangePct = &p
	}
	return out
}

var breaksCSVHeader = []string{"id", "assistant", "channel", "metric", "day", "range_start", "range_end", "before", "after", "change", "change_pct", "status", "annotation_id", "title", "detected_at"}

// listBreaks: GET /breaks?status=&from=&to=&assistant=&channel=&format=.
func (a *API) listBreaks(c echo.Context) error {
	svc, err := a.annotations()
	if err != nil {
		return err
	}
	v, err := params(c)
	if err != nil {
		return err
	}
	for k := range v {
		switch k {
		case "status", "from", "to", "assistant", "channel", "format":
		default:
			return httperr.New(http.StatusBadRequest, "unknown parameter "+annotationQuote(k)+" (known: status, from, to, assistant, channel, format)")
		}
	}
	f, err := format(v)
	if err != nil {
		return err
	}
	list, err := svc.Breaks(c.Request().Context(), annotation.BreakFilter{Status: v.Get("status"), From: v.Get("from"), To: v.Get("to"),
		Assistant: v.Get("assistant"), Channel: v.Get("channel")})
	if err != nil {
		return refused(err)
	}
	if f == "csv" {
		setCSV(c, "breaks.csv")
		c.Response().WriteHeader(http.StatusOK)
		w := csv.NewWriter(c.Response())
		w.UseCRLF = true
		_ = w.Write(breaksCSVHeader)
		for _, b := range list {
			j := newBreakJSON(b)
			pct := ""
			if j.ChangePct != nil {
				pct = query.FormatNumber(*j.ChangePct)
			}
			_ = w.Write([]string{b.ID, b.Assistant, b.Channel, b.Metric, b.Day, b.RangeStart, b.RangeEnd, query.FormatNumber(b.Before), query.FormatNumber(b.After),
				query.FormatNumber(j.Change), pct, b.Status, b.AnnotationID, j.Title, b.DetectedAt.Format(time.RFC3339)})
		}
		w.Flush()
		return w.Error()
	}
	out := make([]breakJSON, len(list))
	for i, b := range list {
		out[i] = newBreakJSON(b)
	}
	return c.JSON(http.StatusOK, map[string]any{"breaks": out})
}

// acceptBreak: POST /breaks/:id/accept, optional JSON body {title, text,
// link, kind, real_world} over the suggestion's; answers the annotation.
func (a *API) acceptBreak(c echo.Context) error {
	svc, err := a.annotations()
	if err != nil {
		return err
	}
	var edit annotationBody
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAnnotationBody+1))
	if err != nil {
		return httperr.New(http.StatusBadRequest, "read body: "+err.Error())
	}
	if len(body) > maxAnnotationBody {
		return httperr.New(http.StatusRequestEntityTooLarge, "body over 64 KiB")
	}
	if strings.TrimSpace(string(body)) != "" {
		if err := json.Unmarshal(body, &edit); err != nil {
			return httperr.New(http.StatusBadRequest, "body: want nothing, or a JSON object with title, text, link, kind, real_world to change the suggestion: "+err.Error())
		}
	}
	saved, err := svc.AcceptBreak(c.Request().Context(), c.Param("id"), edit.toAnnotation())
	if err != nil {
		return breakError(c.Param("id"), err)
	}
	a.deps.Log.Info("detected break accepted", "break", c.Param("id"), "annotation", saved.ID)
	return c.JSON(http.StatusCreated, saved)
}

// dismissBreak: POST /breaks/:id/dismiss.
func (a *API) dismissBreak(c echo.Context) error {
	svc, err := a.annotations()
	if err != nil {
		return err
	}
	b, err := svc.DismissBreak(c.Request().Context(), c.Param("id"))
	if err != nil {
		return breakError(c.Param("id"), err)
	}
	a.deps.Log.Info("detected break dismissed", "break", b.ID)
	return c.JSON(http.StatusOK, newBreakJSON(b))
}

// detectBreaks: POST /breaks/detect runs detection now.
func (a *API) detectBreaks(c echo.Context) error {
	if a.deps.Detect == nil {
		return httperr.New(http.StatusServiceUnavailable, "break detection is not available in this process")
	}
	msg, err := a.deps.Detect(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"result": msg})
}

func breakError(id string, err error) error {
	if errors.Is(err, annotation.ErrBreakNotFound) {
		return httperr.New(http.StatusNotFound, "no detected break with id "+annotationQuote(id))
	}
	var st *annotation.BreakStateError
	if errors.As(err, &st) {
		return httperr.New(http.StatusConflict, st.Error())
	}
	return refused(err)
}

// registerInsight mounts /impact, /overlap and /breaks on g.
func (a *API) registerInsight(g *echo.Group) {
	g.GET("/impact", a.getImpact, a.RequireRead)
	g.GET("/overlap", a.getOverlap, a.RequireRead)
	g.GET("/breaks", a.listBreaks, a.RequireRead)
	g.POST("/breaks/detect", a.detectBreaks, a.RequireAdmin)
	g.POST("/breaks/:id/accept", a.acceptBreak, a.RequireAdmin)
	g.POST("/breaks/:id/dismiss", a.dismissBreak, a.RequireAdmin)
}
