package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
)

// migrationOutcome is one outcome of a migration cohort.
type migrationOutcome struct {
	Outcome            string // stayed, moved, inactive
	Assistant, Channel string // where they moved
	Users              float64
}

type migrationResult struct {
	Cohort, Linked float64
	Outcomes       []migrationOutcome
}

type impactView struct {
	Annotations []annotation.Annotation
	AnnotID     string
	Date        string
	Assistant   string
	Channel     string
	Before      int
	After       int
	Assistants  []string
	Channels    []string
	BeforeAfter Chart
	Sankey      Chart
	Outcomes    Chart
}

// showImpactPage: pick an annotation (or a date) and a source (assistant,
// channel); before/after active users of the source and its neighbours,
// and where the source's cohort went.
func (h *Handler) showImpactPage(c echo.Context) error {
	f := ParseFilters(c.QueryParams(), h.today(), launchDate)
	p := h.page(c, "Impact", "/impact", f)
	p.ShowFilters = false
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := impactView{Assistant: c.QueryParam("source_assistant"), Channel: c.QueryParam("source_channel"),
		Date: c.QueryParam("date"), AnnotID: c.QueryParam("annotation"), Before: 28, After: 28,
		Assistants: h.opts.Assistants, Channels: h.opts.Channels}
	list, err := h.opts.Annotations.List(ctx, annotation.Filter{})
	if err != nil {
		p.Notices = append(p.Notices, "Annotations could not be loaded: "+err.Error())
	}
	v.Annotations = list
	var chosen *annotation.Annotation
	for i := range list {
		if list[i].ID == v.AnnotID {
			chosen = &list[i]
		}
	}
	if chosen == nil && v.Date == "" {
		// Default: the latest of the catalog's kind (a shutdown; the first
		// by title on that day), else the latest annotation.
		for i := range list {
			if list[i].Kind == catalog.ImpactKind && (chosen == nil || list[i].Start > chosen.Start) {
				chosen = &list[i]
			}
		}
		if chosen == nil && len(list) > 0 {
			chosen = &list[len(list)-1]
		}
	}
	if chosen != nil {
		v.AnnotID, v.Date = chosen.ID, chosen.Start
		if v.Assistant == "" {
			v.Assistant = chosen.Assistant
		}
		if v.Channel == "" {
			v.Channel = chosen.Channel
		}
	}
	if v.Date == "" {
		v.Date = h.today().AddDate(0, 0, -28).Format(catalog.DateLayout)
	}
	if v.Assistant == "" {
		v.Assistant = catalog.ImpactAssistant
	}
	if v.Channel == "" {
		v.Channel = catalog.ImpactChannel
	}
	for _, x := range []struct {
		name string
		dst  *int
	}{{"before_days", &v.Before}, {"after_days", &v.After}} {
		if s := c.QueryParam(x.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > query.MaxWindowDays {
				p.Notices = append(p.Notices, fmt.Sprintf("%s %q: want 1 to %d days; using %d", x.name, s, query.MaxWindowDays, *x.dst))
				continue
			}
			*x.dst = n
		}
	}
	d, err := time.Parse(catalog.DateLayout, v.Date)
	if err != nil {
		p.Notices = append(p.Notices, fmt.Sprintf("date %q: want YYYY-MM-DD", v.Date))
		return h.render(c, http.StatusOK, p, ImpactPage(v))
	}
	mv := url.Values{"assistant": {v.Assistant}, "channel": {v.Channel}, "date": {v.Date},
		"before_days": {strconv.Itoa(v.Before)}, "after_days": {strconv.Itoa(v.After)}}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); v.BeforeAfter = h.beforeAfterChart(ctx, c, v, d, chosen) }()
	go func() { defer wg.Done(); v.Sankey, v.Outcomes = h.migrationCharts(ctx, c, v, mv) }()
	go func() {
		defer wg.Done()
		p.Demo = h.demoShown(ctx, Filters{From: d.AddDate(0, 0, -v.Before), To: d.AddDate(0, 0, v.After-1)})
	}()
	wg.Wait()
	return h.render(c, http.StatusOK, p, ImpactPage(v))
}

