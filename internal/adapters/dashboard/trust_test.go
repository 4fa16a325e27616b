package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/views"
)

// The numbers below are counted in plain Go over the events the test
// wrote, never by package query.

// distinctUsers counts the distinct people of the events kept by keep on
// the days [from, to] (UTC dates).
func distinctUsers(evs []ev, from, to string, keep func(ev) bool) int {
	seen := map[uint64]bool{}
	for _, e := range evs {
		d := e.day.Format(catalog.DateLayout)
		if d >= from && d <= to && keep(e) {
			seen[e.user] = true
		}
	}
	return len(seen)
}

func isAssistant(a string) func(ev) bool { return func(e ev) bool { return e.assistant == a } }

// chartOptions reads the ECharts options a chart card embeds.
func chartOptions(t *testing.T, doc *goquery.Document, id string) map[string]any {
	t.Helper()
	raw := doc.Find(`script#` + id + `-options`).Text()
	if raw == "" {
		t.Fatalf("chart %s has no options", id)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(raw), &o); err != nil {
		t.Fatalf("chart %s options: %v", id, err)
	}
	return o
}

func dataValue(t *testing.T, s *goquery.Selection) float64 {
	t.Helper()
	v, ok := s.Attr("data-value")
	if !ok {
		t.Fatalf("no data-value in %s", s.Text())
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("data-value %q", v)
	}
	return f
}

// TestKPITiles: on 2026-02-11 (a Wednesday; the data ends on 2026-02-10),
// each tile says yesterday's DAU (2026-02-10), the last complete week's WAU
// (2–8 February), the last complete month's MAU (January) and January's
// stickiness, with the dates in the tile and the change against the period
// before, whatever range the page shows.
func TestKPITiles(t *testing.T) {
	app := newTestApp(t, nil, true)
	evs := smallDataSet()
	_, doc, body := get(t, nil, app.srv.URL+"/?range=7d&interval=day")
	tile := doc.Find(tid("kpi-chatgpt"))
	if tile.Length() != 1 {
		t.Fatalf("no ChatGPT tile: %.400s", body)
	}
	gpt := isAssistant("chatgpt")
	for _, c := range []struct {
		id, from, to, prevFrom, prevTo, words string
	}{
		// A Tuesday against the Tuesday a week before, not the Monday.
		{"kpi-dau", "2026-02-10", "2026-02-10", "2026-02-03", "2026-02-03", "Tue 10 Feb 2026"},
		{"kpi-wau", "2026-02-02", "2026-02-08", "2026-01-26", "2026-02-01", "2–8 Feb 2026"},
		{"kpi-mau", "2026-01-01", "2026-01-31", "2025-12-01", "2025-12-31", "January 2026"},
	} {
		k := tile.Find(tid(c.id))
		if k.AttrOr("data-from", "") != c.from || k.AttrOr("data-to", "") != c.to {
			t.Errorf("%s covers %s..%s, want %s..%s", c.id, k.AttrOr("data-from", ""), k.AttrOr("data-to", ""), c.from, c.to)
		}
		if got := k.Find(tid("kpi-period")).Text(); got != c.words {
			t.Errorf("%s period %q, want %q", c.id, got, c.words)
		}
		want := float64(distinctUsers(evs, c.from, c.to, gpt))
		if got := dataValue(t, k.Find(tid(c.id+"-value"))); got != want {
			t.Errorf("%s = %v, want %v", c.id, got, want)
		}
		prev := float64(distinctUsers(evs, c.prevFrom, c.prevTo, gpt))
		ch := k.Find(tid("kpi-change"))
		if prev == 0 {
			if _, ok := ch.Attr("data-value"); ok || !strings.Contains(ch.Text(), "no data for") {
				t.Errorf("%s: no previous data, change shown as %q", c.id, ch.Text())
			}
			continue
		}
		wantChange := math.Round((want-prev)/prev*10000) / 100
		if got := dataValue(t, ch); math.Abs(got-wantChange) > 0.006 {
			t.Errorf("%s change %v, want %v (%v against %v)", c.id, got, wantChange, want, prev)
		}
	}
	// Stickiness: January's mean daily people divided by January's people.
	sum := 0
	for d := day("2026-01-01"); !d.After(day("2026-01-31")); d = d.AddDate(0, 0, 1) {
		s := d.Format(catalog.DateLayout)
		sum += distinctUsers(evs, s, s, gpt)
	}
	mau := float64(distinctUsers(evs, "2026-01-01", "2026-01-31", gpt))
	want := float64(sum) / 31 / mau * 100
	if got := dataValue(t, tile.Find(tid("kpi-stickiness-value"))); math.Abs(got-want) > 0.01 {
		t.Errorf("stickiness %v %%, want %v %%", got, want)
	}
	if got := tile.Find(tid("kpi-dau")).Find(tid("kpi-change")).Text(); !strings.Contains(got, "vs Tue 3 Feb") {
		t.Errorf("DAU change %q: want it against Tue 3 Feb", got)
	}
	// December has nobody: no stickiness change (and never a relative one).
	if got := tile.Find(tid("kpi-stickiness")).Find(tid("kpi-change")).Text(); got != "no data for December" {
		t.Errorf("stickiness change %q", got)
	}
	if doc.Find(tid("kpi-meta_ai")).Length() != 1 || doc.Find(tid("kpis")+" .tile").Length() != 2 {
		t.Errorf("want the ChatGPT and Meta AI tiles, got %d tiles", doc.Find(tid("kpis")+" .tile").Length())
	}
}

