package dashboard

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
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
	// One channel control: the picker. The filter bar's channel boxes
	// are hidden here; a link's channel=x picks x when focus is not given.
	channel := c.QueryParam("focus")
	if channel == "" && len(pr.f.Channels) == 1 {
		channel = pr.f.Channels[0]
	}
	pr.f.Channels = nil
	f := pr.f
	p := h.page(pr, "Channel", "/channel", f)
	p.CanCompare = true
	p.Hide = []string{"channel"}
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
	never := false
	go func() {
		defer wg.Done()
		v.Share = h.channelShareChart(ctx, pr, f, channel, anns)
		if v.Share.Empty != "" && h.neverHadData(ctx, pr, f, channel) {
			never = true
			v.Share.Empty = views.Label(channel) + " has never had an event stored (for these assistants and countries, since the first stored event): no dates would show it. Pick another channel."
		}
	}()
	go func() { defer wg.Done(); v.Dependency, v.Only = h.dependencyChart(ctx, pr, f, anns) }()
	go func() { defer wg.Done(); p.Demo = h.demoShown(ctx, f) }()
	wg.Wait()
	if never && v.Dependency.Empty == "" {
		// The share chart says why it is empty; the page's "widen the
		// dates" hint would contradict it.
		pr.empty.mu.Lock()
		pr.empty.set = false
		pr.empty.mu.Unlock()
	}
	return h.render(pr, http.StatusOK, p, views.ChannelPage(v))
}

// neverHadData reports whether the channel has no events at all for the
// slice's assistants and countries, over every stored day: then widening
// the dates is no advice.
func (h *Handler) neverHadData(ctx context.Context, pr *pageRequest, f Filters, channel string) bool {
	fr := h.fresh(pr)
	if fr.Err != "" || !fr.Known {
		return false
	}
	req := onChannels(f.series(query.ActiveUsers), channel)
	req.From, req.To, req.Interval, req.Partial, req.TZ = truncDay(fr.First), truncDay(fr.DataThrough), query.Month, true, ""
	r, err := h.series(ctx, pr, req)
	if err != nil {
		return false
	}
	return allZero(pivot(r, -1, false, nil))
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

// dependency is query.Dependency for the page's slice (the same answer as
// GET /api/v1/dependency): per period and assistant, its people, those on
// channels its maker does not control, and those only on such channels.
// The whole is every channel; the page has no channel filter.
func (h *Handler) dependency(ctx context.Context, f Filters) (query.DependencyResult, error) {
	return query.Dependency(ctx, h.opts.Store, query.DependencyRequest{Interval: query.Interval(f.Interval), From: f.From, To: f.To,
		Filters: query.Filters{Assistants: f.Assistants, Countries: f.Countries}, TZ: f.apiZone(), Partial: f.Partial,
		Owners: h.owners, Now: h.opts.Now()})
}

// onChannels is r restricted to channels (sorted, as the API reads them).
func onChannels(r query.SeriesRequest, channels ...string) query.SeriesRequest {
	r.Filters.Channels = slices.Sorted(slices.Values(channels))
	return r
}

// ownerName is an owner as the page names it ("Meta").
func ownerName(o string) string { return views.Label(o) }

// onlyOnWords is "only on Meta's channels" for the owners of a row.
func onlyOnWords(owners []query.OwnerUsers) string {
	names := make([]string, len(owners))
	for i, o := range owners {
		names[i] = ownerName(o.Owner) + "'s"
	}
	return "only on " + strings.Join(names, " or ") + " channels"
}

// dependencyChart: for each assistant, the percentage of its active users
// who were active on a channel its maker does not control (the owners
// registry: Meta's WhatsApp, Messenger and Instagram are Meta AI's own),
// solid; and, dashed, the percentage active only there: lost outright if
// the channels' owner closes them.
func (h *Handler) dependencyChart(ctx context.Context, pr *pageRequest, f Filters, anns []annotation.Annotation) (views.Chart, []views.DependencyCell) {
	const id, title = "platform-dependency", "Platform dependency: share of each assistant's users on channels its maker does not control"
	ch := pr.chart(id, title, pageURL("/channel/dependency.csv", f, nil))
	d, err := h.dependency(ctx, f)
	if err != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, err)), nil
	}
	var periods []string
	idx := map[string]int{}
	incomplete := map[string]bool{}
	for _, r := range d.Rows {
		p := r.Period.Format(catalog.DateLayout)
		if _, ok := idx[p]; !ok {
			idx[p] = len(periods)
			periods = append(periods, p)
		}
		if !r.Complete {
			incomplete[p] = true
		}
	}
	var ss []views.Series
	var parts []string
	head := []string{"period"}
	for _, a := range d.Assistants {
		maker := a.Maker
		if maker == "" {
			maker = "its maker"
		} else {
			maker = ownerName(maker)
		}
		if len(a.Channels) == 0 {
			parts = append(parts, views.Label(a.Assistant)+" ("+maker+"): none")
			continue
		}
		parts = append(parts, views.Label(a.Assistant)+" ("+maker+"): "+labels3(a.Channels))
		any := views.Series{Name: views.Label(a.Assistant), Values: make([]float64, len(periods))}
		only := views.Series{Name: views.Label(a.Assistant) + " — only there", Values: make([]float64, len(periods)), Color: views.ColorOf(a.Assistant), Dashed: true}
		for _, r := range d.Rows {
			if r.Assistant == a.Assistant {
				any.Values[idx[r.Period.Format(catalog.DateLayout)]] = r.Pct
				only.Values[idx[r.Period.Format(catalog.DateLayout)]] = r.OnlyPct
			}
		}
		ss = append(ss, any, only)
		head = append(head, views.Label(a.Assistant)+": people", "on others' channels", "of whom also on its own", "only on others' channels")
	}
	ch.Note = "Solid: the share of the assistant's people active on a channel its maker does not control; dashed: the share active only there, " +
		"whom the assistant loses outright if the channels' owner closes them (the rest are also on its own channels). " +
		"Channels the maker does not control, from the owners registry — " + strings.Join(parts, "; ") + ". Complete periods only unless the incomplete period is counted."
	if len(ss) == 0 || allZero(ss) {
		ch.Empty = noData(pr, "No events for these dates and filters.")
		return ch, nil
	}
	// The table: per period, each assistant's people, those on others'
	// channels, those also on its own, and those only on others' (by owner).
	byKey := map[string]query.DependencyRow{}
	for _, r := range d.Rows {
		byKey[r.Period.Format(catalog.DateLayout)+"|"+r.Assistant] = r
	}
	t := views.Table{Head: head}
	for _, p := range periods {
		row := []string{p}
		if incomplete[p] {
			row[0] += " (incomplete)"
		}
		for _, a := range d.Assistants {
			if len(a.Channels) == 0 {
				continue
			}
			r := byKey[p+"|"+a.Assistant]
			only := make([]string, 0, len(r.OnlyOn))
			for _, o := range r.OnlyOn {
				only = append(only, fmt.Sprintf("%s on %s's (%s)", views.FormatInt(float64(o.Users)), ownerName(o.Owner), views.FormatPercent(o.Pct)))
			}
			row = append(row, views.FormatInt(float64(r.Users)),
				fmt.Sprintf("%s (%s)", views.FormatInt(float64(r.DependentUsers)), views.FormatPercent(r.Pct)),
				views.FormatInt(float64(r.DependentUsers-r.OnlyDependentUsers)),
				strings.Join(only, "; "))
		}
		t.Rows = append(t.Rows, row)
	}
	r := seriesResult{Periods: periods, Incomplete: incomplete}
	inc := h.incompleteNotes(pr, r, f)
	ch.Options = views.TimeChart{Periods: periods, Series: ss, Percent: true, Marks: marks(anns), Interval: f.Interval, Incomplete: inc}.Options()
	ch.Table = t
	return ch, dependencySummary(d)
}

