package dashboard

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/views"
)

// serveStatic answers /static/:hash/:name. A stale hash (a page rendered
// by an older build) still gets the current file, without long caching.
func serveStatic(c echo.Context) error {
	body, hash, mime, ok := views.Asset(c.Param("name"))
	if !ok || strings.Contains(c.Param("name"), "/") {
		return echo.NewHTTPError(http.StatusNotFound, "no such file")
	}
	h := c.Response().Header()
	h.Set("Content-Type", mime)
	if c.Param("hash") == hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+hash+`"`)
	http.ServeContent(c.Response(), c.Request(), c.Param("name"), time.Time{}, bytes.NewReader(body))
	return nil
}
