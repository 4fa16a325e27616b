package views

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

// Components render a view model; these tests put known values into a
// model and read them back from the HTML, with no server and no store.

func render(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	return renderIn(t, context.Background(), c)
}

func renderIn(t *testing.T, ctx context.Context, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// renderPage renders body inside the layout of p.
func renderPage(t *testing.T, p Page, body templ.Component) *goquery.Document {
	t.Helper()
	return renderIn(t, templ.WithChildren(context.Background(), body), Layout(p))
}

func testid(id string) string { return `[data-testid="` + id + `"]` }

func one(t *testing.T, doc *goquery.Document, sel string) *goquery.Selection {
	t.Helper()
	s := doc.Find(sel)
	if s.Length() != 1 {
		t.Fatalf("%s: %d elements, want 1", sel, s.Length())
	}
	return s
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func testPage() Page {
	return Page{
		Title: "Channel", Path: "/channel", ShowFilters: true, CanCompare: true,
		Filters: FilterState{
			Range: "custom", From: "2026-03-02", To: "2026-04-12", Zone: "Europe/Paris", Interval: "week",
			Assistants: []string{"meta_ai"}, Countries: []string{"BR", "IN"}, Compare: "previous",
			Errors:  []string{`interval "hour": use day, week or month`, `country "Brazil": want a code`},
			Query:   "interval=week&range=custom&tz=Europe%2FParis",
			Presets: []Choice{{"7d", "Last 7 days"}, {"12m", "Last 12 months"}}, Intervals: []string{"day", "week", "month"},
		},
		Extra: url.Values{"focus": {"telegram"}},
		User:  "ana", Role: "admin", AuthEnabled: true, CSRF: "tok-123",
		Assistants: []string{"chatgpt", "meta_ai"}, Channels: []string{"whatsapp", "telegram"},
		Notices:   []string{"Unknown channel fax; showing WhatsApp."},
		Freshness: "data through 2026-04-12 10:00 CEST",
		EmptyHint: "Some charts have no events for these dates.",
		Demo:      true,
	}
}

func TestLayout(t *testing.T) {
	p := testPage()
	doc := renderPage(t, p, ErrorBox("body here"))

	if got := text(doc.Find("title")); got != "Channel · AdoptScope" {
		t.Errorf("title %q", got)
	}
	// The nav: every page, the current one marked, chart pages keeping the
	// filters, the others only the zone.
	links := doc.Find(`nav a`)
	if links.Length() != len(nav) {
		t.Fatalf("%d nav links, want %d", links.Length(), len(nav))
	}
	cur := one(t, doc, `nav a[aria-current="page"]`)
	if got := cur.AttrOr("data-testid", ""); got != "nav/channel" {
		t.Errorf("current nav entry %q, want nav/channel", got)
	}
	if got := one(t, doc, testid("nav/compare")).AttrOr("href", ""); got != "/compare?"+p.Filters.Query {
		t.Errorf("Compare link %q keeps not the filters", got)
	}
	if got := one(t, doc, testid("nav/annotations")).AttrOr("href", ""); got != "/annotations?tz=Europe%2FParis" {
		t.Errorf("Annotations link %q, want only the zone", got)
	}

	// Who is signed in, and the sign-out form with its CSRF field.
	if got := text(one(t, doc, testid("user"))); got != "ana (admin)" {
		t.Errorf("user %q", got)
	}
	if got := one(t, doc, `form[action="/logout"] input[name="_csrf"]`).AttrOr("value", ""); got != "tok-123" {
		t.Errorf("logout CSRF %q, want tok-123", got)
	}
	one(t, doc, testid("demo-badge"))

	// Notices, the ignored parameters, the freshness and the empty hint.
	if got := text(one(t, doc, testid("notice"))); got != p.Notices[0] {
		t.Errorf("notice %q", got)
	}
	errs := doc.Find(testid("filter-error"))
	if errs.Length() != 2 || text(errs.Eq(0)) != "Ignored: "+p.Filters.Errors[0] || text(errs.Eq(1)) != "Ignored: "+p.Filters.Errors[1] {
		t.Errorf("filter errors %q", text(errs))
	}
	if got := text(one(t, doc, testid("freshness"))); got != p.Freshness {
		t.Errorf("freshness %q", got)
	}
	if got := text(one(t, doc, testid("empty-hint"))); got != p.EmptyHint {
		t.Errorf("empty hint %q", got)
	}
	if got := text(one(t, doc, testid("footer-tz"))); got != "Europe/Paris" {
		t.Errorf("footer zone %q", got)
	}
	if got := text(one(t, doc, testid("page-error"))); got != "body here" {
		t.Errorf("children %q", got)
	}

	// The filter bar shows the state of the model.
	bar := one(t, doc, testid("filters"))
	if got := bar.AttrOr("action", ""); got != "/channel" {
		t.Errorf("filter form action %q", got)
	}
	if got := bar.Find(`input[type="hidden"][name="focus"]`).AttrOr("value", ""); got != "telegram" {
		t.Errorf("page parameter focus %q, want telegram", got)
	}
	if got := one(t, doc, testid("filter-range")).Find("option[selected]").AttrOr("value", ""); got != "custom" {
		t.Errorf("range %q, want custom", got)
	}
	if got := one(t, doc, testid("filter-range")).Find("option").Length(); got != 3 {
		t.Errorf("%d range options, want the 2 presets and custom", got)
	}
	if f, to := one(t, doc, testid("filter-from")).AttrOr("value", ""), one(t, doc, testid("filter-to")).AttrOr("value", ""); f != "2026-03-02" || to != "2026-04-12" {
		t.Errorf("dates %s – %s", f, to)
	}
	if got := one(t, doc, testid("filter-tz")).Find("option[selected]").AttrOr("value", ""); got != "Europe/Paris" {
		t.Errorf("zone %q", got)
	}
	if got := one(t, doc, testid("filter-interval")).Find("option[selected]").AttrOr("value", ""); got != "week" {
		t.Errorf("interval %q", got)
	}
	checked := one(t, doc, testid("filter-assistants")).Find("input[checked]")
	if checked.Length() != 1 || checked.AttrOr("value", "") != "meta_ai" {
		t.Errorf("checked assistants: %d, first %q; want meta_ai only", checked.Length(), checked.AttrOr("value", ""))
	}
	if got := one(t, doc, testid("filter-channels")).Find("input[checked]").Length(); got != 0 {
		t.Errorf("%d channels checked, want none", got)
	}
	var countries []string
	doc.Find(testid("filter-country") + "[checked]").Each(func(_ int, s *goquery.Selection) { countries = append(countries, s.AttrOr("value", "")) })
	if strings.Join(countries, ",") != "BR,IN" {
		t.Errorf("countries checked %q, want BR,IN", countries)
	}
	if got := one(t, doc, testid("filter-compare")).Find("option[selected]").AttrOr("value", ""); got != "previous" {
		t.Errorf("compare %q selected, want previous", got)
	}
	if _, ok := one(t, doc, testid("filter-partial")).Attr("checked"); ok {
		t.Error("partial checked, the model says not")
	}
}

func TestLayoutWithoutAuthOrFilters(t *testing.T) {
	doc := renderPage(t, Page{Title: "Sign in", Path: "/login"}, LoginForm("/compare", "tok-9", "Wrong password."))
	if doc.Find(`form[action="/logout"]`).Length() != 0 || doc.Find(testid("filters")).Length() != 0 {
		t.Error("sign-out form or filter bar shown without auth or filters")
	}
	if got := text(one(t, doc, testid("footer-tz"))); got != "UTC" {
		t.Errorf("footer zone %q, want UTC for an empty zone", got)
	}
	form := one(t, doc, testid("login-form"))
	if got := form.Find(`input[name="_csrf"]`).AttrOr("value", ""); got != "tok-9" {
		t.Errorf("login CSRF %q", got)
	}
	if got := form.Find(`input[name="next"]`).AttrOr("value", ""); got != "/compare" {
		t.Errorf("next %q", got)
	}
	if got := text(one(t, doc, testid("login-error"))); got != "Wrong password." {
		t.Errorf("login error %q", got)
	}
}

func TestChartCard(t *testing.T) {
	ch := Chart{ID: "active-users", Title: "Active users by assistant", Note: "Distinct people per week.",
		Options: map[string]any{"series": []any{}}, CSV: "/api/v1/series?metric=active_users&format=csv",
		Schedule: "/exports/new?kind=series", Table: Table{Head: []string{"period", "ChatGPT"}, Rows: [][]string{{"2026-03-02", "1,204"}}}}
	doc := render(t, ChartCard(ch))
	card := one(t, doc, testid("chart-active-users"))
	if got := text(card.Find("h2")); got != ch.Title {
		t.Errorf("title %q", got)
	}
	if got := text(card.Find(".note")); got != ch.Note {
		t.Errorf("note %q", got)
	}
	if got := one(t, doc, testid("csv-active-users")).AttrOr("href", ""); got != ch.CSV {
		t.Errorf("CSV link %q", got)
	}
	if got := one(t, doc, testid("schedule-active-users")).AttrOr("href", ""); got != ch.Schedule {
		t.Errorf("schedule link %q", got)
	}
	one(t, doc, `div.chart#active-users[data-chart="active-users-options"]`)
	if got := one(t, doc, `script#active-users-options`).AttrOr("type", ""); got != "application/json" {
		t.Errorf("options script type %q", got)
	}
	if got := text(one(t, doc, testid("table-active-users")).Find("tbody td")); got != "1,204" {
		t.Errorf("table cell %q", got)
	}

	// No schedule link in the model: none on the card.
	ch.Schedule = ""
	if render(t, ChartCard(ch)).Find(testid("schedule-active-users")).Length() != 0 {
		t.Error("a schedule link without one in the model")
	}
}

func TestChartCardEmptyAndFailed(t *testing.T) {
	empty := Chart{ID: "mix", Title: "Channel mix", CSV: "/api/v1/series?format=csv", Empty: "No events on Telegram."}
	doc := render(t, ChartCard(empty))
	if got := text(one(t, doc, testid("chart-empty"))); got != "No events on Telegram." {
		t.Errorf("empty message %q", got)
	}
	if doc.Find(".chart").Length() != 0 || doc.Find("table").Length() != 0 {
		t.Error("an empty card draws a chart or a table")
	}
	if doc.Find(testid("csv-mix")).Length() != 1 {
		t.Error("an empty card lost its CSV link")
	}

	failed := Failed("mix", "Channel mix", errors.New("the query took longer than 20 s"))
	failed.CSV = "/api/v1/series?format=csv"
	doc = render(t, ChartCard(failed))
	if got := text(one(t, doc, testid("chart-error"))); got != "This chart could not be loaded: the query took longer than 20 s" {
		t.Errorf("failed message %q", got)
	}
	if doc.Find(testid("csv-mix")).Length() != 0 {
		t.Error("a failed card offers its CSV")
	}
	if got := text(one(t, doc, "h2")); got != "Channel mix" {
		t.Errorf("failed card title %q", got)
	}
}

func TestDataTable(t *testing.T) {
	tb := Table{Head: []string{"period", "ChatGPT", "Meta AI"}, Rows: [][]string{{"2026-03-02", "10", "20"}, {"2026-03-09", "11", "21"}}}
	doc := render(t, DataTable(tb, "x"))
	table := one(t, doc, testid("table-x"))
	var head []string
	table.Find("thead th").Each(func(_ int, s *goquery.Selection) { head = append(head, s.Text()) })
	if strings.Join(head, "|") != "period|ChatGPT|Meta AI" {
		t.Errorf("head %q", head)
	}
	rows := table.Find("tbody tr")
	if rows.Length() != 2 {
		t.Fatalf("%d rows, want 2", rows.Length())
	}
	r := rows.Eq(1)
	if got := r.Find(`th[scope="row"]`).Text(); got != "2026-03-09" {
		t.Errorf("row head %q", got)
	}
	if a, b := r.Find("td").Eq(0).Text(), r.Find("td").Eq(1).Text(); a != "11" || b != "21" || r.Find("td").Length() != 2 {
		t.Errorf("row cells %q %q", a, b)
	}
}

func TestKPITiles(t *testing.T) {
	kpis := []KPI{{
		Assistant: "meta_ai",
		DAU:       KPIFigure{Value: 12345, Previous: 10000, Period: "Tue 1 Dec 2026", PrevPeriod: "Mon 30 Nov", From: "2026-12-01", To: "2026-12-01", Change: 23.4, HasChange: true},
		WAU:       KPIFigure{Value: 900, Previous: 1000, Period: "23–29 Nov 2026", PrevPeriod: "16–22 Nov", From: "2026-11-23", To: "2026-11-29", Change: -10, HasChange: true},
		MAU:       KPIFigure{Value: 5000, Period: "November 2026", PrevPeriod: "October", From: "2026-11-01", To: "2026-11-30"},
		Stickiness: KPIFigure{Value: 31.2, Previous: 30, Percent: true, Period: "November 2026", PrevPeriod: "October",
			Change: 1.2, HasChange: true, Points: true},
	}}
	doc := render(t, KPITiles(kpis, ""))
	tile := one(t, doc, testid("kpi-meta_ai"))
	if got := text(tile.Find("h2")); got != "Meta AI" {
		t.Errorf("tile name %q", got)
	}
	dau := tile.Find(testid("kpi-dau"))
	if got := text(dau.Find(testid("kpi-dau-value"))); got != "12,345" {
		t.Errorf("DAU %q", got)
	}
	if got := dau.Find(testid("kpi-dau-value")).AttrOr("data-value", ""); got != "12345" {
		t.Errorf("DAU data-value %q", got)
	}
	if dau.AttrOr("data-from", "") != "2026-12-01" || text(dau.Find(testid("kpi-period"))) != "Tue 1 Dec 2026" {
		t.Errorf("DAU period %q from %q", text(dau.Find(testid("kpi-period"))), dau.AttrOr("data-from", ""))
	}
	up := dau.Find(testid("kpi-change"))
	if !up.HasClass("up") || text(up) != "▲ +23.4 % vs Mon 30 Nov (10,000)" {
		t.Errorf("DAU change %q (class %q)", text(up), up.AttrOr("class", ""))
	}
	down := tile.Find(testid("kpi-wau")).Find(testid("kpi-change"))
	if !down.HasClass("down") || text(down) != "▼ -10.0 % vs 16–22 Nov (1,000)" {
		t.Errorf("WAU change %q (class %q)", text(down), down.AttrOr("class", ""))
	}
	if got := text(tile.Find(testid("kpi-mau")).Find(testid("kpi-change"))); got != "no data for October" {
		t.Errorf("MAU without a previous month %q", got)
	}
	if got := text(tile.Find(testid("kpi-stickiness-value"))); got != "31.2 %" {
		t.Errorf("stickiness %q", got)
	}
	// A ratio's change is in percentage points, never a relative change.
	if got := text(tile.Find(testid("kpi-stickiness")).Find(testid("kpi-change"))); got != "▲ +1.2 pp vs October (30.0 %)" {
		t.Errorf("stickiness change %q", got)
	}

	doc = render(t, KPITiles(nil, "the store did not answer"))
	if got := text(one(t, doc, testid("kpi-error"))); got != "The figures could not be loaded: the store did not answer" {
		t.Errorf("KPI error %q", got)
	}
}

func TestOverviewPage(t *testing.T) {
	v := OverviewView{
		KPIs:   []KPI{{Assistant: "chatgpt", DAU: KPIFigure{Value: 7}}},
		Active: Chart{ID: "active-users", Title: "Active users by assistant", Table: Table{Head: []string{"period"}}},
		Mix:    Chart{ID: "channel-mix", Title: "Channel mix", Empty: "Nothing to show for this slice."},
	}
	doc := render(t, OverviewPage(v))
	if got := text(one(t, doc, testid("kpi-dau-value"))); got != "7" {
		t.Errorf("DAU %q", got)
	}
	one(t, doc, testid("chart-active-users"))
	if got := text(one(t, doc, testid("chart-channel-mix")).Find(testid("chart-empty"))); got != v.Mix.Empty {
		t.Errorf("mix empty %q", got)
	}
}

func TestAnnotationsPage(t *testing.T) {
	v := AnnotationsView{
		Admin: true, CSRF: "tok-7", Kinds: []string{"launch", "shutdown", "detected", "other"}, AcceptKinds: []string{"launch", "other"},
		Assistants: []string{"meta_ai"}, Channels: []string{"whatsapp"},
		List: []Annotation{
			{ID: "a1", Start: "2026-01-15", End: "2026-01-31", Title: "Meta AI leaves WhatsApp", Text: "Policy change", Assistant: "meta_ai", Channel: "whatsapp", Kind: "shutdown", RealWorld: true},
			{ID: "a2", Start: "2026-02-01", Title: "Synthetic launch", Kind: "launch"},
		},
		Breaks: []Break{{ID: "b1", Day: "2026-03-04", RangeStart: "2026-03-03", RangeEnd: "2026-03-05", Assistant: "chatgpt", Channel: "telegram",
			Title: "ChatGPT on Telegram: -120 people a day", Text: "A level change."}},
		Form: Annotation{Kind: "other"},
	}
	doc := render(t, AnnotationsPage(v))
	rows := doc.Find(testid("annotation-row"))
	if rows.Length() != 2 {
		t.Fatalf("%d annotation rows, want 2", rows.Length())
	}
	cells := rows.Eq(0).Find("td")
	if got := text(cells.Eq(0)); got != "2026-01-15 – 2026-01-31" {
		t.Errorf("date range %q", got)
	}
	if got := text(rows.Eq(0).Find(testid("annotation-title"))); got != "Meta AI leaves WhatsApp" {
		t.Errorf("title %q", got)
	}
	if got := text(cells.Eq(3)); got != "Meta AI on WhatsApp" {
		t.Errorf("scope %q", got)
	}
	if got := text(rows.Eq(1).Find("td").Eq(3)); got != "all" {
		t.Errorf("scope of an unscoped annotation %q", got)
	}
	if rows.Eq(1).Find(".badge.demo").Length() != 1 {
		t.Error("a synthetic annotation without its badge")
	}
	del := rows.Eq(0).Find(`form[action="/annotations/a1/delete"] input[name="_csrf"]`)
	if del.AttrOr("value", "") != "tok-7" {
		t.Errorf("delete form CSRF %q", del.AttrOr("value", ""))
	}
	if got := one(t, doc, testid("annotation-form")).Find(`input[name="_csrf"]`).AttrOr("value", ""); got != "tok-7" {
		t.Errorf("form CSRF %q", got)
	}

	br := one(t, doc, testid("break-row"))
	if got := text(br.Find("td").Eq(0)); got != "2026-03-04 (2026-03-03 – 2026-03-05)" {
		t.Errorf("break day %q", got)
	}
	if got := text(br.Find(testid("break-title"))); got != v.Breaks[0].Title {
		t.Errorf("break title %q", got)
	}
	var kinds []string
	br.Find(`select[name="kind"] option`).Each(func(_ int, s *goquery.Selection) { kinds = append(kinds, s.AttrOr("value", "")) })
	if strings.Join(kinds, ",") != "launch,other" {
		t.Errorf("a break may become %q, want the model's AcceptKinds", kinds)
	}

	// A viewer sees neither actions nor the form.
	v.Admin = false
	doc = render(t, AnnotationsPage(v))
	if doc.Find(`input[name="_csrf"]`).Length() != 0 || doc.Find(testid("annotation-form")).Length() != 0 {
		t.Error("a viewer gets forms")
	}
}

func TestExportsPage(t *testing.T) {
	next := time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)
	v := ExportsView{Admin: true, CSRF: "tok-3", List: []Export{{ID: "e 1", Name: "weekly_users", ScheduleWords: "at 06:00 on Monday",
		Range: "last_28_days", Timezone: "Europe/Paris", NextRun: &next,
		LastRun: &ExportRun{Status: "failed", StatusClass: "status failed", StartedAt: time.Date(2026, 11, 30, 5, 0, 1, 0, time.UTC)}}}}
	doc := render(t, ExportsPage(v))
	row := one(t, doc, testid("export-row"))
	if got := one(t, doc, testid("export-name")).AttrOr("href", ""); got != "/exports/e%201" {
		t.Errorf("export link %q", got)
	}
	if got := text(row.Find(testid("export-schedule"))); got != "at 06:00 on Monday" {
		t.Errorf("schedule %q", got)
	}
	// Every time in the page's one zone, named in the column heads.
	if got := text(row.Find(testid("export-next"))); got != "Mon 2026-12-07 05:00 UTC" {
		t.Errorf("next run %q, want it in the page's zone", got)
	}
	if got := text(row.Find(testid("export-last"))); got != "failed Mon 2026-11-30 05:00 UTC" {
		t.Errorf("last run %q", got)
	}
	v.Zone = "Europe/Paris"
	doc = render(t, ExportsPage(v))
	if a, b := text(doc.Find(testid("export-next"))), text(doc.Find(testid("export-last"))); a != "Mon 2026-12-07 06:00 CET" || b != "failed Mon 2026-11-30 06:00 CET" {
		t.Errorf("in Europe/Paris: next %q, last %q", a, b)
	}
	if !strings.Contains(doc.Find("thead").Text(), "Next run (Europe/Paris)") {
		t.Errorf("the zone is not named: %q", doc.Find("thead").Text())
	}
	if row.Find(".status.failed").Length() != 1 {
		t.Error("the last run lost its status class")
	}
	if got := row.Find(`form[action="/exports/e%201/run"] input[name="_csrf"]`).AttrOr("value", ""); got != "tok-3" {
		t.Errorf("run form CSRF %q", got)
	}
}

func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{FormatInt(0), "0"},
		{FormatInt(999), "999"},
		{FormatInt(1234567), "1,234,567"},
		{FormatInt(-1234.4), "-1,234"},
		{FormatPercent(12.345), "12.3 %"},
		{FormatRaw(0.125), "0.125"},
		{FormatBytes(512), "512 B"},
		{FormatBytes(1536), "1.5 KiB"},
		{FormatBytes(3 << 20), "3.0 MiB"},
		{Label("meta_ai"), "Meta AI"},
		{Label("two_words"), "Two words"},
		{Label(""), "(none)"},
		{PeriodLabel(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), "week"), "2026-11-30"},
		{PeriodLabel(time.Date(2026, 12, 3, 15, 0, 0, 0, time.UTC), "month"), "2026-12-01"},
		{ColorOf("ChatGPT on WhatsApp"), ColorOf("chatgpt")},
		{ColorOf("Meta AI" + PreviousSuffix), ColorOf("meta_ai")},
		{ColorOf("Meta AI" + YearSuffix), ColorOf("meta_ai")},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestRetentionOptions: a cell's value is its rate and its fill follows
