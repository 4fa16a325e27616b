package dashboard

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/alert"
	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// alertRoutes mount the Alerts pages: everyone signed in sees the rules,
// their history and backtests (which send nothing); admins create,
// test and delete.
func (h *Handler) alertRoutes(g *echo.Group) {
	g.GET("/alerts", h.showAlertsPage)
	g.POST("/alerts", h.submitAlert, h.requireAdmin)
	g.GET("/alerts/:id", h.showAlertPage)
	g.GET("/alerts/:id/backtest", h.showAlertBacktest)
	g.POST("/alerts/:id/test", h.submitAlertTest, h.requireAdmin)
	g.POST("/alerts/:id/delete", h.submitAlertDelete, h.requireAdmin)
}

var errNoAlerts = httperr.New(http.StatusNotFound, "Alerts are not available in this process.")

func (h *Handler) alertsPage(pr *pageRequest, title string) views.Page {
	p := h.page(pr, title, "/alerts", ParseFilters(nil, h.today(), launchDate))
	p.ShowFilters = false
	return p
}

func (h *Handler) baseAlertsView(pr *pageRequest) views.AlertsView {
	v := views.AlertsView{Admin: pr.session.IsAdmin(), CSRF: pr.csrf, Assistants: h.opts.Assistants, Channels: h.opts.Channels}
	for _, m := range alert.Metrics {
		v.Metrics = append(v.Metrics, string(m))
	}
	return v
}

// viewAlert is a rule as the pages show it (webhook URLs as their host).
func viewAlert(r alert.Rule, evs []alert.Event) views.AlertRule {
	zone := r.Timezone
	if zone == "" {
		zone = "UTC"
	}
	v := views.AlertRule{ID: r.ID, Name: r.Name, Slice: r.SliceWords(), Condition: r.Describe(), Metric: string(r.Metric),
		Interval: string(r.Interval), Zone: zone, Snooze: r.Snooze}
	for _, d := range r.To {
		v.Destinations = append(v.Destinations, d.Name())
	}
	for _, e := range evs {
		if !e.Test {
			v.State, v.StateDay = e.State, e.Day
			break
		}
	}
	return v
}

func viewAlertEvent(e alert.Event) views.AlertEvent {
	v := views.AlertEvent{Day: e.Day, State: e.State, Value: fmtNumber(e.Value), Threshold: fmtNumber(e.Comparison), Detail: e.Detail, Test: e.Test}
	for _, d := range e.Deliveries {
		cls := "status"
		switch d.Status {
		case alert.DeliverySent:
			cls = "status ok"
		case alert.DeliveryFailed:
			cls = "status failed"
		}
		v.Deliveries = append(v.Deliveries, views.AlertDelivery{Destination: d.Destination, Status: d.Status, StatusClass: cls, Error: d.Error, Attempts: d.Attempts})
	}
	return v
}

