package views

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/ingest"
)

type ingestView struct {
	Available  bool
	S          ingest.Snapshot
	Accepted   uint64 // in the last hour
	Rejected   uint64 // since start
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
		for _, m := range v.S.PerMinute {
			v.Accepted += m.Accepted
		}
		for _, n := range v.S.RejectsByReason {
			v.Rejected += n
		}
		v.Throughput = throughputChart(v.S)
		v.Rejects = rejectsChart(v.S)
	}
	return h.render(c, http.StatusOK, p, IngestPage(v))
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
