package dashboard

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// freshness is how recent the data of every page is: the time of the
// latest stored event (DataThrough), how far the charts' rollups trail
// the stored events (Behind), and the first stored event (where "since
// launch" starts). Known is false on an empty store.
type freshness struct {
	Known       bool
	DataThrough time.Time
	First       time.Time
	Behind      time.Duration
	Err         string
	// Q is the query package's answer (the clock, the day rules).
	Q query.DataFreshness
}

// readFreshness reads the store's freshness at the handler's clock; a
// failure is reported on the page, never fatal.
func (h *Handler) readFreshness(ctx context.Context) freshness {
	q, err := query.Freshness(ctx, h.opts.Store, h.opts.Now())
	if err != nil {
		h.log.Warn("data freshness", "error", err)
		return freshness{Err: "could not be read (see the server log)", Q: q}
	}
	if q.Empty() {
		return freshness{Q: q}
	}
	return freshness{Known: true, DataThrough: q.DataThrough, First: q.FirstEvent, Behind: q.ChartsBehind, Q: q}
}

// freshMemo holds one page request's freshness: read once, used by the
// filters ("since launch"), the empty states and the layout.
type freshMemo struct {
	once sync.Once
	f    freshness
}

// fresh returns the request's freshness, read on first use.
func (h *Handler) fresh(pr *pageRequest) freshness {
	pr.fresh.once.Do(func() { pr.fresh.f = h.readFreshness(pr.ctx()) })
	return pr.fresh.f
}

// launch is the first day of "since launch": the day of the first stored
// event, or catalog.DefaultLaunch while nothing is stored.
func (h *Handler) launch(pr *pageRequest) time.Time {
	if f := h.fresh(pr); f.Known && !f.First.IsZero() {
		return truncDay(f.First)
	}
	return catalog.DefaultLaunch
}

// dataEnd is the last day with data in the zone of f, or today there
// when nothing is known.
func dataEnd(fr freshness, loc *time.Location, today time.Time) time.Time {
	if !fr.Known || fr.DataThrough.IsZero() {
		return today
	}
	y, m, d := fr.DataThrough.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// freshnessText is the line every page shows: "data through 2026-12-02
// 14:05 UTC (charts 4 s behind ingest)".
func freshnessText(fr freshness, loc *time.Location) string {
	if fr.Err != "" {
		return "data freshness unknown: " + fr.Err
	}
	if !fr.Known {
		return "no events stored yet"
	}
	s := "data through " + fr.DataThrough.In(loc).Format("2006-01-02 15:04 MST")
	switch {
	case fr.Behind == 0:
		s += " (charts up to date with ingest)"
	default:
		s += fmt.Sprintf(" (charts %s behind ingest)", behindText(fr.Behind))
	}
	return s
}

func behindText(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	}
	return d.Round(time.Minute).String()
}

// noData is the short message of an empty chart card; the page's one
// hint (emptyHint) says what to do.
func noData(pr *pageRequest, what string) string {
	pr.empty.mark()
	if what == "" {
		return "Nothing to show for this slice."
	}
	return what
}

// emptyHint is the one hint of a page with an empty chart: on an empty
// store, how to get data (the demo among the ways); with data stored, which
// days hold data and which filters are set.
func (h *Handler) emptyHint(pr *pageRequest, f Filters) string {
	fr := h.fresh(pr)
	if fr.Err != "" {
		return "Some charts have nothing to show, and whether any events are stored could not be read: " + fr.Err
	}
	if !fr.Known {
		return "No events are stored yet. Send events to POST /v1/events, load files with `adoptscope load FILE`, or load the synthetic demo data with `adoptscope demo`."
	}
	loc := f.Location()
	s := fmt.Sprintf("Stored events run from %s to %s (%s).", fr.First.In(loc).Format(catalog.DateLayout),
		fr.DataThrough.In(loc).Format(catalog.DateLayout), f.zone())
	var set []string
	if len(f.Assistants) > 0 {
		set = append(set, "assistant")
	}
	if len(f.Channels) > 0 {
		set = append(set, "channel")
	}
	if len(f.Countries) > 0 {
		set = append(set, "country")
	}
	if len(set) > 0 {
		return "Some charts have no events for these dates and filters. " + s + " Widen the dates or clear the " + joinWords(set) + " filter."
	}
	return "Some charts have no events for these dates. " + s + " Pick dates inside that span."
}

func joinWords(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	out := xs[0]
	for i := 1; i < len(xs)-1; i++ {
		out += ", " + xs[i]
	}
	return out + " or " + xs[len(xs)-1]
}
