package dashboard

import (
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/views"
)

func (h *Handler) showLoginPage(c echo.Context) error {
	if !h.opts.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return h.renderLogin(c, http.StatusOK, "")
}

func (h *Handler) renderLogin(c echo.Context, status int, msg string) error {
	pr := h.request(c)
	p := views.Page{Title: "Sign in", Path: "/login", CSRF: pr.csrf, Filters: filterState(Filters{})}
	next := safeNext(c.QueryParam("next"))
	if c.Request().Method == http.MethodPost {
		next = safeNext(c.FormValue("next"))
	}
	return h.render(pr, status, p, views.LoginForm(next, p.CSRF, msg))
}

// submitLogin checks a name and password under the sign-in throttle
// (auth.Throttle): per account and per client address, a growing delay
// after a few failures and a 429 after more. The password is never logged.
func (h *Handler) submitLogin(c echo.Context) error {
	a := h.opts.Auth
	if !a.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	name := c.FormValue("username")
	addr := a.Proxies.ClientAddr(c.Request())
	// Counted before the password is checked, one attempt at a time per
	// account and per address: concurrent guesses cannot all be checked
	// before the first of them is counted.
	at, err := a.Throttle.Begin(c.Request().Context(), name, addr)
	if err != nil {
		return err
	}
	defer at.End()
	d := at.Decision
	if d.Refused {
		secs := int(math.Ceil(d.RetryAfter.Seconds()))
		h.log.Warn("dashboard sign-in refused: too many failures", "user", logName(name), "client", addr,
			"over_limit", d.Scope, "failures", d.Failures, "retry_after_s", secs)
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return h.renderLogin(c, http.StatusTooManyRequests, fmt.Sprintf(
			"Too many failed sign-ins for this %s. Try again in %s.", d.Scope, waitWords(secs)))
	}
	if err := a.wait(c.Request().Context(), d.Delay); err != nil {
		return err
	}
	u, ok := a.Check(name, c.FormValue("password"))
	if !ok {
		h.log.Info("dashboard sign-in failed", "user", logName(name), "client", addr, "failures_before", d.Failures, "delayed", d.Delay)
		return h.renderLogin(c, http.StatusUnauthorized, "Wrong user name or password.")
	}
	at.Succeeded()
	a.setSession(c.Response(), c.Request(), u)
	h.log.Info("dashboard sign-in", "user", u.Name, "role", u.Role, "client", addr)
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

// logName is a submitted user name as the log may show it: bounded and
// quoted by the handler, never the password.
func logName(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

func waitWords(secs int) string {
	if secs < 90 {
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", (secs+59)/60)
}

func (h *Handler) submitLogout(c echo.Context) error {
	h.opts.Auth.endSession(c.Response(), c.Request())
	if h.opts.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
