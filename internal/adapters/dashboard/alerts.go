package dashboard

import "github.com/labstack/echo/v4"

func (h *Handler) alertRoutes(g *echo.Group) {}
