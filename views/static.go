package views

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
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

// Asset is the embedded file name: its body, the checksum of its URL and
// its content type; ok is false when there is no such file.
func Asset(name string) (body []byte, hash, contentType string, ok bool) {
	a, ok := assets[name]
	return a.body, a.hash, a.mime, ok
}
