package dashboard

import (
	"github.com/adoptscope/adoptscope/internal/platform/httperr"

	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
)

// annotationsView is the Annotations page: the list, and the form (new, or
// the annotation being edited).
type annotationsView struct {
	List                 []annotation.Annotation
	Err                  string
	Form                 annotation.Annotation
	FormErr              string
	Admin                bool
	CSRF                 string
	Kinds                []string
	Assistants, Channels []string
	// Breaks are the detected breaks waiting for an admin (breaks.go).
	Breaks    []annotation.DetectedBreak
	BreaksErr string
}

func (h *Handler) showAnnotationsPage(c echo.Context) error {
	f := h.filters(c)
	v := h.annotationsView(c)
	if id := c.QueryParam("edit"); id != "" && v.Admin {
		ctx, cancel := h.queryCtx(c)
		a, err := h.opts.Annotations.Get(ctx, id)
		cancel()
		if err != nil {
			v.FormErr = "Cannot edit: " + err.Error()
		} else {
			v.Form = a
		}
	}
	p := h.page(c, "Annotations", "/annotations", f)
	p.ShowFilters = false
	return h.render(c, http.StatusOK, p, AnnotationsPage(v))
}

func (h *Handler) annotationsView(c echo.Context) annotationsView {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := annotationsView{Admin: sessionOf(c.Request().Context()).IsAdmin(), CSRF: csrfOf(c.Request().Context()),
		Kinds: annotation.Kinds, Assistants: h.opts.Assistants, Channels: h.opts.Channels, Form: annotation.Annotation{Kind: "other"}}
	list, err := h.opts.Annotations.List(ctx, annotation.Filter{})
	if err != nil {
		v.Err = h.readableErr(c, "annotations", err).Error()
	}
	v.List = list
	v.Breaks, v.BreaksErr = h.suggestedBreaks(ctx, c)
	return v
}

// submitAnnotation creates (no id) or updates (id) an annotation.
func (h *Handler) submitAnnotation(c echo.Context) error {
	a := annotation.Annotation{
		ID:        strings.TrimSpace(c.FormValue("id")),
		Start:     strings.TrimSpace(c.FormValue("start")),
		End:       strings.TrimSpace(c.FormValue("end")),
		Title:     c.FormValue("title"),
		Text:      c.FormValue("text"),
		Link:      strings.TrimSpace(c.FormValue("link")),
		Assistant: c.FormValue("assistant"),
		Channel:   c.FormValue("channel"),
		Kind:      c.FormValue("kind"),
		RealWorld: c.FormValue("real_world") == "on",
	}
	// The service checks everything, the scope against the registry
	// included: the API and the CLI refuse the same input with the same
	// message.
	ctx, cancel := h.queryCtx(c)
	_, err := h.opts.Annotations.Save(ctx, a)
	cancel()
	if err != nil {
		v := h.annotationsView(c)
		v.Form, v.FormErr = a, "Not saved: "+err.Error()
		p := h.page(c, "Annotations", "/annotations", ParseFilters(nil, h.today(), launchDate))
		p.ShowFilters = false
		return h.render(c, http.StatusBadRequest, p, AnnotationsPage(v))
	}
	return c.Redirect(http.StatusSeeOther, "/annotations")
}

func (h *Handler) submitAnnotationDelete(c echo.Context) error {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	if err := h.opts.Annotations.Delete(ctx, c.Param("id")); err != nil {
		if errors.Is(err, annotation.ErrNotFound) {
			return httperr.New(http.StatusNotFound, "No such annotation (it may have been deleted already).")
		}
		return httperr.New(http.StatusInternalServerError, "Could not delete: "+h.readableErr(c, "annotations", err).Error())
	}
	return c.Redirect(http.StatusSeeOther, "/annotations")
}

func scopeLabel(a annotation.Annotation) string {
	switch {
	case a.Assistant == "" && a.Channel == "":
		return "all"
	case a.Channel == "":
		return Label(a.Assistant)
	case a.Assistant == "":
		return Label(a.Channel)
	}
	return Label(a.Assistant) + " on " + Label(a.Channel)
}

func dateRange(a annotation.Annotation) string {
	if a.End == "" || a.End == a.Start {
		return a.Start
	}
	return a.Start + " – " + a.End
}