// TestIncompletePeriodDotted: the week of 9 February has two observed
// days (the data ends on the 10th); it is drawn dotted with the days
// observed in its tooltip note and its table row, and the week after the
// data's end is not drawn at all.
func TestIncompletePeriodDotted(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/?range=custom&from=2026-01-26&to=2026-02-20&interval=week")
	o := chartOptions(t, doc, "active-users")
	xs := views.AsSlice(views.AsSlice(o["xAxis"])[0].(map[string]any)["data"])
	var periods []string
	for _, x := range xs {
		periods = append(periods, x.(string))
	}
	if strings.Join(periods, ",") != "2026-01-26,2026-02-02,2026-02-09" {
		t.Errorf("periods %v: want the three weeks up to the data's end, none after", periods)
	}
	meta, _ := o["adoptscope"].(map[string]any)
	inc, _ := meta["incomplete"].(map[string]any)
	if len(inc) != 1 || !strings.HasPrefix(inc["2026-02-09"].(string), "Incomplete week: 2 of 7 days observed") {
		t.Errorf("incomplete notes %v", inc)
	}
	dotted := 0
	for _, s := range views.AsSlice(o["series"]) {
		m := s.(map[string]any)
		ls, _ := m["lineStyle"].(map[string]any)
		if ls["type"] != "dotted" {
			continue
		}
		dotted++
		data := views.AsSlice(m["data"])
		if data[0] != nil || data[1] == nil || data[2] == nil {
			t.Errorf("%s: the dotted stretch should join the last complete week to the incomplete one: %v", m["name"], data)
		}
	}
	if dotted != 2 {
		t.Errorf("%d dotted stretches, want one per assistant (2)", dotted)
	}
	col := column(t, doc, "active-users", "ChatGPT")
	found := false
	for k := range col {
		if strings.HasPrefix(k, "2026-02-09 (incomplete week: 2 of 7 days observed") {
			found = true
		}
	}
	if !found {
		t.Errorf("the table does not mark the incomplete week: %v", col)
	}
}