// it alone; small cohorts and incomplete periods are marked by borders,
// never by opacity.
func TestRetentionOptions(t *testing.T) {
	rows := []CohortRow{{Label: "2026-03-02 (120)"}, {Label: "2026-03-09 (12) †"}}
	cells := []RetentionCell{
		{X: 0, Y: 0, Pct: 100, Cohort: "2026-03-02", Size: "120", Offset: "0 weeks since", Users: "120"},
		{X: 1, Y: 0, Pct: 41.66, Incomplete: true, Cohort: "2026-03-02", Size: "120", Offset: "1 weeks since", Users: "50", Note: "week not over"},
		{X: 0, Y: 1, Pct: 100, Small: true, Cohort: "2026-03-09", Size: "12", Offset: "0 weeks since", Users: "12", Note: "small cohort"},
	}
	o := RetentionOptions([]string{"0", "1"}, "weeks", rows, cells)
	ys := AsSlice(AsSlice(o["yAxis"])[0].(map[string]any)["data"])
	if ys[0] != "2026-03-02 (120)" || ys[1] != "2026-03-09 (12) †" {
		t.Errorf("row labels %v, want plain labels (a small cohort is not muted)", ys)
	}
	data := AsSlice(AsSlice(o["series"])[0].(map[string]any)["data"])
	if len(data) != 3 {
		t.Fatalf("%d cells, want 3", len(data))
	}
	for i, want := range []float64{100, 41.7, 100} {
		if v := data[i].(map[string]any)["value"].([]any); v[2] != want {
			t.Errorf("cell %d value %v, want the rate %v", i, v[2], want)
		}
		if st, _ := asMap(data[i].(map[string]any)["itemStyle"]); st["opacity"] != nil {
			t.Errorf("cell %d has opacity %v: the fill must be the rate's colour alone", i, st["opacity"])
		}
	}
	if st, _ := asMap(data[1].(map[string]any)["itemStyle"]); st["borderType"] != "dashed" {
		t.Errorf("incomplete cell style %v, want dashed", st)
	}
	if st, _ := asMap(data[2].(map[string]any)["itemStyle"]); st["borderType"] != "dotted" {
		t.Errorf("small cohort cell style %v, want a dotted outline", st)
	}
	meta, _ := asMap(o["adoptscope"])
	cell, _ := asMap(mapOf(meta["cells"])["1,0"])
	if cell["users"] != "50" || cell["note"] != "week not over" {
		t.Errorf("tooltip of cell 1,0: %v", cell)
	}
}

