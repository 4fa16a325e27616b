package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// ECharts is pinned: echarts.min.js is package/dist/echarts.min.js of
// `npm pack echarts@5.6.0`. go-echarts v2.6.7 writes ECharts 5 options, so
// the 5.x file is the one its Sankey and heatmap series are known to match.
const EChartsVersion = "5.6.0"

//go:embed static
var staticFS embed.FS

type asset struct {
	body []byte
	hash string // first 12 hex digits of the SHA-256 of body
	mime string
}

// assets are the embedded files by name, with their checksum computed once.
var assets = func() map[string]asset {
	m := map[string]asset{}
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		m[e.Name()] = asset{body: b, hash: hex.EncodeToString(sum[:])[:12], mime: ct}
	}
	return m
}()

// StaticURL is the cache-busting URL of an embedded file: the checksum is
// in the path, so a new build gets a new URL and browsers may cache each
// URL for a year.
func StaticURL(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("views: no static file " + name)
	}
	return "/static/" + a.hash + "/" + name
}

// serveStatic answers /static/:hash/:name. A stale hash (a page rendered
// by an older build) still gets the current file, without long caching.
func serveStatic(c echo.Context) error {
	a, ok := assets[c.Param("name")]
	if !ok || strings.Contains(c.Param("name"), "/") {
		return echo.NewHTTPError(http.StatusNotFound, "no such file")
	}
	h := c.Response().Header()
	h.Set("Content-Type", a.mime)
	if c.Param("hash") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	http.ServeContent(c.Response(), c.Request(), c.Param("name"), time.Time{}, bytes.NewReader(a.body))
	return nil
}