// TestCompareTableLastCompletePeriod: the "last period" table is the last
// complete week unless partial=include asks for the incomplete one.
func TestCompareTableLastCompletePeriod(t *testing.T) {
	app := newTestApp(t, nil, true)
	evs := smallDataSet()
	for _, c := range []struct {
		q, from, to string
	}{
		{"", "2026-02-02", "2026-02-08"},
		{"&partial=include", "2026-02-09", "2026-02-10"},
	} {
		_, doc, _ := get(t, nil, app.srv.URL+"/compare?range=custom&from=2026-01-26&to=2026-02-11&interval=week"+c.q)
		card := doc.Find(tid("chart-compare-table"))
		if !strings.Contains(card.Find(".note").Text(), "week "+c.from) {
			t.Errorf("%q: note %q, want the week of %s", c.q, card.Find(".note").Text(), c.from)
		}
		got := map[string]string{}
		card.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
			cells := tr.Children()
			got[cells.Eq(0).Text()+" on "+cells.Eq(1).Text()] = cells.Eq(2).Text()
		})
		for _, k := range []struct{ a, ch string }{{"chatgpt", "ios"}, {"meta_ai", "whatsapp"}} {
			want := views.FormatInt(float64(distinctUsers(evs, c.from, c.to, func(e ev) bool { return e.assistant == k.a && e.channel == k.ch })))
			if g := got[views.Label(k.a)+" on "+views.Label(k.ch)]; g != want {
				t.Errorf("%q: %s on %s = %q, want %s", c.q, k.a, k.ch, g, want)
			}
		}
	}
}

// TestShareUnderAssistantFilter: with assistant=meta_ai the Channel page
// draws only Meta AI, and its share is of all WhatsApp people, not of Meta
// AI's own.
func TestShareUnderAssistantFilter(t *testing.T) {
	evs := smallDataSet()
	// A ChatGPT user on WhatsApp in February, so the channel has people
	// beside Meta AI's.
	for d := day("2026-02-02"); !d.After(day("2026-02-08")); d = d.AddDate(0, 0, 1) {
		evs = append(evs, ev{day: d, assistant: "chatgpt", channel: "whatsapp", user: 99, modality: "text", source: "panel"})
	}
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/channel?focus=whatsapp&range=custom&from=2026-01-19&to=2026-02-08&interval=week&assistant=meta_ai")
	col := column(t, doc, "channel-share", "Meta AI")
	wa := func(e ev) bool { return e.channel == "whatsapp" }
	for _, monday := range []string{"2026-01-19", "2026-01-26", "2026-02-02"} {
		sunday := day(monday).AddDate(0, 0, 6).Format(catalog.DateLayout)
		meta := distinctUsers(evs, monday, sunday, func(e ev) bool { return e.channel == "whatsapp" && e.assistant == "meta_ai" })
		all := distinctUsers(evs, monday, sunday, wa)
		want := views.FormatPercent(float64(meta) / float64(all) * 100)
		if col[monday] != want {
			t.Errorf("week %s: Meta AI share %q, want %s (%d of %d)", monday, col[monday], want, meta, all)
		}
	}
	if col["2026-02-02"] == "100.0 %" {
		t.Error("the assistant filter became the denominator")
	}
	if !strings.Contains(doc.Find(tid("channel-overlap-note")).Text(), "past 100 %") {
		t.Error("no note that shares can add up past 100 %")
	}
}

