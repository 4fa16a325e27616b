package dashboard

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// overlapURL is the Overlap page with the page's filters, restricted to
// the channel: it counts the people behind shares that add past 100 %.
func overlapURL(f Filters, channel string) string {
	u := f.Values()
	u.Set("channel", channel)
	return "/overlap?" + u.Encode()
}

// showChannelPage: one channel (default WhatsApp): each assistant's share
// of its users over time; and, per assistant, the share of its users that
// come through third-party channels.
func (h *Handler) showChannelPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	channel := c.QueryParam("focus")
	p := h.page(pr, "Channel", "/channel", f)
	p.CanCompare = true
	if channel == "" || !contains(h.opts.Channels, channel) {
		if channel != "" {
			p.Notices = append(p.Notices, "Unknown channel "+channel+"; showing WhatsApp.")
		}
		channel = "whatsapp"
	}
	p.Extra = url.Values{"focus": {channel}}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := views.ChannelView{Channel: channel, Channels: h.opts.Channels, Hidden: f.Values(), OverlapURL: overlapURL(f, channel)}
	anns := h.annotations(ctx, f)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); v.Share = h.channelShareChart(ctx, pr, f, channel, anns) }()
	go func() { defer wg.Done(); v.Dependency = h.dependencyChart(ctx, pr, f, anns) }()
	go func() { defer wg.Done(); p.Demo = h.demoShown(ctx, f) }()
	wg.Wait()
	return h.render(pr, http.StatusOK, p, views.ChannelPage(v))
}

func (h *Handler) channelShareChart(ctx context.Context, pr *pageRequest, f Filters, channel string, anns []annotation.Annotation) views.Chart {
	return h.drawLine(ctx, pr, f, inScope(anns, f.Assistants, channel), lineCard{
		id: "channel-share", title: "Share of " + views.Label(channel) + " users by assistant",
		note: "Each assistant's active users on " + views.Label(channel) + " as a percentage of all the channel's active users in the period, whichever assistants the filter draws. " +
			"Incomplete periods are left out unless the incomplete period is counted.",
		req:     onChannels(f.series(query.Share, query.DimAssistant), channel),
		percent: true, previous: true,
		empty: "No events on " + views.Label(channel) + " for these dates and filters.",
	})
}

// onChannels is r restricted to channels (sorted, as the API reads them).
func onChannels(r query.SeriesRequest, channels ...string) query.SeriesRequest {
	r.Filters.Channels = slices.Sorted(slices.Values(channels))
	return r
}

// dependency is the platform dependency of each assistant per period:
// the people active on channels its maker does not control, out of all
// its people.
type dependency struct {
	Periods    []string
	Incomplete map[string]bool
	Rows       []dependencyRow
}

type dependencyRow struct {
	Period, Assistant string
	Channels          []string // the channels its maker does not control
	Dependent, All    float64
	Complete          bool
}

func (d dependencyRow) pct() float64 {
	if d.All == 0 {
		return 0
	}
	return d.Dependent / d.All * 100
}

// dependency computes the platform dependency for the slice f: one query
// of all active users by assistant, and one per distinct set of dependent
// channels (the assistants of one maker share theirs), as distinct people
// over the set's union, not a sum of channels.
func (h *Handler) dependency(ctx context.Context, pr *pageRequest, f Filters) (dependency, error) {
	var out dependency
	channels := h.opts.Channels
	if len(f.Channels) > 0 {
		channels = f.Channels
	}
	assistants := h.opts.Assistants
	if len(f.Assistants) > 0 {
		assistants = f.Assistants
	}
	sets := map[string][]string{} // channel set → assistants
	for _, a := range assistants {
		dep := h.owners.Dependent(a, channels)
		if len(dep) == 0 {
			continue
		}
		k := strings.Join(dep, ",")
		sets[k] = append(sets[k], a)
	}
	all, err := h.series(ctx, pr, f.series(query.ActiveUsers, query.DimAssistant))
	if err != nil {
		return out, err
	}
	out.Periods, out.Incomplete = all.Periods, all.Incomplete
	type part struct {
		set string
		r   seriesResult
		err error
	}
	var parts []*part
	for k := range sets {
		parts = append(parts, &part{set: k})
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].set < parts[j].set })
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := onChannels(f.series(query.ActiveUsers, query.DimAssistant), strings.Split(p.set, ",")...)
			r.Filters.Assistants = slices.Sorted(slices.Values(sets[p.set]))
			p.r, p.err = h.series(ctx, pr, r)
		}()
	}
	wg.Wait()
	dep := map[string]float64{}
	depSet := map[string][]string{}
	for _, p := range parts {
		if p.err != nil {
			return out, p.err
		}
		for _, a := range sets[p.set] {
			depSet[a] = strings.Split(p.set, ",")
		}
		for _, row := range p.r.Rows {
			dep[row.Period+"|"+row.Key[0]] = row.Value
		}
	}
	for _, row := range all.Rows {
		a := row.Key[0]
		chs, ok := depSet[a]
		if !ok && !contains(assistants, a) {
			continue
		}
		out.Rows = append(out.Rows, dependencyRow{Period: row.Period, Assistant: a, Channels: chs,
			Dependent: dep[row.Period+"|"+a], All: row.Value, Complete: row.Complete})
	}
	return out, nil
}

