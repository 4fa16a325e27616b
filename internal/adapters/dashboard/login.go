package dashboard

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

func (h *Handler) showLoginPage(c echo.Context) error {
	if !h.opts.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	return h.renderLogin(c, http.StatusOK, "")
}

func (h *Handler) renderLogin(c echo.Context, status int, msg string) error {
	p := Page{Title: "Sign in", Path: "/login", CSRF: csrfOf(c.Request().Context())}
	next := safeNext(c.QueryParam("next"))
	if c.Request().Method == http.MethodPost {
		next = safeNext(c.FormValue("next"))
	}
	return h.render(c, status, p, LoginForm(next, p.CSRF, msg))
}

func (h *Handler) submitLogin(c echo.Context) error {
	if !h.opts.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/")
	}
	u, ok := h.opts.Auth.Check(c.FormValue("username"), c.FormValue("password"))
	if !ok {
		time.Sleep(200 * time.Millisecond) // slows guessing a little; bcrypt does the rest
		return h.renderLogin(c, http.StatusUnauthorized, "Wrong user name or password.")
	}
	h.opts.Auth.setSession(c.Response(), c.Request(), u)
	h.log.Info("dashboard sign-in", "user", u.Name, "role", u.Role)
	return c.Redirect(http.StatusSeeOther, safeNext(c.FormValue("next")))
}

func (h *Handler) submitLogout(c echo.Context) error {
	clearSession(c.Response(), c.Request())
	if h.opts.Auth.Enabled() {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	return c.Redirect(http.StatusSeeOther, "/")
}
