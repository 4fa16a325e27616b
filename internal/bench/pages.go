package bench

import (
	"crypto/rand"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/adapters/dashboard"
	"github.com/adoptscope/adoptscope/internal/platform/auth"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// benchPage is a dashboard page as a product manager opens it on the
// bench data: its path and the URL parameters other than the zone.
type benchPage struct {
	name, path string
	params     url.Values
}

// benchPages are the pages the time-zone issue names, on the bench data's
// year (the dashboard's default range ends today, after the data).
func benchPages() []benchPage {
	year := func(extra ...string) url.Values {
		v := url.Values{"from": {"2025-03-01"}, "to": {"2026-02-28"}, "interval": {"week"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}
	return []benchPage{
		{"Overview, 12 months, weekly", "/", year()},
		{"Compare, 12 months, weekly", "/compare", year()},
		{"Channel WhatsApp, 12 months, weekly", "/channel", year("channel", "whatsapp")},
		{"Retention, 12 weeks", "/retention", url.Values{"from": {"2025-12-01"}, "to": {"2026-02-22"}, "interval": {"week"}}},
		{"Overlap, 12 months", "/overlap", year()},
		{"Lifecycle by assistant, 12 months, weekly", "/lifecycle", year("by", "assistant")},
		{"Countries, 90 days", "/countries", url.Values{"from": {"2025-12-01"}, "to": {"2026-02-28"}}},
		{"Impact of 2026-01-15 on ChatGPT/WhatsApp", "/impact", url.Values{"date": {"2026-01-15"}, "source_assistant": {"chatgpt"}, "source_channel": {"whatsapp"}}},
	}
}

// timePages serves the dashboard in this process (no network, no login)
// and times each page's whole server side — every chart's query, the
// rendering — in each zone: the time from the request to the last byte of
// the HTML, as a browser's first byte would see it less the network.
func timePages(s *store.Store, zones []string, runs int, log *slog.Logger, w io.Writer) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	h, err := dashboard.New(dashboard.Deps{Store: s, Auth: dashboard.NewAuth(nil, key, auth.RoleViewer),
		Annotations: annotation.New(s, catalog.Registry{}), Log: log, Now: func() time.Time { return benchClock }})
	if err != nil {
		return err
	}
	e := echo.New()
	h.Register(e)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "zone\tpage\tp50\tp95\tmax\tKB\n")
	for _, z := range zones {
		for _, p := range benchPages() {
			v := url.Values{}
			for k, x := range p.params {
				v[k] = x
			}
			if z != "UTC" {
				v.Set("tz", z)
			}
			target := p.path + "?" + v.Encode()
			get := func() (int, time.Duration, error) {
				rec := httptest.NewRecorder()
				start := time.Now()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
				d := time.Since(start)
				if rec.Code != http.StatusOK {
					return 0, d, fmt.Errorf("bench pages: %s answered %d", target, rec.Code)
				}
				// A chart that failed renders fast: such a page times nothing.
				if i := strings.Index(rec.Body.String(), `data-testid="chart-error">`); i >= 0 {
					msg, _, _ := strings.Cut(rec.Body.String()[i+len(`data-testid="chart-error">`):], "<")
					return 0, d, fmt.Errorf("bench pages: %s: a chart failed: %s", target, html.UnescapeString(msg))
				}
				return rec.Body.Len(), d, nil
			}
			if _, _, err := get(); err != nil { // warm-up
				return err
			}
			var ds []time.Duration
			size := 0
			for range runs {
				n, d, err := get()
				if err != nil {
					return err
				}
				size, ds = n, append(ds, d)
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\n", z, p.name, pct(ds, 50), pct(ds, 95), ds[len(ds)-1].Round(time.Millisecond), size/1024)
		}
	}
	return tw.Flush()
}
