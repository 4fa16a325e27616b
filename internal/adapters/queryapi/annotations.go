package queryapi

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// AnnotationHandlers serve /api/v1/annotations: GET lists (JSON, or CSV
// with format=csv), POST creates or updates, DELETE /annotations/:id
// removes. Writes need an admin token.
type AnnotationHandlers struct {
	Store *store.Store
	Log   *slog.Logger
	// CanRead and CanWrite decide access for a request.
	CanRead, CanWrite func(r *http.Request) bool
	// Assistants and Channels are the registries scopes are checked
	// against; empty: any slug.
	Assistants, Channels []string
}

// Annotations returns the annotation handlers under this API's access
// policy: reads as CanRead, writes as CanAdmin. Scopes are checked against
// the assistants and channels registries (empty: any slug).
func (a *API) Annotations(assistants, channels []string) *AnnotationHandlers {
	return &AnnotationHandlers{Store: a.opts.Store, Log: a.opts.Log, CanRead: a.CanRead, CanWrite: a.CanAdmin,
		Assistants: assistants, Channels: channels}
}

// Register mounts the routes on g (the /api/v1 group).
func (h *AnnotationHandlers) Register(g *echo.Group) {
	g.GET("/annotations", h.listAnnotations)
	g.GET("/annotations/:id", h.showAnnotation)
	g.POST("/annotations", h.saveAnnotation)
	g.DELETE("/annotations/:id", h.deleteAnnotation)
}

const maxAnnotationBody = 64 << 10

func (h *AnnotationHandlers) requireRead(c echo.Context) error {
	if h.CanRead != nil && !h.CanRead(c.Request()) {
		return echo.NewHTTPError(http.StatusUnauthorized, "missing or unknown token: send Authorization: Bearer <token> with a token from ADOPTSCOPE_READ_TOKENS or ADOPTSCOPE_ADMIN_TOKENS")
	}
	return nil
}

func (h *AnnotationHandlers) requireWrite(c echo.Context) error {
	if h.CanWrite == nil || !h.CanWrite(c.Request()) {
		return echo.NewHTTPError(http.StatusUnauthorized, "writing annotations needs Authorization: Bearer <token> with a token from ADOPTSCOPE_ADMIN_TOKENS")
	}
	return nil
}

func (h *AnnotationHandlers) listAnnotations(c echo.Context) error {
	if err := h.requireRead(c); err != nil {
		return err
	}
	q := c.QueryParams()
	for k := range q {
		switch k {
		case "from", "to", "assistant", "channel", "format":
		default:
			return echo.NewHTTPError(http.StatusBadRequest, "unknown parameter "+annotationQuote(k)+" (known: from, to, assistant, channel, format)")
		}
	}
	f := query.AnnotationFilter{From: q.Get("from"), To: q.Get("to"), Assistant: q.Get("assistant"), Channel: q.Get("channel")}
	if err := h.checkScope(f.Assistant, f.Channel); err != nil {
		return err
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return echo.NewHTTPError(http.StatusBadRequest, "format "+annotationQuote(format)+": want json or csv")
	}
	for _, p := range []struct{ name, v string }{{"from", f.From}, {"to", f.To}} {
		if p.v != "" && !annotationIsDate(p.v) {
			return echo.NewHTTPError(http.StatusBadRequest, p.name+" "+annotationQuote(p.v)+": want a date YYYY-MM-DD")
		}
	}
	list, err := query.AnnotationList(c.Request().Context(), h.Store, f)
	if err != nil {
		return err
	}
	if format == "csv" {
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set("Content-Disposition", `attachment; filename="annotations.csv"`)
		res.WriteHeader(http.StatusOK)
		w := csv.NewWriter(res)
		_ = w.Write(query.AnnotationCSVHeader)
		for _, a := range list {
			_ = w.Write(query.AnnotationCSVRecord(a))
		}
		w.Flush()
		return w.Error()
	}
	if list == nil {
		list = []query.Annotation{}
	}
	return c.JSON(http.StatusOK, map[string]any{"annotations": list})
}

func (h *AnnotationHandlers) showAnnotation(c echo.Context) error {
	if err := h.requireRead(c); err != nil {
		return err
	}
	a, err := query.AnnotationGet(c.Request().Context(), h.Store, c.Param("id"))
	if errors.Is(err, query.ErrAnnotationNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no annotation with id "+annotationQuote(c.Param("id")))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

// annotationBody is what POST accepts: the fields a client may set.
type annotationBody struct {
	ID        string `json:"id"`
	Start     string `json:"start"`
	End       string `json:"end"`
	Title     string `json:"title"`
	Text      string `json:"text"`
	Link      string `json:"link"`
	Assistant string `json:"assistant"`
	Channel   string `json:"channel"`
	Kind      string `json:"kind"`
	RealWorld bool   `json:"real_world"`
}

func (h *AnnotationHandlers) saveAnnotation(c echo.Context) error {
	if err := h.requireWrite(c); err != nil {
		return err
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return echo.NewHTTPError(http.StatusUnsupportedMediaType, "send the annotation as application/json")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAnnotationBody+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "read body: "+err.Error())
	}
	if len(body) > maxAnnotationBody {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "annotation body over 64 KiB")
	}
	var b annotationBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&b); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body: want a JSON object with start, title and optional end, text, link, assistant, channel, kind, real_world: "+err.Error())
	}
	if err := h.checkScope(b.Assistant, b.Channel); err != nil {
		return err
	}
	a := b.toAnnotation()
	if err := query.AnnotationValidate(&a); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, err.Error())
	}
	status := http.StatusCreated
	if a.ID != "" {
		status = http.StatusOK
	}
	saved, err := query.AnnotationSave(c.Request().Context(), h.Store, a)
	if err != nil {
		return err
	}
	if h.Log != nil {
		h.Log.Info("annotation saved", "id", saved.ID, "start", saved.Start)
	}
	return c.JSON(status, saved)
}

func (b annotationBody) toAnnotation() query.Annotation {
	return query.Annotation{ID: b.ID, Start: b.Start, End: b.End, Title: b.Title, Text: b.Text, Link: b.Link,
		Assistant: b.Assistant, Channel: b.Channel, Kind: b.Kind, RealWorld: b.RealWorld}
}

func (h *AnnotationHandlers) deleteAnnotation(c echo.Context) error {
	if err := h.requireWrite(c); err != nil {
		return err
	}
	err := query.AnnotationDelete(c.Request().Context(), h.Store, c.Param("id"))
	if errors.Is(err, query.ErrAnnotationNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "no annotation with id "+annotationQuote(c.Param("id")))
	}
	if err != nil {
		return err
	}
	if h.Log != nil {
		h.Log.Info("annotation deleted", "id", c.Param("id"))
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *AnnotationHandlers) checkScope(assistant, channel string) error {
	for _, s := range []struct {
		name, v string
		known   []string
	}{{"assistant", assistant, h.Assistants}, {"channel", channel, h.Channels}} {
		if s.v == "" || len(s.known) == 0 {
			continue
		}
		ok := false
		for _, k := range s.known {
			ok = ok || k == s.v
		}
		if !ok {
			return echo.NewHTTPError(http.StatusBadRequest, s.name+" "+annotationQuote(s.v)+": want one of "+strings.Join(s.known, ", ")+", or empty for all")
		}
	}
	return nil
}

func annotationIsDate(s string) bool {
	a := query.Annotation{Start: s, Title: "x"}
	return query.AnnotationValidate(&a) == nil
}

func annotationQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