func fmtNumber(x float64) string {
	if x == math.Trunc(x) {
		return strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func (h *Handler) showAlertsPage(c echo.Context) error {
	pr := h.request(c)
	v := h.baseAlertsView(pr)
	x := h.opts.Alerts
	if x == nil {
		v.Err = "Alerts are not available in this process."
		return h.render(pr, http.StatusOK, h.alertsPage(pr, "Alerts"), views.AlertsPage(v))
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	list, err := x.Store.List(ctx)
	if err != nil {
		v.Err = h.readableErr(c, "alerts", err).Error()
	}
	for _, r := range list {
		evs, _ := x.Store.Events(ctx, r.ID, false, 1)
		v.List = append(v.List, viewAlert(r, evs))
	}
	if c.QueryParam("done") == "deleted" {
		v.Notice = "Alert rule deleted. Its history stays."
	}
	return h.render(pr, http.StatusOK, h.alertsPage(pr, "Alerts"), views.AlertsPage(v))
}

func (h *Handler) submitAlert(c echo.Context) error {
	x := h.opts.Alerts
	if x == nil {
		return errNoAlerts
	}
	f := views.AlertForm{Name: strings.TrimSpace(c.FormValue("name")), Metric: c.FormValue("metric"), Interval: c.FormValue("interval"),
		Timezone: strings.TrimSpace(c.FormValue("timezone")), Assistant: c.FormValue("assistant"), Channel: c.FormValue("channel"),
		Country: strings.ToUpper(strings.TrimSpace(c.FormValue("country"))), Condition: c.FormValue("condition"),
		Direction: c.FormValue("direction"), Value: strings.TrimSpace(c.FormValue("value")), Kind: c.FormValue("kind"),
		Target: strings.TrimSpace(c.FormValue("target")), Snooze: c.FormValue("snooze_until")}
	r := alert.Rule{Name: f.Name, Metric: query.Metric(f.Metric), Interval: query.Interval(f.Interval), Timezone: f.Timezone,
		Assistant: f.Assistant, Channel: f.Channel, Country: f.Country, Condition: f.Condition, Direction: f.Direction, Snooze: f.Snooze}
	fail := func(msg string) error {
		pr := h.request(c)
		v := h.baseAlertsView(pr)
		v.Form, v.FormErr = f, "Not saved: "+msg
		return h.render(pr, http.StatusBadRequest, h.alertsPage(pr, "Alerts"), views.AlertsPage(v))
	}
	if r.Condition != alert.Break {
		// A typographic minus is what people paste from a report.
		val, err := strconv.ParseFloat(strings.ReplaceAll(strings.ReplaceAll(f.Value, "−", "-"), ",", "."), 64)
		if err != nil {
			return fail("value " + strconv.Quote(f.Value) + ": want a number, such as -50")
		}
		r.Value = val
	}
	d := alert.Destination{Kind: f.Kind}
	if f.Kind == alert.KindEmail {
		d.To = f.Target
	} else {
		d.URL = f.Target
	}
	r.To = []alert.Destination{d}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	if err := x.Create(ctx, &r); err != nil {
		_, msg, unexpected := httperr.Describe(err)
		if unexpected {
			return err
		}
		return fail(msg)
	}
	if r.To[0].Secret != "" {
		pr := h.request(c)
		v := h.baseAlertsView(pr)
		cur := viewAlert(r, nil)
		v.Current = &cur
		v.BacktestFrom, v.BacktestTo = h.defaultBacktest()
		v.Notice = "Alert rule created. Webhook secret (shown only now; receivers verify the X-AdoptScope-Signature header with it): " + r.To[0].Secret
		return h.render(pr, http.StatusCreated, h.alertsPage(pr, "Alert "+r.Name), views.AlertPage(v))
	}
	return c.Redirect(http.StatusSeeOther, "/alerts/"+url.PathEscape(r.ID)+"?done=created")
}

// defaultBacktest is the last 365 days up to yesterday.
func (h *Handler) defaultBacktest() (string, string) {
	to := h.today().AddDate(0, 0, -1)
	return to.AddDate(0, 0, -364).Format(catalog.DateLayout), to.Format(catalog.DateLayout)
}

// alertView is the page of rule :id with its history.
func (h *Handler) alertView(c echo.Context, ctx context.Context) (views.AlertsView, alert.Rule, error) {
	pr := h.request(c)
	v := h.baseAlertsView(pr)
	x := h.opts.Alerts
	if x == nil {
		return v, alert.Rule{}, errNoAlerts
	}
	r, err := x.Store.Get(ctx, c.Param("id"))
	if err != nil {
		return v, r, err
	}
	evs, err := x.Events(ctx, r.ID, 100)
	if err != nil {
		v.Err = h.readableErr(c, "alert history", err).Error()
	}
	cur := viewAlert(r, evs)
	v.Current = &cur
	for _, e := range evs {
		v.Events = append(v.Events, viewAlertEvent(e))
	}
	v.BacktestFrom, v.BacktestTo = h.defaultBacktest()
	return v, r, nil
}

func (h *Handler) showAlertPage(c echo.Context) error {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v, r, err := h.alertView(c, ctx)
	if err != nil {
		return err
	}
	switch c.QueryParam("done") {
	case "created":
		v.Notice = "Alert rule created. It is checked after each complete " + string(r.Interval) + "."
	case "tested":
		v.Notice = "Test sent: see its deliveries in the history below."
	}
	pr := h.request(c)
	return h.render(pr, http.StatusOK, h.alertsPage(pr, "Alert "+r.Name), views.AlertPage(v))
}

// showAlertBacktest runs a backtest (it sends and records nothing, so a
// GET: the result has a URL).
func (h *Handler) showAlertBacktest(c echo.Context) error {
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v, r, err := h.alertView(c, ctx)
	if err != nil {
		return err
	}
	bt := &views.AlertBacktest{}
	from, err1 := catalog.ParseDate("from", c.QueryParam("from"))
	to, err2 := catalog.ParseDate("to", c.QueryParam("to"))
	switch {
	case err1 != nil:
		bt.Err = err1.Error()
	case err2 != nil:
		bt.Err = err2.Error()
	case to.Before(from) || to.Sub(from) > 3700*24*time.Hour:
		bt.Err = "from and to: want from on or before to, at most ten years apart"
	default:
		v.BacktestFrom, v.BacktestTo = c.QueryParam("from"), c.QueryParam("to")
		res, err := h.opts.Alerts.Backtest(ctx, r, from, to)
		if err != nil {
			bt.Err = h.readableErr(c, "backtest", err).Error()
		}
		bt.Periods = res.Periods
		for _, e := range res.Events {
			ev := views.AlertEvent{Day: e.Day, State: e.State, Value: fmtNumber(e.Value), Threshold: fmtNumber(e.Comparison), Detail: e.Detail}
			if e.ChangePct != nil {
				ev.Threshold += fmt.Sprintf(" (%+.1f %%)", *e.ChangePct)
			}
			bt.Events = append(bt.Events, ev)
		}
	}
	v.Backtest = bt
	pr := h.request(c)
	return h.render(pr, http.StatusOK, h.alertsPage(pr, "Alert "+r.Name), views.AlertPage(v))
}

func (h *Handler) submitAlertTest(c echo.Context) error {
	x := h.opts.Alerts
	if x == nil {
		return errNoAlerts
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	r, err := x.Store.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	if _, err := x.Test(context.WithoutCancel(ctx), r); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/alerts/"+url.PathEscape(r.ID)+"?done=tested")
}

func (h *Handler) submitAlertDelete(c echo.Context) error {
	x := h.opts.Alerts
	if x == nil {
		return errNoAlerts
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	if err := x.Delete(ctx, c.Param("id")); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/alerts?done=deleted")
}

// alertMarks are the days the rules on the slice f shows fired, inside
// f's dates, as marks on its charts (alert_day in the URL of a
// notification's link is marked even when the rule is gone).
func (h *Handler) alertMarks(ctx context.Context, f Filters, alertDay string) []annotation.Annotation {
	var out []annotation.Annotation
	if _, err := catalog.ParseDate("alert_day", alertDay); err == nil && alertDay >= f.FromString() && alertDay <= f.ToString() {
		out = append(out, annotation.Annotation{ID: "alert-day", Start: alertDay, End: alertDay, Title: "Alert: the day this link is about",
			Kind: "alert"})
	}
	x := h.opts.Alerts
	if x == nil {
		return out
	}
	rules, err := x.Store.List(ctx)
	if err != nil {
		return out
	}
	one := func(vals []string) string {
		if len(vals) == 1 {
			return vals[0]
		}
		return ""
	}
	for _, r := range rules {
		if r.Assistant != one(f.Assistants) && r.Assistant != "" || r.Channel != one(f.Channels) && r.Channel != "" {
			continue
		}
		evs, err := x.Store.Events(ctx, r.ID, false, 50)
		if err != nil {
			continue
		}
		for _, e := range evs {
			if e.State != alert.StateFiring || e.Day < f.FromString() || e.Day > f.ToString() || e.Day == alertDay {
				continue
			}
			out = append(out, annotation.Annotation{ID: "alert-" + e.ID, Start: e.Day, End: e.Day, Title: "Alert fired: " + r.Name, Text: e.Detail, Kind: "alert",
				Assistant: r.Assistant, Channel: r.Channel})
		}
	}
	return out
}
