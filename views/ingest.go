package views

import (
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"
)

// IngestSnapshot is what the Ingest page shows; the app fills it from the
// ingest pipeline's counters.
type IngestSnapshot struct {
	Since      time.Time // process start
	Accepted   uint64
	Duplicates uint64
	Rejected   uint64
	// RejectsByReason counts rejected events by field/reason.
	RejectsByReason map[string]uint64
	// PerMinute is accepted events per minute, oldest first (recent
	// throughput).
	PerMinute []MinuteCount
	// LastEvents are the most recently accepted events (no user ids).
	LastEvents []RecentEvent
	BufferRows int
	BufferCap  int
}

// MinuteCount is the accepted events of one minute.
type MinuteCount struct {
	Minute time.Time
	Events uint64
}

// RecentEvent is one accepted event, without its user id.
type RecentEvent struct {
	Time       time.Time
	ReceivedAt time.Time
	Assistant  string
	Channel    string
	EventType  string
	Source     string
}

type ingestView struct {
	Available  bool
	S          IngestSnapshot
	Throughput Chart
	Rejects    Chart
}

func (h *Handler) showIngestPage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	p := h.page(c, "Ingest", "/ingest", f)
	p.ShowFilters = false
	v := ingestView{}
	if h.opts.IngestStats != nil {
		v.Available = true
		v.S = h.opts.IngestStats()
		v.Throughput = throughputChart(v.S)
		v.Rejects = rejectsChart(v.S)
	}
	return h.render(c, http.StatusOK, p, IngestPage(v))
}

func throughputChart(s IngestSnapshot) Chart {
	ch := Chart{ID: "ingest-throughput", Title: "Accepted events per minute", Note: "Since this process started (" + s.Since.UTC().Format(time.RFC3339) + ")."}
	if len(s.PerMinute) == 0 {
		ch.Empty = "No events received yet. Send events with POST /v1/events (see the README) or `adoptscope load FILE`."
		return ch
	}
	periods := make([]string, len(s.PerMinute))
	vals := make([]float64, len(s.PerMinute))
	for i, m := range s.PerMinute {
		periods[i] = m.Minute.UTC().Format("15:04")
		vals[i] = float64(m.Events)
	}
	ss := []Series{{Name: "accepted", Values: vals}}
	ch.Options = lineOptions(periods, ss, false, false, nil, "")
	ch.Table = seriesTable(periods, ss, false)
	return ch
}

func rejectsChart(s IngestSnapshot) Chart {
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
