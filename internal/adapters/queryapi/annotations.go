package queryapi

import (
	"github.com/adoptscope/adoptscope/internal/platform/httperr"

	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

// annotationRoutes serve /api/v1/annotations: GET lists (JSON, or CSV
// with format=csv), POST creates or updates, DELETE /annotations/:id
// removes. Writes need an admin token.
type annotationRoutes struct {
	// Service validates (scopes against its registry), stores and reads.
	Service *annotation.Service
	Log     *slog.Logger
	// CanRead and CanWrite decide access for a request.
	CanRead, CanWrite func(r *http.Request) bool
}

// annotationHandlers are the annotation routes of the API's service
// under its access policy: reads as CanRead, writes as CanAdmin.
func (a *API) annotationHandlers() *annotationRoutes {
	return &annotationRoutes{Service: a.deps.Annotations, Log: a.deps.Log, CanRead: a.CanRead, CanWrite: a.CanAdmin}
}

// register mounts the routes on g (the /api/v1 group).
func (h *annotationRoutes) register(g *echo.Group) {
	g.GET("/annotations", h.listAnnotations)
	g.GET("/annotations/:id", h.showAnnotation)
	g.POST("/annotations", h.saveAnnotation)
	g.DELETE("/annotations/:id", h.deleteAnnotation)
}

const maxAnnotationBody = 64 << 10

func (h *annotationRoutes) requireRead(c echo.Context) error {
	if h.CanRead != nil && !h.CanRead(c.Request()) {
		return httperr.New(http.StatusUnauthorized, "missing or unknown token: send Authorization: Bearer <token> with a token from ADOPTSCOPE_READ_TOKENS or ADOPTSCOPE_ADMIN_TOKENS")
	}
	return nil
}

func (h *annotationRoutes) requireWrite(c echo.Context) error {
	if h.CanWrite == nil || !h.CanWrite(c.Request()) {
		return httperr.New(http.StatusUnauthorized, "writing annotations needs Authorization: Bearer <token> with a token from ADOPTSCOPE_ADMIN_TOKENS")
	}
	return nil
}

func (h *annotationRoutes) listAnnotations(c echo.Context) error {
	if err := h.requireRead(c); err != nil {
		return err
	}
	q := c.QueryParams()
	for k := range q {
		switch k {
		case "from", "to", "assistant", "channel", "format":
		default:
			return httperr.New(http.StatusBadRequest, "unknown parameter "+annotationQuote(k)+" (known: from, to, assistant, channel, format)")
		}
	}
	f := annotation.Filter{From: q.Get("from"), To: q.Get("to"), Assistant: q.Get("assistant"), Channel: q.Get("channel")}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return httperr.New(http.StatusBadRequest, "format "+annotationQuote(format)+": want json or csv")
	}
	list, err := h.Service.List(c.Request().Context(), f)
	if err != nil {
		return refused(err)
	}
	if format == "csv" {
		res := c.Response()
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		res.Header().Set("Content-Disposition", `attachment; filename="annotations.csv"`)
		res.WriteHeader(http.StatusOK)
		w := csv.NewWriter(res)
		_ = w.Write(annotation.CSVHeader)
		for _, a := range list {
			_ = w.Write(annotation.CSVRecord(a))
		}
		w.Flush()
		return w.Error()
	}
	if list == nil {
		list = []annotation.Annotation{}
	}
	return c.JSON(http.StatusOK, map[string]any{"annotations": list})
}

func (h *annotationRoutes) showAnnotation(c echo.Context) error {
	if err := h.requireRead(c); err != nil {
		return err
	}
	a, err := h.Service.Get(c.Request().Context(), c.Param("id"))
	if errors.Is(err, annotation.ErrNotFound) {
		return httperr.New(http.StatusNotFound, "no annotation with id "+annotationQuote(c.Param("id")))
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

func (h *annotationRoutes) saveAnnotation(c echo.Context) error {
	if err := h.requireWrite(c); err != nil {
		return err
	}
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return httperr.New(http.StatusUnsupportedMediaType, "send the annotation as application/json")
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxAnnotationBody+1))
	if err != nil {
		return httperr.New(http.StatusBadRequest, "read body: "+err.Error())
	}
	if len(body) > maxAnnotationBody {
		return httperr.New(http.StatusRequestEntityTooLarge, "annotation body over 64 KiB")
	}
	var b annotationBody
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&b); err != nil {
		return httperr.New(http.StatusBadRequest, "body: want a JSON object with start, title and optional end, text, link, assistant, channel, kind, real_world: "+err.Error())
	}
	a := b.toAnnotation()
	status := http.StatusCreated
	if a.ID != "" {
		status = http.StatusOK
	}
	saved, err := h.Service.Save(c.Request().Context(), a)
	if err != nil {
		return refused(err)
	}
	if h.Log != nil {
		h.Log.Info("annotation saved", "id", saved.ID, "start", saved.Start)
	}
	return c.JSON(status, saved)
}

func (b annotationBody) toAnnotation() annotation.Annotation {
	return annotation.Annotation{ID: b.ID, Start: b.Start, End: b.End, Title: b.Title, Text: b.Text, Link: b.Link,
		Assistant: b.Assistant, Channel: b.Channel, Kind: b.Kind, RealWorld: b.RealWorld}
}

func (h *annotationRoutes) deleteAnnotation(c echo.Context) error {
	if err := h.requireWrite(c); err != nil {
		return err
	}
	err := h.Service.Delete(c.Request().Context(), c.Param("id"))
	if errors.Is(err, annotation.ErrNotFound) {
		return httperr.New(http.StatusNotFound, "no annotation with id "+annotationQuote(c.Param("id")))
	}
	if err != nil {
		return err
	}
	if h.Log != nil {
		h.Log.Info("annotation deleted", "id", c.Param("id"))
	}
	return c.NoContent(http.StatusNoContent)
}

// refused answers an annotation or filter that breaks a rule 400 with the
// service's message (the one the page and the CLI show); other errors go
// to the server's error handler.
func refused(err error) error {
	var invalid *annotation.InvalidError
	if errors.As(err, &invalid) {
		return httperr.New(http.StatusBadRequest, invalid.Error())
	}
	return err
}

func annotationQuote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
