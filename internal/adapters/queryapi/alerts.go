package queryapi

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
)

// registerAlerts mounts /api/v1/alerts on g: listing, the history and
// backtests (which send nothing) need a read token or session; creating,
// changing, deleting and test sends need an admin token.
func (a *API) registerAlerts(g *echo.Group) {
	h := alertHandlers{a.deps.Alerts, a}
	g.GET("/alerts", h.list, a.RequireRead)
	g.POST("/alerts", h.create, a.RequireAdmin)
	g.GET("/alerts/:id", h.show, a.RequireRead)
	g.PUT("/alerts/:id", h.update, a.RequireAdmin)
	g.DELETE("/alerts/:id", h.delete, a.RequireAdmin)
	g.GET("/alerts/:id/events", h.events, a.RequireRead)
	g.POST("/alerts/:id/backtest", h.backtest, a.RequireRead)
	g.POST("/alerts/:id/test", h.test, a.RequireAdmin)
}

type alertHandlers struct {
	x *alert.Service
	a *API
}

func (h alertHandlers) shown(c echo.Context, r alert.Rule) alert.Rule {
	return r.Shown(h.a.CanAdmin(c.Request()))
}

func (h alertHandlers) list(c echo.Context) error {
	rs, err := h.x.Store.List(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]alert.Rule, len(rs))
	for i, r := range rs {
		out[i] = h.shown(c, r)
	}
	return c.JSON(http.StatusOK, map[string]any{"alerts": out})
}

func (h alertHandlers) show(c echo.Context) error {
	r, err := h.x.Store.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, h.shown(c, r))
}

const alertExample = `{"name":"ChatGPT on WhatsApp drops","metric":"active_users","interval":"day","timezone":"Europe/Paris","assistant":"chatgpt","channel":"whatsapp","condition":"change","direction":"below","value":-50,"destinations":[{"kind":"slack","url":"https://hooks.slack.com/services/…"}]}`

func readRule(c echo.Context) (alert.Rule, error) {
	var r alert.Rule
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return r, httperr.New(http.StatusUnsupportedMediaType, "send the alert rule as application/json")
	}
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, httperr.New(http.StatusBadRequest, "body: "+err.Error()+" (want JSON such as "+alertExample+")")
	}
	return r, nil
}

// created answers a saved rule with its webhook secrets, shown this once.
func created(c echo.Context, status int, r alert.Rule) error {
	out := r.Shown(true)
	for i := range out.To {
		out.To[i].Secret = r.To[i].Secret
	}
	return c.JSON(status, out)
}

func (h alertHandlers) create(c echo.Context) error {
	r, err := readRule(c)
	if err != nil {
		return err
	}
	if err := h.x.Create(c.Request().Context(), &r); err != nil {
		return err
	}
	return created(c, http.StatusCreated, r)
}

func (h alertHandlers) update(c echo.Context) error {
	r, err := readRule(c)
	if err != nil {
		return err
	}
	if err := h.x.Update(c.Request().Context(), c.Param("id"), &r); err != nil {
		return err
	}
	return created(c, http.StatusOK, r)
}

func (h alertHandlers) delete(c echo.Context) error {
	if err := h.x.Delete(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h alertHandlers) events(c echo.Context) error {
	ctx := c.Request().Context()
	if _, err := h.x.Store.Get(ctx, c.Param("id")); err != nil {
		return err
	}
	evs, err := h.x.Events(ctx, c.Param("id"), 200)
	if err != nil {
		return err
	}
	if evs == nil {
		evs = []alert.Event{}
	}
	return c.JSON(http.StatusOK, map[string]any{"events": evs})
}

// backtest: from and to (YYYY-MM-DD) default to the last 365 days up to
// yesterday; days after the rule's last complete period are left out.
func (h alertHandlers) backtest(c echo.Context) error {
	v, err := params(c)
	if err != nil {
		return err
	}
	for k := range v {
		if k != "from" && k != "to" {
			return httperr.New(http.StatusBadRequest, "unknown parameter "+annotationQuote(k)+" (known: from, to)")
		}
	}
	ctx := c.Request().Context()
	r, err := h.x.Store.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if h.x.Now != nil {
		now = h.x.Now()
	}
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
	from := to.AddDate(0, 0, -364)
	if s := v.Get("from"); s != "" {
		if from, err = catalog.ParseDate("from", s); err != nil {
			return err
		}
	}
	if s := v.Get("to"); s != "" {
		if to, err = catalog.ParseDate("to", s); err != nil {
			return err
		}
	}
	if to.Before(from) || to.Sub(from) > 3700*24*time.Hour {
		return httperr.New(http.StatusBadRequest, "from and to: want from on or before to, at most ten years apart")
	}
	res, err := h.x.Backtest(ctx, r, from, to)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h alertHandlers) test(c echo.Context) error {
	r, err := h.x.Store.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	ev, err := h.x.Test(c.Request().Context(), r)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, ev)
}
