package dashboard

import (
	"github.com/adoptscope/adoptscope/internal/platform/httperr"

	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/views"
)

func (h *Handler) showAnnotationsPage(c echo.Context) error {
	pr := h.chartRequest(c)
	v := h.annotationsView(pr)
	if id := c.QueryParam("edit"); id != "" && v.Admin {
		ctx, cancel := h.queryCtx(c)
		a, err := h.opts.Annotations.Get(ctx, id)
		cancel()
		if err != nil {
			v.FormErr = "Cannot edit: " + err.Error()
		} else {
			v.Form = viewAnnotation(a)
		}
	}
	p := h.page(pr, "Annotations", "/annotations", pr.f)
	p.ShowFilters = false
	return h.render(pr, http.StatusOK, p, views.AnnotationsPage(v))
}

func (h *Handler) annotationsView(pr *pageRequest) views.AnnotationsView {
	ctx, cancel := h.queryCtx(pr.c)
	defer cancel()
	v := views.AnnotationsView{Admin: pr.session.IsAdmin(), CSRF: pr.csrf,
		Kinds: annotation.Kinds, AcceptKinds: acceptKinds(), Assistants: h.opts.Assistants, Channels: h.opts.Channels,
		Form: views.Annotation{Kind: "other"}}
	list, err := h.opts.Annotations.List(ctx, annotation.Filter{})
	if err != nil {
		v.Err = h.readableErr(pr.c, "annotations", err).Error()
	}
	v.List = viewAnnotations(list)
	v.Breaks, v.BreaksErr = h.suggestedBreaks(ctx, pr.c)
	return v
}

// acceptKinds are the kinds a detected break may become: any but
// detected.
func acceptKinds() []string {
	var out []string
	for _, k := range annotation.Kinds {
		if k != annotation.KindDetected {
			out = append(out, k)
		}
	}
	return out
}

// viewAnnotation is a as the pages show it.
func viewAnnotation(a annotation.Annotation) views.Annotation {
	return views.Annotation{ID: a.ID, Start: a.Start, End: a.End, Title: a.Title, Text: a.Text, Link: a.Link,
		Assistant: a.Assistant, Channel: a.Channel, Kind: a.Kind, RealWorld: a.RealWorld}
}

func viewAnnotations(list []annotation.Annotation) []views.Annotation {
	out := make([]views.Annotation, len(list))
	for i, a := range list {
		out[i] = viewAnnotation(a)
	}
	return out
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
		pr := h.request(c)
		v := h.annotationsView(pr)
		v.Form, v.FormErr = viewAnnotation(a), "Not saved: "+err.Error()
		p := h.page(pr, "Annotations", "/annotations", ParseFilters(nil, h.today(), launchDate))
		p.ShowFilters = false
		return h.render(pr, http.StatusBadRequest, p, views.AnnotationsPage(v))
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