// dependencySummary is the last period's "only on <owner>'s channels"
// line per assistant, the figure a reader looks for first.
func dependencySummary(d query.DependencyResult) []views.DependencyCell {
	var last time.Time
	for _, r := range d.Rows {
		if r.Complete && r.Period.After(last) {
			last = r.Period
		}
	}
	var out []views.DependencyCell
	for _, r := range d.Rows {
		if !r.Period.Equal(last) || len(r.OnlyOn) == 0 {
			continue
		}
		out = append(out, views.DependencyCell{Assistant: r.Assistant, Period: r.Period.Format(catalog.DateLayout), Users: r.Users,
			Dependent: r.DependentUsers, DependentPct: r.Pct, Also: r.DependentUsers - r.OnlyDependentUsers,
			Only: r.OnlyDependentUsers, OnlyPct: r.OnlyPct, OnlyWords: onlyOnWords(r.OnlyOn)})
	}
	return out
}

// dependencyCSV answers GET /channel/dependency.csv: the dependency chart's
// numbers, with the counts next to the percentages drawn.
func (h *Handler) dependencyCSV(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	if len(f.Errors) > 0 {
		return httperr.New(http.StatusBadRequest, strings.Join(f.Errors, "; "))
	}
	f.Channels = nil
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	d, err := h.dependency(ctx, f)
	if err != nil {
		return err
	}
	chans := map[string][]string{}
	for _, a := range d.Assistants {
		chans[a.Assistant] = a.Channels
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write([]string{"period", "assistant", "dependent_channels", "dependent_users", "users", "dependent_pct", "also_on_own_users", "only_dependent_users", "only_dependent_pct", "only_on", "complete"})
	for _, r := range d.Rows {
		only := make([]string, len(r.OnlyOn))
		for i, o := range r.OnlyOn {
			only[i] = o.Owner + "=" + strconv.FormatUint(o.Users, 10)
		}
		_ = w.Write([]string{r.Period.Format(catalog.DateLayout), r.Assistant, strings.Join(chans[r.Assistant], " "), strconv.FormatUint(r.DependentUsers, 10),
			strconv.FormatUint(r.Users, 10), strconv.FormatFloat(math.Round(r.Pct*100)/100, 'f', -1, 64),
			strconv.FormatUint(r.DependentUsers-r.OnlyDependentUsers, 10), strconv.FormatUint(r.OnlyDependentUsers, 10),
			strconv.FormatFloat(math.Round(r.OnlyPct*100)/100, 'f', -1, 64), strings.Join(only, " "), strconv.FormatBool(r.Complete)})
	}
	w.Flush()
	// Named as a scheduled file is, _synthetic included.
	name := query.CSVFileName("platform_dependency", f.From, f.To, h.demoShown(ctx, f))
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

func labels3(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = views.Label(x)
	}
	return strings.Join(out, ", ")
}
