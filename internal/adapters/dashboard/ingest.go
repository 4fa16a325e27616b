package dashboard

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/rollup"
)

type ingestView struct {
	// Pending: stored events the charts do not show yet (built behind
	// ingest); nil on a cluster or when it could not be read.
	Pending    *rollup.Pending
	Now        time.Time
	Schedule   string // when the rollups are built, in words
	Available  bool
	S          ingest.Snapshot
	Accepted   uint64 // in the last hour
	Rejected   uint64 // since start
	Throughput Chart
	Rejects    Chart
	// CanUpload: this process runs ingest, so the page takes files
	// (upload.go), up to MaxBody bytes; Upload is the summary of the file
	// just uploaded.
	CanUpload bool
	MaxBody   int64
	Admin     bool
	CSRF      string
	Upload    *uploadResult
}

func (h *Handler) showIngestPage(c echo.Context) error {
	p, v := h.ingestPageView(c)
	return h.render(c, http.StatusOK, p, IngestPage(v))
}

// ingestPageView is the Ingest page without an upload's summary.
func (h *Handler) ingestPageView(c echo.Context) (Page, ingestView) {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	p := h.page(c, "Ingest", "/ingest", f)
	p.ShowFilters = false
	v := ingestView{Now: time.Now(), Schedule: scheduleText(h.opts.RollupInterval, h.opts.RollupMaxLag)} // the queue is stamped by the server's clock, not the page's
	if h.opts.Ingest != nil {
		v.CanUpload, v.MaxBody = true, h.opts.Ingest.Config().MaxBody
	}
	v.Admin, v.CSRF = sessionOf(c.Request().Context()).IsAdmin(), csrfOf(c.Request().Context())
	if h.opts.Store != nil && h.opts.Store.Cluster == "" {
		if pd, err := rollup.PendingOf(c.Request().Context(), h.opts.Store); err == nil {
			v.Pending = &pd
		} else {
			h.opts.Log.Warn("ingest page: rollup status", "error", err)
		}
	}
	if h.opts.IngestStats != nil {
		v.Available = true
		v.S = h.opts.IngestStats()
		for _, m := range v.S.PerMinute {
			v.Accepted += m.Accepted
		}
		for _, n := range v.S.RejectsByReason {
			v.Rejected += n
		}
		v.Throughput = throughputChart(v.S)
		v.Rejects = rejectsChart(v.S)
	}
	return p, v
}

func throughputChart(s ingest.Snapshot) Chart {
	ch := Chart{ID: "ingest-throughput", Title: "Accepted events per minute (last hour, UTC)"}
	total := uint64(0)
	for _, m := range s.PerMinute {
		total += m.Accepted
	}
	if total == 0 {
		ch.Empty = "No events accepted in the last hour. Send events with POST /v1/events (see the README) or `adoptscope load FILE`."
		return ch
	}
	periods := make([]string, len(s.PerMinute))
	vals := make([]float64, len(s.PerMinute))
	for i, m := range s.PerMinute {
		periods[i] = m.Minute.UTC().Format("15:04")
		vals[i] = float64(m.Accepted)
	}
	ss := []Series{{Name: "accepted", Values: vals}}
	ch.Options = lineOptions(periods, ss, false, false, nil, "")
	ch.Table = seriesTable(periods, ss, false)
	return ch
}

func rejectsChart(s ingest.Snapshot) Chart {
	ch := Chart{ID: "ingest-rejects", Title: "Rejected events by reason"}
	if len(s.RejectsByReason) == 0 {
		ch.Empty = "No rejected events."
		return ch
	}
	reasons := make([]string, 0, len(s.RejectsByReason))
	for r := range s.RejectsByReason {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool { return s.RejectsByReason[reasons[i]] > s.RejectsByReason[reasons[j]] })
	ch.Table.Head = []string{"reason", "events"}
	for _, r := range reasons {
		ch.Table.Rows = append(ch.Table.Rows, []string{r, fmtInt(float64(s.RejectsByReason[r]))})
	}
	return ch
}

// pendingText says how far the charts trail the stored events.
func pendingText(p rollup.Pending, now time.Time) string {
	if p.Rows == 0 {
		return "none"
	}
	age := max(now.Sub(p.Oldest).Round(time.Second), 0)
	return fmt.Sprintf("%s (oldest %s ago)", fmtInt(float64(p.Rows)), age)
}

// scheduleText is the builder's schedule in words: "every 5s, and within
// 1m after a burst of ingest".
func scheduleText(interval, maxLag time.Duration) string {
	short := func(d time.Duration) string {
		s := d.String()
		s = strings.TrimSuffix(s, "m0s")
		if s != d.String() {
			s += "m"
		}
		return strings.Replace(s, "h0m", "h", 1)
	}
	if maxLag <= interval {
		return "every " + short(interval)
	}
	return "every " + short(interval) + ", and within " + short(maxLag) + " after a burst of ingest"
}

// reasonsText lists counts by reason, largest first: "(page 3, identify 1)".
func reasonsText(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + fmtInt(float64(m[k]))
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