// TestPlatformDependency: WhatsApp is Meta's, so Meta AI has no dependency
// there and ChatGPT does; the CSV holds the counts and the percentage.
func TestPlatformDependency(t *testing.T) {
	app := newTestApp(t, nil, true)
	evs := smallDataSet()
	q := "range=custom&from=2026-01-05&to=2026-01-18&interval=week"
	_, doc, _ := get(t, nil, app.srv.URL+"/channel?focus=whatsapp&"+q)
	href := doc.Find(tid("csv-platform-dependency")).AttrOr("href", "")
	if !strings.HasPrefix(href, "/channel/dependency.csv?") {
		t.Fatalf("dependency CSV link %q", href)
	}
	resp, err := http.Get(app.srv.URL + href)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CSV: %d %v %s", resp.StatusCode, err, b)
	}
	// Named as a scheduled file is: name, first and last day, and
	// _synthetic (the data set holds demo events).
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="platform_dependency_2026-01-05_2026-01-18_synthetic.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if strings.Join(recs[0], ",") != "period,assistant,dependent_channels,dependent_users,users,dependent_pct,also_on_own_users,only_dependent_users,only_dependent_pct,only_on,complete" {
		t.Fatalf("header %v", recs[0])
	}
	got := map[string][]string{}
	for _, r := range recs[1:] {
		got[r[0]+" "+r[1]] = r
	}
	for _, monday := range []string{"2026-01-05", "2026-01-12"} {
		sunday := day(monday).AddDate(0, 0, 6).Format(catalog.DateLayout)
		third := map[string]bool{"whatsapp": true, "messenger": true, "instagram": true, "telegram": true}
		dep := distinctUsers(evs, monday, sunday, func(e ev) bool { return e.assistant == "chatgpt" && third[e.channel] })
		all := distinctUsers(evs, monday, sunday, isAssistant("chatgpt"))
		r := got[monday+" chatgpt"]
		wantPct := strconv.FormatFloat(math.Round(float64(dep)/float64(all)*10000)/100, 'f', -1, 64)
		if r == nil || r[2] != "instagram messenger telegram whatsapp" || r[3] != strconv.Itoa(dep) || r[4] != strconv.Itoa(all) || r[5] != wantPct || r[10] != "true" {
			t.Errorf("chatgpt %s: %v, want %d of %d (%s %%)", monday, r, dep, all, wantPct)
		}
		// Only on third-party channels: every ChatGPT channel of the
		// person in the week is one, counted person by person.
		chans := map[uint64]map[string]bool{}
		for _, e := range evs {
			if ds := e.day.Format(catalog.DateLayout); e.assistant == "chatgpt" && ds >= monday && ds <= sunday {
				if chans[e.user] == nil {
					chans[e.user] = map[string]bool{}
				}
				chans[e.user][e.channel] = true
			}
		}
		only := 0
		for _, cs := range chans {
			all3 := true
			for c := range cs {
				all3 = all3 && third[c]
			}
			if all3 {
				only++
			}
		}
		if r != nil && (r[6] != strconv.Itoa(dep-only) || r[7] != strconv.Itoa(only)) {
			t.Errorf("chatgpt %s: also on own %s, only %s; want %d and %d", monday, r[6], r[7], dep-only, only)
		}
		if monday == "2026-01-12" {
			cell := doc.Find(tid("dependency-only-row") + `[data-assistant=chatgpt] ` + tid("dependency-only-value"))
			if cell.AttrOr("data-people", "") != strconv.Itoa(only) {
				t.Errorf("page: chatgpt only-on people %q, want %d (%s)", cell.AttrOr("data-people", ""), only, cell.Text())
			}
		}
		m := got[monday+" meta_ai"]
		if m == nil || m[2] != "telegram" || m[3] != "0" || m[5] != "0" {
			t.Errorf("meta_ai %s: %v: WhatsApp is Meta's own channel", monday, m)
		}
	}
	if !strings.Contains(doc.Find(tid("chart-platform-dependency")+" .note").Text(), "Meta AI (Meta): Telegram") {
		t.Errorf("note %q", doc.Find(tid("chart-platform-dependency")+" .note").Text())
	}
}

// migrationData: the small data set plus user 8, on ChatGPT Web both
// before and after 15 January (already there), and user 11, on ChatGPT
// WhatsApp before and on Web after only.
func migrationData() []ev {
	evs := smallDataSet()
	for d := day("2025-12-20"); !d.After(day("2026-02-10")); d = d.AddDate(0, 0, 3) {
		evs = append(evs, ev{day: d, assistant: "chatgpt", channel: "web", user: 8, modality: "text", source: "panel"})
	}
	for d := day("2026-01-02"); !d.After(day("2026-01-14")); d = d.AddDate(0, 0, 1) {
		evs = append(evs, ev{day: d, assistant: "chatgpt", channel: "whatsapp", user: 11, modality: "text", linked: true, source: "panel"})
	}
	for d := day("2026-01-20"); !d.After(day("2026-02-01")); d = d.AddDate(0, 0, 1) {
		evs = append(evs, ev{day: d, assistant: "chatgpt", channel: "web", user: 11, modality: "text", source: "panel"})
	}
	return evs
}

