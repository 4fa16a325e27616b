package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
)

type channelView struct {
	Channel    string
	Channels   []string
	Share      Chart
	Dependency Chart
	Filters    Filters
}

// showChannelPage: one channel (default WhatsApp): each assistant's share
// of its users over time; and, per assistant, the share of its users that
// come through third-party channels.
func (h *Handler) showChannelPage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	channel := c.QueryParam("focus")
	p := h.page(c, "Channel", "/channel", f)
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
	v := channelView{Channel: channel, Channels: h.opts.Channels, Filters: f}
	anns := h.annotations(ctx, f)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); v.Share = h.channelShareChart(ctx, c, f, channel, anns) }()
	go func() { defer wg.Done(); v.Dependency = h.dependencyChart(ctx, c, f, anns) }()
	go func() { defer wg.Done(); p.Demo = h.demoShown(ctx, f) }()
	wg.Wait()
	return h.render(c, http.StatusOK, p, ChannelPage(v))
}

func (h *Handler) channelShareChart(ctx context.Context, c echo.Context, f Filters, channel string, anns []annotation.Annotation) Chart {
	return h.drawLine(ctx, c, f, anns, lineCard{
		id: "channel-share", title: "Share of " + Label(channel) + " users by assistant",
		note:    "Each assistant's active users on " + Label(channel) + " as a percentage of all the channel's active users in the period.",
		params:  seriesParams(f, "share", "assistant", "channel", channel, "compare", compareParam(f)),
		percent: true, previous: true,
		empty: "No events on " + Label(channel) + " in this range. " + emptyHint,
	})
}

// dependencyChart: for each assistant, the percentage of its active users
// who were active on a third-party channel (WhatsApp, Messenger,
// Instagram, Telegram) in the period: third-party users ÷ all users, two
// series queries with the same filters.
func (h *Handler) dependencyChart(ctx context.Context, c echo.Context, f Filters, anns []annotation.Annotation) Chart {
	const id, title = "platform-dependency", "Platform dependency: share of each assistant's users on third-party channels"
	var third []string
	for _, ch := range h.opts.Channels {
		if catalog.ThirdParty(ch) && (len(f.Channels) == 0 || contains(f.Channels, ch)) {
			third = append(third, ch)
		}
	}
	sort.Strings(third)
	all := seriesParams(f, "active_users", "assistant")
	tp := seriesParams(f, "active_users", "assistant", "channel", strings.Join(third, ","))
	ch := Chart{ID: id, Title: title, CSV: apiURL("series", tp),
		Note: "Users active on " + labels3(third) + " as a percentage of the assistant's users; the rest reach it only through its own apps and web. CSV: the third-party users."}
	if len(third) == 0 {
		ch.Empty = "The channel filter excludes every third-party channel."
		return ch
	}
	var ra, rt seriesResult
	var ea, et error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra, ea = h.series(ctx, all) }()
	go func() { defer wg.Done(); rt, et = h.series(ctx, tp) }()
	wg.Wait()
	if ea != nil {
		return failed(id, title, h.readableErr(c, id, ea))
	}
	if et != nil {
		return failed(id, title, h.readableErr(c, id, et))
	}
	sa := pivot(ra, 0, false, nil)
	st := pivot(rt, 0, false, nil)
	tpBy := map[string][]float64{}
	for _, s := range st {
		tpBy[s.Name] = s.Values
	}
	var ss []Series
	for _, s := range sa {
		out := Series{Name: Label(s.Name), Values: make([]float64, len(s.Values))}
		for i, total := range s.Values {
			if t := tpBy[s.Name]; total > 0 && t != nil {
				out.Values[i] = t[i] / total * 100
			}
		}
		ss = append(ss, out)
	}
	if allZero(sa) {
		ch.Empty = emptyHint
		return ch
	}
	ch.Options = lineOptions(ra.Periods, ss, false, true, anns, f.Interval)
	ch.Table = seriesTable(ra.Periods, ss, true)
	return ch
}

func labels3(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = Label(x)
	}
	return strings.Join(out, ", ")
}
