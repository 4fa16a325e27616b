package dashboard

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/views"
)

func (h *Handler) showIngestPage(c echo.Context) error {
	pr := h.request(c)
	p, v := h.ingestPageView(pr)
	return h.render(pr, http.StatusOK, p, views.IngestPage(v))
}

// ingestPageView is the Ingest page without an upload's summary.
func (h *Handler) ingestPageView(pr *pageRequest) (views.Page, views.IngestView) {
	c := pr.c
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	p := h.page(pr, "Ingest", "/ingest", f)
	p.ShowFilters = false
	v := views.IngestView{Schedule: scheduleText(h.opts.RollupInterval, h.opts.RollupMaxLag), UploadURL: UploadPath}
	if h.opts.Ingest != nil {
		v.CanUpload, v.MaxBody = true, h.opts.Ingest.Config().MaxBody
	}
	v.Admin, v.CSRF = pr.session.IsAdmin(), pr.csrf
	if h.opts.Store != nil {
		if n, err := query.StoredEvents(c.Request().Context(), h.opts.Store); err == nil {
			v.Stored, v.HasStored = n, true
		} else {
			h.opts.Log.Warn("ingest page: stored events", "error", err)
		}
	}
	if h.opts.Store != nil && h.opts.Store.Cluster == "" {
		if pd, err := rollup.PendingOf(c.Request().Context(), h.opts.Store); err == nil {
			v.Pending = pendingText(pd, time.Now()) // the queue is stamped by the server's clock, not the page's
		} else {
			h.opts.Log.Warn("ingest page: rollup status", "error", err)
		}
	}
	if h.opts.IngestStats != nil {
		v.Available = true
		s := h.opts.IngestStats()
		for _, m := range s.PerMinute {
			v.Accepted += m.Accepted
		}
		for _, n := range s.RejectsByReason {
			v.Rejected += n
		}
		v.BufferRows, v.BufferCapacity = s.BufferRows, s.BufferCapacity
		for _, e := range s.SDK {
			v.SDK = append(v.SDK, views.SDKEndpoint{Endpoint: e.Endpoint, Requests: e.Requests, Accepted: e.Accepted,
				Duplicates: e.Duplicates, Skipped: e.Skipped, Rejected: e.Rejected, SkippedBy: e.SkippedBy, RejectedBy: e.RejectedBy,
				Failed: e.Failed, LastError: e.LastError})
		}
		for _, e := range s.Recent {
			v.Recent = append(v.Recent, views.RecentEvent{Time: e.Time, ReceivedAt: e.ReceivedAt, Assistant: e.Assistant,
				Channel: e.Channel, EventType: e.EventType, Modality: e.Modality, Country: e.Country, Source: e.Source})
		}
		v.Throughput = throughputChart(s)
		v.Rejects = rejectsChart(s)
	}
	return p, v
}

// viewUpload is the summary of an uploaded file as the page shows it:
// the errors of its first uploadListed rejected lines.
func viewUpload(r uploadResult) *views.UploadResult {
	out := &views.UploadResult{File: r.File, Format: r.Format, Bytes: r.Bytes, Accepted: r.Res.Accepted,
		Duplicates: r.Res.Duplicates, Rejected: r.Res.Rejected, MoreErrs: r.MoreErrs, Err: r.Err}
	for _, e := range firstLines(r.Res.Errors, uploadListed) {
		out.Errors = append(out.Errors, views.LineError{Line: e.Line, Field: e.Field, Error: e.Error})
	}
	return out
}

func throughputChart(s ingest.Snapshot) views.Chart {
	ch := views.Chart{ID: "ingest-throughput", Title: "Accepted events per minute (last hour, UTC)"}
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
	ss := []views.Series{{Name: "accepted", Values: vals}}
	ch.Options = views.LineOptions(periods, ss, false, false, nil, "")
	ch.Table = views.SeriesTable(periods, ss, false)
	return ch
}

func rejectsChart(s ingest.Snapshot) views.Chart {
	ch := views.Chart{ID: "ingest-rejects", Title: "Rejected events by reason"}
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
		ch.Table.Rows = append(ch.Table.Rows, []string{r, views.FormatInt(float64(s.RejectsByReason[r]))})
	}
	return ch
}

// pendingText says how far the charts trail the stored events.
func pendingText(p rollup.Pending, now time.Time) string {
	if p.Rows == 0 {
		return "none"
	}
	age := max(now.Sub(p.Oldest).Round(time.Second), 0)
	return fmt.Sprintf("%s (oldest %s ago)", views.FormatInt(float64(p.Rows)), age)
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