// outcomesOf computes, in plain Go, the migration of the people on
// (assistant, channel) in [date-before, date) over [date, date+after): one
// outcome each, with who had linked an account before the date.
func outcomesOf(evs []ev, assistant, channel, date string, before, after int) (cohort, linked int, out map[string][2]int) {
	d := day(date)
	start, end := d.AddDate(0, 0, -before), d.AddDate(0, 0, after)
	members := map[uint64]bool{}
	isLinked := map[uint64]bool{}
	for _, e := range evs {
		if e.assistant == assistant && e.channel == channel && !e.day.Before(start) && e.day.Before(d) {
			members[e.user] = true
		}
		if e.assistant == assistant && e.linked && e.day.Before(d) {
			isLinked[e.user] = true
		}
	}
	out = map[string][2]int{}
	for u := range members {
		if isLinked[u] {
			linked++
		}
		// Events per place in the after window, and places seen before.
		per := map[string]int{}
		seenBefore := map[string]bool{}
		for _, e := range evs {
			if e.user != u {
				continue
			}
			place := e.assistant + "/" + e.channel
			if e.day.Before(d) {
				seenBefore[place] = true
			}
			if !e.day.Before(d) && e.day.Before(end) {
				per[place] += 2 // every test event has count 2
			}
		}
		outcome := "inactive"
		if per[assistant+"/"+channel] > 0 {
			outcome = "stayed"
		} else if len(per) > 0 {
			var places []string
			for p := range per {
				places = append(places, p)
			}
			sort.Slice(places, func(i, j int) bool {
				if per[places[i]] != per[places[j]] {
					return per[places[i]] > per[places[j]]
				}
				return places[i] < places[j]
			})
			outcome = "moved " + places[0]
			if seenBefore[places[0]] {
				outcome = "already " + places[0]
			}
		}
		v := out[outcome]
		v[0]++
		if isLinked[u] {
			v[1]++
		}
		out[outcome] = v
	}
	return len(members), linked, out
}

// TestMigrationTable: outcomes split into moved (new there) and already
// there, each with its linked and not-linked people, and the baseline next
// to each.
func TestMigrationTable(t *testing.T) {
	evs := migrationData()
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, body := get(t, nil, app.srv.URL+"/impact?date=2026-01-15&source_assistant=chatgpt&source_channel=whatsapp&before_days=14&after_days=20&baseline=2026-01-08")
	table := doc.Find(tid("table-migration-table"))
	if table.Length() != 1 {
		t.Fatalf("no migration table: %.600s", body)
	}
	var head []string
	table.Find("thead th").Each(func(_ int, s *goquery.Selection) { head = append(head, s.Text()) })
	if strings.Join(head, "|") != "outcome|people|of cohort|linked|not linked|baseline 2026-01-08" {
		t.Errorf("head %v", head)
	}
	rows := map[string][]string{}
	table.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Children().Each(func(_ int, c *goquery.Selection) { cells = append(cells, c.Text()) })
		rows[cells[0]] = cells
	})
	cohort, linked, out := outcomesOf(evs, "chatgpt", "whatsapp", "2026-01-15", 14, 20)
	bCohort, _, bOut := outcomesOf(evs, "chatgpt", "whatsapp", "2026-01-08", 14, 20)
	unlinked := cohort - linked
	pct := func(n, of int) string {
		if of == 0 {
			return "–"
		}
		return views.FormatPercent(float64(n) / float64(of) * 100)
	}
	names := map[string]string{
		"stayed": "Stayed", "inactive": "Inactive",
		"moved chatgpt/ios": "Moved to ChatGPT on iOS (new there)", "moved meta_ai/whatsapp": "Moved to Meta AI on WhatsApp (new there)",
		"moved chatgpt/web": "Moved to ChatGPT on Web (new there)", "already chatgpt/web": "Already on ChatGPT on Web",
	}
	if _, ok := out["already chatgpt/web"]; !ok {
		t.Fatalf("the test data should have someone already there: %v", out)
	}
	if _, ok := out["moved chatgpt/web"]; !ok {
		t.Fatalf("the test data should have someone new on ChatGPT Web: %v", out)
	}
	check := func(name string, cells []string, n, l int, base int) {
		t.Helper()
		want := []string{name, views.FormatInt(float64(n)), pct(n, cohort), views.FormatInt(float64(l)) + " · " + pct(l, linked),
			views.FormatInt(float64(n-l)) + " · " + pct(n-l, unlinked), views.FormatInt(float64(base)) + " · " + pct(base, bCohort)}
		if strings.Join(cells, "|") != strings.Join(want, "|") {
			t.Errorf("row %s:\n got  %v\n want %v", name, cells, want)
		}
	}
	check("cohort", rows["cohort"], cohort, linked, bCohort)
	// Every outcome of the result or of the baseline has its row (zero
	// where only the other has people).
	keys := map[string]bool{}
	for k := range out {
		keys[k] = true
	}
	for k := range bOut {
		keys[k] = true
	}
	for k := range keys {
		check(names[k], rows[names[k]], out[k][0], out[k][1], bOut[k][0])
	}
	if len(rows) != len(keys)+1 {
		t.Errorf("%d rows, want cohort and %d outcomes: %v", len(rows), len(keys), rows)
	}
	// The Sankey's tooltip for each outcome carries the same split.
	o := chartOptions(t, doc, "migration-sankey")
	tips := o["adoptscope"].(map[string]any)["tips"].(map[string]any)
	v := out["already chatgpt/web"]
	tip := views.AsSlice(tips["Already on ChatGPT on Web"])
	if len(tip) < 4 || !strings.Contains(tip[2].(string), "linked: "+strconv.Itoa(v[1])) || !strings.Contains(tip[3].(string), "baseline 2026-01-08") {
		t.Errorf("tooltip %v", tip)
	}
}

