package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// impactView is the Impact page's model with the page's zone (the days of
// the before/after chart).
type impactView struct {
	views.ImpactView
	TZ string
}

// showImpactPage: pick an annotation (or a date) and a source (assistant,
// channel); before/after active users of the source and its neighbours,
// and where the source's cohort went.
func (h *Handler) showImpactPage(c echo.Context) error {
	pr := h.chartRequest(c)
	f := pr.f
	p := h.page(pr, "Impact", "/impact", f)
	p.ShowFilters = false
	ctx, cancel := h.queryCtx(c)
	defer cancel()
	v := impactView{ImpactView: views.ImpactView{Assistant: c.QueryParam("source_assistant"), Channel: c.QueryParam("source_channel"),
		Date: c.QueryParam("date"), AnnotID: c.QueryParam("annotation"), Before: 28, After: 28,
		Assistants: h.opts.Assistants, Channels: h.opts.Channels}, TZ: f.zone()}
	list, err := h.opts.Annotations.List(ctx, annotation.Filter{})
	if err != nil {
		p.Notices = append(p.Notices, "Annotations could not be loaded: "+err.Error())
	}
	v.Annotations = viewAnnotations(list)
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
	// The one date rule, with the message the API gives for the same date.
	d, err := catalog.ParseDate("date", v.Date)
	if err != nil {
		p.Notices = append(p.Notices, err.Error())
		return h.render(pr, http.StatusOK, p, views.ImpactPage(v.ImpactView))
	}
	// The Lifecycle page of the treated series around the date: at
	// least eight weeks before it, to the end of the after window.
	lf := Filters{Range: "custom", From: d.AddDate(0, 0, -max(v.Before, 56)), To: d.AddDate(0, 0, v.After-1), Interval: "week", TZ: v.TZ}
	if today := h.today(); lf.To.After(today) {
		lf.To = today
	}
	v.Lifecycle = lifecycleLink(lf, v.Assistant, v.Channel, "")
	v.LifecycleChannel = lifecycleLink(lf, "", v.Channel, "assistant")
	mv := url.Values{"assistant": {v.Assistant}, "channel": {v.Channel}, "date": {v.Date},
		"before_days": {strconv.Itoa(v.Before)}, "after_days": {strconv.Itoa(v.After)}}
	if b := c.QueryParam("baseline"); b != "" {
		mv.Set("baseline", b)
	}
	var wg sync.WaitGroup
	wg.Add(4)
	var controls []query.SeriesKey
	go func() { defer wg.Done(); v.Effect, controls = h.impactEffect(ctx, pr, v, chosen) }()
	go func() { defer wg.Done(); v.BeforeAfter = h.beforeAfterChart(ctx, pr, v, d, chosen) }()
	var mig *query.MigrationResult
	go func() { defer wg.Done(); v.Sankey, v.Outcomes, mig = h.migrationCharts(ctx, pr, v, mv) }()
	go func() {
		defer wg.Done()
		p.Demo = h.demoShown(ctx, Filters{From: d.AddDate(0, 0, -v.Before), To: d.AddDate(0, 0, v.After-1)})
	}()
	wg.Wait()
	v.Effect.Warnings = moversWarnings(query.SeriesKey{Assistant: v.Assistant, Channel: v.Channel}, controls, mig)
	return h.render(pr, http.StatusOK, p, views.ImpactPage(v.ImpactView))
}