// mapOf is asMap without its ok.
func mapOf(x any) map[string]any {
	m, _ := asMap(x)
	return m
}

func TestChannelPage(t *testing.T) {
	v := ChannelView{Channel: "telegram", Channels: []string{"whatsapp", "telegram"},
		Hidden: url.Values{"tz": {"UTC"}, "range": {"12m"}, "interval": {"week"}, "compare": {"previous"}}, OverlapURL: "/overlap?channel=telegram",
		Share: Chart{ID: "channel-share", Title: "Share of Telegram users by assistant", Empty: "No events on Telegram."}}
	doc := render(t, ChannelPage(v))
	var names []string
	one(t, doc, testid("channel-picker")).Find(`input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		names = append(names, s.AttrOr("name", "")+"="+s.AttrOr("value", ""))
	})
	if got := strings.Join(names, "&"); got != "compare=previous&interval=week&range=12m&tz=UTC" {
		t.Errorf("hidden fields %q, want the model's, by name", got)
	}
	if got := one(t, doc, testid("focus-channel")).Find("option[selected]").AttrOr("value", ""); got != "telegram" {
		t.Errorf("selected channel %q", got)
	}
	if got := one(t, doc, testid("channel-overlap-link")).AttrOr("href", ""); got != v.OverlapURL {
		t.Errorf("overlap link %q", got)
	}
	one(t, doc, testid("chart-channel-share"))
}