// TestMigrationWindowNotOver: a date whose after window has not happened
// says how many days were observed and calls nobody inactive.
func TestMigrationWindowNotOver(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/impact?date=2026-02-05&source_assistant=meta_ai&source_channel=whatsapp&after_days=28")
	note := doc.Find(tid("chart-migration-table") + " .note").Text()
	// 5 to 10 February: 6 observed days of 28.
	if !strings.Contains(note, "Only 6 of the 28 days after 2026-02-05 are observed yet") {
		t.Errorf("note %q", note)
	}
	if strings.Contains(doc.Find(tid("table-migration-table")).Text(), "Inactive") {
		t.Error("people called inactive for days that have not happened")
	}
}

// TestUnknownFilterValue: a typo in a filter value gets the query API's
// message, with the known values, once.
func TestUnknownFilterValue(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/?assistant=chatgtp")
	errs := doc.Find(tid("filter-error"))
	want := `unknown assistant "chatgtp" (known: chatgpt, copilot, meta_ai, perplexity)`
	if errs.Length() != 1 || !strings.Contains(errs.Text(), want) {
		t.Errorf("filter errors %q, want %q", errs.Text(), want)
	}
	resp, err := http.Get(app.srv.URL + "/api/v1/series?assistant=chatgtp")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), strings.ReplaceAll(want, `"`, `\"`)) {
		t.Errorf("the query API answers %d %s; the page says %q", resp.StatusCode, b, want)
	}
}

// TestEmptyStateOnce: one hint per page; it offers the demo only on an
// empty store, and with data says which days hold events.
func TestEmptyStateOnce(t *testing.T) {
	empty := newTestApp(t, nil, false)
	_, doc, _ := get(t, nil, empty.srv.URL+"/compare")
	if n := doc.Find(tid("empty-hint")).Length(); n != 1 {
		t.Errorf("%d hints on an empty store", n)
	}
	if !strings.Contains(doc.Find(tid("empty-hint")).Text(), "adoptscope demo") {
		t.Errorf("hint %q: an empty store should say how to get data", doc.Find(tid("empty-hint")).Text())
	}
	if strings.Count(doc.Text(), "adoptscope demo") != 1 {
		t.Error("the hint is written more than once")
	}
	full := newTestApp(t, nil, true)
	_, doc, _ = get(t, nil, full.srv.URL+"/compare?range=custom&from=2025-03-01&to=2025-03-20")
	hint := doc.Find(tid("empty-hint")).Text()
	if doc.Find(tid("empty-hint")).Length() != 1 || strings.Contains(hint, "demo") || !strings.Contains(hint, "Stored events run from 2026-01-01 to 2026-02-10") {
		t.Errorf("hint %q", hint)
	}
}