// beforeAfterChart: daily active users of the source, of the same
// assistant on its other channels, and of the other assistants on the
// same channel, from before_days before the date to after_days after.
func (h *Handler) beforeAfterChart(ctx context.Context, pr *pageRequest, v impactView, d time.Time, chosen *annotation.Annotation) views.Chart {
	const id = "before-after"
	title := "Before and after " + v.Date + ": " + views.Label(v.Assistant) + " on " + views.Label(v.Channel) + " and its neighbours"
	f := Filters{From: d.AddDate(0, 0, -v.Before), To: d.AddDate(0, 0, v.After-1), Interval: "day", TZ: v.TZ}
	req := f.series(query.ActiveUsers, query.DimAssistant, query.DimChannel)
	ch := seriesChart(id, title, req)
	ch.Note = "Daily active users. Neighbours: the same assistant on its other channels, other assistants on the same channel."
	r, err := h.series(ctx, pr, req)
	if err != nil {
		return views.Failed(id, title, h.readableErr(pr.c, id, err))
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
		ss[i].Name = views.Label(a) + " on " + views.Label(chn)
		// Other assistants on the channel keep their own colour; the
		// source assistant's other channels take the channel's, dashed.
		if a == v.Assistant && chn != v.Channel {
			ss[i].Color, ss[i].Dashed = views.ColorOf(chn), true
		}
	}
	if allZero(ss) {
		ch.Empty = noData(pr, "No events for "+views.Label(v.Assistant)+" or "+views.Label(v.Channel)+" around "+v.Date+".")
		return ch
	}
	mark := views.Mark{Start: v.Date, End: v.Date, Title: v.Date}
	if chosen != nil {
		mark.Title, mark.Text = chosen.Title, chosen.Text
	}
	inc := h.incompleteNotes(pr, r, f)
	ch.Options = views.TimeChart{Periods: r.Periods, Series: ss, Marks: []views.Mark{mark}, Interval: "day", Incomplete: inc}.Options()
	ch.Table = views.SeriesTableMarked(r.Periods, ss, false, inc)
	if end := f.To.Format(catalog.DateLayout); len(r.Periods) > 0 && r.Periods[len(r.Periods)-1] < end {
		ch.Note += " The data ends on " + r.Periods[len(r.Periods)-1] + ": later days are not drawn (they have not happened or are not stored yet)."
	}
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

// migrationCharts also returns the migration answer (nil when it
// failed): the estimate's caveat counts the movers into its controls.
func (h *Handler) migrationCharts(ctx context.Context, pr *pageRequest, v impactView, mv url.Values) (views.Chart, views.Chart, *query.MigrationResult) {
	const sid, tid = "migration-sankey", "migration-table"
	stitle := "Where the cohort of " + views.Label(v.Assistant) + " on " + views.Label(v.Channel) + " went"
	ttitle := "Migration outcomes, linked and not linked, against the baseline"
	csv := apiURL("migration", mv)
	req, err := query.ParseMigration(mv)
	if err == nil {
		req.Now = h.opts.Now()
		var m query.MigrationResult
		m, err = query.Migration(ctx, h.opts.Store, req)
		if err == nil {
			mv := newMigrationView(v, m)
			return migrationSankey(pr, sid, stitle, csv, mv), migrationTable(pr, tid, ttitle, csv, mv), &m
		}
	}
	err = h.readableErr(pr.c, sid, err)
	return views.Failed(sid, stitle, err), views.Failed(tid, ttitle, err), nil
}

// migrationView is a migration answer with the labels and the shares the
// table and the Sankey tooltip both show.
type migrationView struct {
	v        impactView
	m        query.MigrationResult
	unlinked uint64
	base     map[string]query.MigrationOutcome // by query.OutcomeKey
}

// outcomeRank orders the outcomes: stayed, moved (new there), already
// there, then no event.
var outcomeRank = map[string]int{query.OutcomeStayed: 0, query.OutcomeMoved: 1, query.OutcomeAlreadyThere: 2, query.OutcomeInactive: 3, query.OutcomeNotSeenYet: 3}

func newMigrationView(v impactView, m query.MigrationResult) migrationView {
	m.Outcomes = append([]query.MigrationOutcome(nil), m.Outcomes...)
	sort.SliceStable(m.Outcomes, func(i, j int) bool { return outcomeRank[m.Outcomes[i].Outcome] < outcomeRank[m.Outcomes[j].Outcome] })
	mv := migrationView{v: v, m: m, base: map[string]query.MigrationOutcome{}}
	if m.Cohort > m.Linked {
		mv.unlinked = m.Cohort - m.Linked
	}
	if m.Baseline != nil {
		for _, o := range m.Baseline.Outcomes {
			mv.base[query.OutcomeKey(o)] = o
		}
	}
	return mv
}

// outcomeName names an outcome for the table and the Sankey.
func outcomeName(o query.MigrationOutcome) string {
	switch o.Outcome {
	case query.OutcomeStayed:
		return "Stayed"
	case query.OutcomeInactive:
		return "Inactive"
	case query.OutcomeNotSeenYet:
		return "Not seen yet"
	case query.OutcomeAlreadyThere:
		return "Already on " + views.Label(o.Assistant) + " on " + views.Label(o.Channel)
	}
	return "Moved to " + views.Label(o.Assistant) + " on " + views.Label(o.Channel) + " (new there)"
}

func pctOf(n, of uint64) string {
	if of == 0 {
		return "–"
	}
	return views.FormatPercent(float64(n) / float64(of) * 100)
}

// windowNote says how much of the after window has happened.
func (mv migrationView) windowNote() string {
	m := mv.m
	if m.Complete {
		return fmt.Sprintf("All %d days after %s observed.", m.AfterDays, mv.v.Date)
	}
	return fmt.Sprintf("Only %d of the %d days after %s are observed yet (data through the last complete day): people with no event so far are \"not seen yet\", not inactive, and every share can still change.",
		m.ObservedDays, m.AfterDays, mv.v.Date)
}

func (mv migrationView) baselineNote() string {
	b := mv.m.Baseline
	if b == nil {
		return "No baseline (baseline=none)."
	}
	s := fmt.Sprintf("Baseline: the same cohort definition at %s (%s people), an ordinary date without the change.", b.Date.Format(catalog.DateLayout), views.FormatInt(float64(b.Cohort)))
	if !b.Complete {
		s += fmt.Sprintf(" Its after window has only %d of %d days observed.", b.ObservedDays, mv.m.AfterDays)
	}
	return s
}

// tip is the Sankey tooltip of an outcome: people and share, the linked
// split, the baseline.
func (mv migrationView) tip(o query.MigrationOutcome) []string {
	m := mv.m
	lines := []string{outcomeName(o), fmt.Sprintf("%s people, %s of the cohort", views.FormatInt(float64(o.Users)), pctOf(o.Users, m.Cohort)),
		fmt.Sprintf("linked: %s (%s of linked) · not linked: %s (%s of not linked)", views.FormatInt(float64(o.Linked)), pctOf(o.Linked, m.Linked),
			views.FormatInt(float64(o.Unlinked())), pctOf(o.Unlinked(), mv.unlinked))}
	if b := m.Baseline; b != nil {
		bo := mv.base[query.OutcomeKey(o)]
		lines = append(lines, fmt.Sprintf("baseline %s: %s (%s of its cohort)", b.Date.Format(catalog.DateLayout), views.FormatInt(float64(bo.Users)), pctOf(bo.Users, b.Cohort)))
	}
	if !m.Complete {
		lines = append(lines, fmt.Sprintf("%d of %d after-days observed", m.ObservedDays, m.AfterDays))
	}
	return lines
}

func migrationSankey(pr *pageRequest, id, title, csv string, mv migrationView) views.Chart {
	v, m := mv.v, mv.m
	ch := pr.chart(id, title, csv)
	ch.Note = fmt.Sprintf("Cohort: people active on the source in the %d days before %s; each gets one outcome in the %d days from that date. %s Hover a flow for the linked split and the baseline.", v.Before, v.Date, v.After, mv.windowNote())
	if m.Cohort == 0 {
		ch.Empty = noData(pr, "Nobody was active on "+views.Label(v.Assistant)+" on "+views.Label(v.Channel)+" in the "+strconv.Itoa(v.Before)+" days before "+v.Date+": a launch. The table shows who was acquired.")
		return ch
	}
	src := "Cohort: " + views.Label(v.Assistant) + " on " + views.Label(v.Channel)
	nodes := []string{src}
	var links []views.SankeyLink
	tips := map[string][]string{src: {src, fmt.Sprintf("%s people, %s linked their account", views.FormatInt(float64(m.Cohort)), pctOf(m.Linked, m.Cohort))}}
	colors := map[string]string{src: views.ColorOf(v.Assistant)}
	for _, o := range m.Outcomes {
		if o.Users == 0 {
			continue
		}
		n := outcomeName(o)
		nodes = append(nodes, n)
		links = append(links, views.SankeyLink{From: src, To: n, Value: float64(o.Users)})
		tips[n] = mv.tip(o)
		switch o.Outcome {
		case query.OutcomeStayed:
			colors[n] = views.ColorOf(v.Assistant)
		case query.OutcomeInactive, query.OutcomeNotSeenYet:
			colors[n] = views.ColorOf("inactive")
		default:
			colors[n] = views.ColorOf(o.Assistant)
		}
	}
	ch.Options = views.MigrationSankeyOptions(nodes, links, colors, tips)
	ch.Table = migrationTable(pr, id, title, csv, mv).Table
	return ch
}

func migrationTable(pr *pageRequest, id, title, csv string, mv migrationView) views.Chart {
	v, m := mv.v, mv.m
	ch := pr.chart(id, title, csv)
	if m.Cohort == 0 {
		if m.Launch == nil || m.Launch.Acquired == 0 {
			ch.Empty = noData(pr, "No cohort: nobody was active on "+views.Label(v.Assistant)+" on "+views.Label(v.Channel)+" before "+v.Date+", and nobody was acquired there after it.")
			return ch
		}
		ch.Title = "Launch: people acquired on " + views.Label(v.Assistant) + " on " + views.Label(v.Channel) + " and where they were before"
		ch.Note = fmt.Sprintf("Nobody was there in the %d days before %s. Acquired: people first seen there in the %d days from that date; each is counted where they were most active before. %s", v.Before, v.Date, v.After, mv.windowNote())
		ch.Table.Head = []string{"before " + v.Date, "people", "of acquired"}
		ch.Table.Rows = [][]string{{"acquired", views.FormatInt(float64(m.Launch.Acquired)), "100.0 %"}}
		for _, o := range m.Launch.Origins {
			name := "new: no event anywhere before"
			if o.Outcome == query.OriginActiveBefore {
				name = "was on " + views.Label(o.Assistant) + " on " + views.Label(o.Channel)
			}
			ch.Table.Rows = append(ch.Table.Rows, []string{name, views.FormatInt(float64(o.Users)), pctOf(o.Users, m.Launch.Acquired)})
		}
		return ch
	}
	ch.Note = "Shares of the cohort; linked and not linked: shares of each group (people who had linked an account on " + views.Label(v.Assistant) +
		" before the date, and the others). " + mv.windowNote() + " " + mv.baselineNote()
	ch.Table.Head = []string{"outcome", "people", "of cohort", "linked", "not linked"}
	b := m.Baseline
	if b != nil {
		ch.Table.Head = append(ch.Table.Head, "baseline "+b.Date.Format(catalog.DateLayout))
	}
	row := func(name string, n, linked, unlinked uint64, base *uint64) []string {
		r := []string{name, views.FormatInt(float64(n)), pctOf(n, m.Cohort), views.FormatInt(float64(linked)) + " · " + pctOf(linked, m.Linked),
			views.FormatInt(float64(unlinked)) + " · " + pctOf(unlinked, mv.unlinked)}
		if b != nil {
			if base == nil {
				r = append(r, "")
			} else {
				r = append(r, views.FormatInt(float64(*base))+" · "+pctOf(*base, b.Cohort))
			}
		}
		return r
	}
	var bc *uint64
	if b != nil {
		bc = &b.Cohort
	}
	ch.Table.Rows = [][]string{row("cohort", m.Cohort, m.Linked, mv.unlinked, bc)}
	for _, o := range m.Outcomes {
		var bu *uint64
		if b != nil {
			x := mv.base[query.OutcomeKey(o)].Users
			bu = &x
		}
		ch.Table.Rows = append(ch.Table.Rows, row(outcomeName(o), o.Users, o.Linked, o.Unlinked(), bu))
	}
	return ch
}
