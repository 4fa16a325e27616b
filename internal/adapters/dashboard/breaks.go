package dashboard

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/views"
)

// Detected breaks on the Annotations page: the level changes the detector
// found and no admin has decided on, each with Accept (it becomes a real
// annotation) and Dismiss (it never comes back).

func (h *Handler) suggestedBreaks(ctx context.Context, c echo.Context) ([]views.Break, string) {
	list, err := h.opts.Annotations.Breaks(ctx, annotation.BreakFilter{Status: annotation.BreakSuggested})
	if err != nil {
		return nil, h.readableErr(c, "detected breaks", err).Error()
	}
	out := make([]views.Break, len(list))
	for i, b := range list {
		out[i] = views.Break{ID: b.ID, Day: b.Day, RangeStart: b.RangeStart, RangeEnd: b.RangeEnd,
			Assistant: b.Assistant, Channel: b.Channel, Title: b.Title(), Text: b.Text()}
	}
	return out, ""
}

func (h *Handler) submitBreakAccept(c echo.Context) error {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	edit := annotation.Annotation{Title: strings.TrimSpace(c.FormValue("title")), Kind: c.FormValue("kind"), RealWorld: c.FormValue("real_world") == "on"}
	if _, err := h.opts.Annotations.AcceptBreak(ctx, c.Param("id"), edit); err != nil {
		return breakFormError(err)
	}
	return c.Redirect(http.StatusSeeOther, "/annotations")
}

func (h *Handler) submitBreakDismiss(c echo.Context) error {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	if _, err := h.opts.Annotations.DismissBreak(ctx, c.Param("id")); err != nil {
		return breakFormError(err)
	}
	return c.Redirect(http.StatusSeeOther, "/annotations")
}

func breakFormError(err error) error {
	var st *annotation.BreakStateError
	var inv *annotation.InvalidError
	switch {
	case errors.Is(err, annotation.ErrBreakNotFound):
		return httperr.New(http.StatusNotFound, "No such detected break (a newer run may have withdrawn it).")
	case errors.As(err, &st):
		return httperr.New(http.StatusConflict, st.Error())
	case errors.As(err, &inv):
		return httperr.New(http.StatusBadRequest, "Not accepted: "+inv.Error())
	}
	return err
}