// TestTimezone: tz=Europe/Paris counts Paris days (an event at 23:30 UTC
// on 20 January is on the 21st in Paris), shows the zone in the footer and
// carries it in the CSV links.
func TestTimezone(t *testing.T) {
	var evs []ev
	for u := uint64(1); u <= 5; u++ {
		evs = append(evs, ev{day: day("2026-01-20"), at: day("2026-01-20").Add(23*time.Hour + 30*time.Minute), assistant: "chatgpt", channel: "ios", user: u, modality: "text", source: "panel"})
	}
	for u := uint64(6); u <= 8; u++ {
		evs = append(evs, ev{day: day("2026-01-20"), at: day("2026-01-20").Add(12 * time.Hour), assistant: "chatgpt", channel: "ios", user: u, modality: "text", source: "panel"})
	}
	app := newTestAppEvents(t, nil, evs, nil)
	paris, _ := time.LoadLocation("Europe/Paris")
	count := func(loc *time.Location, d string) string {
		n := 0
		for _, e := range evs {
			if e.at.In(loc).Format(catalog.DateLayout) == d {
				n++
			}
		}
		return views.FormatInt(float64(n))
	}
	for _, c := range []struct {
		tz  string
		loc *time.Location
	}{{"UTC", time.UTC}, {"Europe/Paris", paris}} {
		_, doc, _ := get(t, nil, app.srv.URL+"/?range=custom&from=2026-01-19&to=2026-01-22&interval=day&tz="+url.QueryEscape(c.tz))
		if got := doc.Find(tid("footer-tz")).Text(); got != c.tz {
			t.Errorf("footer zone %q, want %s", got, c.tz)
		}
		// No zone has rollups of its own here: Paris's charts read raw
		// events, and the footer says so.
		if note := doc.Find(tid("footer-zone-note")).Text(); (c.tz == "UTC") != (note == "") || (note != "" && !strings.Contains(note, "raw events")) {
			t.Errorf("%s: footer note %q", c.tz, note)
		}
		col := column(t, doc, "active-users", "ChatGPT")
		for _, d := range []string{"2026-01-20", "2026-01-21"} {
			want := count(c.loc, d)
			if want == "0" {
				// After the data's end in this zone: not drawn, not a zero.
				want = ""
			}
			if got := col[d]; got != want {
				t.Errorf("%s %s: %q people, want %q", c.tz, d, got, want)
			}
		}
		href := doc.Find(tid("csv-active-users")).AttrOr("href", "")
		u, _ := url.Parse(href)
		if c.tz != "UTC" && u.Query().Get("tz") != c.tz {
			t.Errorf("CSV link %s without tz", href)
		}
	}
}