// dependencyChart: for each assistant, the percentage of its active users
// who were active on a channel its maker does not control (the owners
// registry: Meta's WhatsApp, Messenger and Instagram are Meta AI's own).
func (h *Handler) dependencyChart(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) views.Chart {
	const id, title = "platform-dependency", "Platform dependency: share of each assistant's users on channels its maker does not control"
	ch := pr.chart(id, title, pageURL("/channel/dependency.csv", f, nil))
	d, err := h.dependency(ctx, pr, f)
	if err != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, err))
	}
	byA := map[string]*views.Series{}
	var order []string
	idx := map[string]int{}
	for i, p := range d.Periods {
		idx[p] = i
	}
	sets := map[string][]string{}
	for _, r := range d.Rows {
		s, ok := byA[r.Assistant]
		if !ok {
			s = &views.Series{Name: views.Label(r.Assistant), Values: make([]float64, len(d.Periods))}
			byA[r.Assistant] = s
			order = append(order, r.Assistant)
			sets[r.Assistant] = r.Channels
		}
		s.Values[idx[r.Period]] = r.pct()
	}
	sort.Strings(order)
	var ss []views.Series
	var parts []string
	for _, a := range order {
		ss = append(ss, *byA[a])
		maker := h.owners.Maker(a)
		if maker == "" {
			maker = "its maker"
		}
		if len(sets[a]) == 0 {
			parts = append(parts, views.Label(a)+" ("+maker+"): none")
		} else {
			parts = append(parts, views.Label(a)+" ("+maker+"): "+labels3(sets[a]))
		}
	}
	ch.Note = "Channels the maker does not control, from the owners registry — " + strings.Join(parts, "; ") +
		". The CSV has the people on them, all the assistant's people and the percentage drawn."
	if len(ss) == 0 || allZero(ss) {
		ch.Empty = noData(pr, "No events for these dates and filters.")
		return ch
	}
	r := seriesResult{Periods: d.Periods, Incomplete: d.Incomplete}
	inc := h.incompleteNotes(pr, r, f)
	ch.Options = views.TimeChart{Periods: d.Periods, Series: ss, Percent: true, Marks: marks(anns), Interval: f.Interval, Incomplete: inc}.Options()
	ch.Table = views.SeriesTableMarked(d.Periods, ss, true, inc)
	return ch
}

// dependencyCSV answers GET /channel/dependency.csv: the dependency chart's
// numbers, with the counts next to the percentage drawn.
func (h *Handler) dependencyCSV(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	if len(f.Errors) > 0 {
		return httperr.New(http.StatusBadRequest, strings.Join(f.Errors, "; "))
	}
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	d, err := h.dependency(ctx, pr, f)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"period", "assistant", "dependent_channels", "dependent_users", "users", "dependent_pct", "complete"})
	for _, r := range d.Rows {
		_ = w.Write([]string{r.Period, r.Assistant, strings.Join(r.Channels, " "), views.FormatRaw(r.Dependent), views.FormatRaw(r.All),
			strconv.FormatFloat(math.Round(r.pct()*100)/100, 'f', -1, 64), strconv.FormatBool(r.Complete)})
	}
	w.Flush()
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="platform_dependency_`+f.FromString()+`_`+f.ToString()+`.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func labels3(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = views.Label(x)
	}
	return strings.Join(out, ", ")
}