// beforeAfterChart: daily active users of the source, of the same
// assistant on its other channels, and of the other assistants on the
// same channel, from before_days before the date to after_days after.
func (h *Handler) beforeAfterChart(ctx context.Context, c echo.Context, v impactView, d time.Time, chosen *annotation.Annotation) Chart {
	const id = "before-after"
	title := "Before and after " + v.Date + ": " + Label(v.Assistant) + " on " + Label(v.Channel) + " and its neighbours"
	f := Filters{From: d.AddDate(0, 0, -v.Before), To: d.AddDate(0, 0, v.After-1), Interval: "day"}
	params := seriesParams(f, "active_users", "assistant,channel")
	ch := Chart{ID: id, Title: title, CSV: apiURL("series", params),
		Note: "Daily active users. Neighbours: the same assistant on its other channels, other assistants on the same channel."}
	r, err := h.series(ctx, params)
	if err != nil {
		return failed(id, title, h.readableErr(c, id, err))
	}
	keep := r
	keep.Rows = nil
	for _, row := range r.Rows {
		if row.Key[0] == v.Assistant || row.Key[1] == v.Channel {
			keep.Rows = append(keep.Rows, row)
		}
	}
	ss := pivot(keep, -1, false, nil)
	for i := range ss {
		a, chn, _ := cutKey(ss[i].Name)
		ss[i].Name = Label(a) + " on " + Label(chn)
	}
	if allZero(ss) {
		ch.Empty = "No events for " + Label(v.Assistant) + " or " + Label(v.Channel) + " around " + v.Date + ". " + emptyHint
		return ch
	}
	mark := annotation.Annotation{Start: v.Date, End: v.Date, Title: v.Date}
	if chosen != nil {
		mark.Title, mark.Text = chosen.Title, chosen.Text
	}
	ch.Options = lineOptions(r.Periods, ss, false, false, []annotation.Annotation{mark}, "day")
	ch.Table = seriesTable(r.Periods, ss, false)
	return ch
}

func cutKey(k string) (string, string, bool) {
	for i := 0; i+3 <= len(k); i++ {
		if k[i:i+3] == " / " {
			return k[:i], k[i+3:], true
		}
	}
	return k, "", false
}

func (h *Handler) migrationCharts(ctx context.Context, c echo.Context, v impactView, mv url.Values) (Chart, Chart) {
	const sid, tid = "migration-sankey", "migration-table"
	stitle := "Where the cohort of " + Label(v.Assistant) + " on " + Label(v.Channel) + " went"
	ttitle := "Migration outcomes"
	csv := apiURL("migration", mv)
	req, err := query.ParseMigration(mv)
	if err == nil {
		var m migrationResult
		m, err = h.runMigration(ctx, req)
		if err == nil {
			return migrationSankey(sid, stitle, csv, v, m), migrationTable(tid, ttitle, csv, v, m)
		}
	}
	err = h.readableErr(c, sid, err)
	return failed(sid, stitle, err), failed(tid, ttitle, err)
}

func outcomeName(o migrationOutcome) string {
	switch o.Outcome {
	case "stayed":
		return "Stayed"
	case "inactive":
		return "Inactive"
	}
	return Label(o.Assistant) + " on " + Label(o.Channel)
}

func migrationSankey(id, title, csv string, v impactView, m migrationResult) Chart {
	ch := Chart{ID: id, Title: title, CSV: csv,
		Note: fmt.Sprintf("Cohort: people active on the source in the %d days before %s; each gets one outcome in the %d days from that date.", v.Before, v.Date, v.After)}
	if m.Cohort == 0 {
		ch.Empty = "Nobody was active on " + Label(v.Assistant) + " on " + Label(v.Channel) + " in the " + strconv.Itoa(v.Before) + " days before " + v.Date + "."
		return ch
	}
	src := "Cohort: " + Label(v.Assistant) + " on " + Label(v.Channel)
	nodes := []string{src}
	var links []sankeyLink
	for _, o := range m.Outcomes {
		if o.Users == 0 {
			continue
		}
		n := outcomeName(o)
		if n == src {
			n += " (after)"
		}
		nodes = append(nodes, n)
		links = append(links, sankeyLink{From: src, To: n, Value: o.Users})
	}
	ch.Options = sankeyOptions(nodes, links)
	ch.Table = migrationTable(id, title, csv, v, m).Table
	return ch
}

func migrationTable(id, title, csv string, v impactView, m migrationResult) Chart {
	ch := Chart{ID: id, Title: title, CSV: csv}
	if m.Cohort == 0 {
		ch.Empty = "No cohort: nobody was active on the source before " + v.Date + "."
		return ch
	}
	pct := func(x float64) string { return fmtPct(x / m.Cohort * 100) }
	ch.Table.Head = []string{"outcome", "people", "of cohort"}
	ch.Table.Rows = [][]string{{"cohort", fmtInt(m.Cohort), "100.0 %"}, {"linked an account before the date", fmtInt(m.Linked), pct(m.Linked)}}
	for _, o := range m.Outcomes {
		name := outcomeName(o)
		if o.Outcome == "moved" {
			name = "moved to " + name
		}
		ch.Table.Rows = append(ch.Table.Rows, []string{name, fmtInt(o.Users), pct(o.Users)})
	}
	return ch
}