// TestFreshnessLine: every page says how recent the data is.
func TestFreshnessLine(t *testing.T) {
	app := newTestApp(t, nil, true)
	var last time.Time
	for i, e := range smallDataSet() {
		if ts := e.day.Add(time.Duration(10+i%8) * time.Hour); ts.After(last) {
			last = ts
		}
	}
	want := "data through " + last.Format("2006-01-02 15:04") + " UTC (charts up to date with ingest)"
	for _, p := range []string{"/", "/compare", "/channel", "/impact", "/retention", "/modalities", "/annotations", "/ingest", "/exports"} {
		_, doc, _ := get(t, nil, app.srv.URL+p)
		if got := doc.Find(tid("freshness")).Text(); got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	// "Since launch" starts at the first stored event.
	_, doc, _ := get(t, nil, app.srv.URL+"/?range=all")
	if got := doc.Find(tid("filter-from")).AttrOr("value", ""); got != "2026-01-01" {
		t.Errorf("since launch from %s, want the first event's day 2026-01-01", got)
	}
}

// TestRetentionMarks: small cohorts and periods not over are marked in the
// table; the chart is tall enough for one label per cohort.
func TestRetentionMarks(t *testing.T) {
	app := newTestApp(t, nil, true)
	evs := smallDataSet()
	_, doc, _ := get(t, nil, app.srv.URL+"/retention?range=custom&from=2025-12-29&to=2026-02-11&interval=week")
	rows := map[string][]string{}
	doc.Find(tid("table-retention") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Children().Each(func(_ int, c *goquery.Selection) { cells = append(cells, c.Text()) })
		rows[strings.SplitN(cells[0], " ", 2)[0]] = cells
	})
	// First seen (ever) in the week of 5 January: nobody (everyone starts
	// on 1 January); of 12 January: nobody; the cohort of 12 January is
	// empty. New people appear with the ios users 20+ on high days.
	first := map[uint64]time.Time{}
	for _, e := range evs {
		if f, ok := first[e.user]; !ok || e.day.Before(f) {
			first[e.user] = e.day
		}
	}
	for k, cells := range rows {
		size, _ := strconv.Atoi(strings.ReplaceAll(cells[1], ",", ""))
		n := 0
		start := day(k)
		for _, f := range first {
			if !f.Before(start) && f.Before(start.AddDate(0, 0, 7)) {
				n++
			}
		}
		if size != n {
			t.Errorf("cohort %s: %d people, want %d", k, size, n)
		}
		// The data starts on Thursday 1 January: the first cohort is
		// everyone active then, and so is most of the next week's (the
		// first was seen only in part): marked as such, not as small.
		if k == "2025-12-29" || k == "2026-01-05" {
			if !strings.Contains(cells[0], "active before the data starts") {
				t.Errorf("cohort %s: %q, want it marked active before the data starts", k, cells[0])
			}
		} else if size < smallCohort && !strings.Contains(cells[0], "small cohort") {
			t.Errorf("cohort %s of %d people not marked small", k, size)
		}
		// The week of 9 February has 2 of 7 days observed.
		if last := cells[len(cells)-1]; start.Before(day("2026-02-09")) && !strings.HasSuffix(last, "(2 of 7 days)") {
			t.Errorf("cohort %s: the incomplete week reads %q", k, last)
		}
	}
}

// TestScheduleKeepsRollingRanges: "Schedule this as CSV" on a chart shown
// for a rolling preset schedules the same rolling range, and the chart's
// zone becomes the export's own (whose days the file holds).
func TestScheduleKeepsRollingRanges(t *testing.T) {
	csvURL := "/api/v1/series?metric=active_users&interval=week&from=2025-12-01&to=2026-12-02&tz=Europe%2FParis&format=csv"
	for preset, want := range map[string]string{"7d": "last_7_days", "28d": "last_28_days", "90d": "last_90_days", "12m": "last_12_months", "custom": "since:2025-12-01"} {
		u, err := url.Parse(scheduleURL(csvURL, "Active users", preset))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Get("range") != want || q.Get("timezone") != "Europe/Paris" || strings.Contains(q.Get("query"), "tz=") {
			t.Errorf("%s: range %q timezone %q query %q; want range %s in the export's zone", preset, q.Get("range"), q.Get("timezone"), q.Get("query"), want)
		}
	}
	app := newTestApp(t, nil, false)
	_, doc, _ := get(t, nil, app.srv.URL+"/exports/new?"+url.Values{"timezone": {"Europe/Paris"}}.Encode())
	in := doc.Find(tid("export-timezone"))
	if in.AttrOr("value", "") != "Europe/Paris" || !strings.Contains(in.Parent().Text(), "of the file's data") {
		t.Errorf("export form zone %q, label %q", in.AttrOr("value", ""), in.Parent().Text())
	}
}
