package dashboard

import (
	"strings"
	"testing"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/views"
)

// TestChannelMixDrawsDistinctPeople: the stacked channel mix carries the
// distinct people of all channels, which is below the stack's top when a
// person is on two channels (computed from the test's events).
func TestChannelMixDrawsDistinctPeople(t *testing.T) {
	evs := smallDataSet()
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/?range=custom&from=2026-01-05&to=2026-01-25&interval=week")
	total := column(t, doc, "channel-mix", "Distinct people, all channels")
	below := false
	for _, monday := range []string{"2026-01-05", "2026-01-12", "2026-01-19"} {
		sunday := day(monday).AddDate(0, 0, 6).Format(catalog.DateLayout)
		want := distinctUsers(evs, monday, sunday, func(ev) bool { return true })
		stack := 0
		for _, ch := range []string{"whatsapp", "ios", "web", "android"} {
			stack += distinctUsers(evs, monday, sunday, func(e ev) bool { return e.channel == ch })
		}
		if got := total[monday]; got != views.FormatInt(float64(want)) {
			t.Errorf("week %s: distinct people %q, want %d", monday, got, want)
		}
		below = below || want < stack
	}
	if !below {
		t.Error("no week where the stack over-counts: the test does not show the line is needed")
	}
	if !strings.Contains(doc.Find(tid("chart-channel-mix")+" .note").Text(), "not a total") {
		t.Error("the note does not say the stack's top is not a total")
	}
}

// TestControlsThatActOrHide: Overlap hides the interval it does not use,
// keeping the choice for the other pages, and counts on the chosen zone's
// days (its footer names the zone); the Channel page has one channel
// control; a channel that never had data says so instead of "widen the
// dates".
func TestControlsThatActOrHide(t *testing.T) {
	app := newTestAppEvents(t, nil, smallDataSet(), nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/overlap?range=custom&from=2026-01-01&to=2026-01-31&interval=day&tz=Europe/Paris")
	if doc.Find(tid("filter-interval")).Length() != 0 {
		t.Error("Overlap still offers the interval")
	}
	if doc.Find(tid("filter-tz")).Length() != 1 {
		t.Error("Overlap does not offer the time zone it counts in")
	}
	if got := doc.Find(tid("footer-tz")).Text(); got != "Europe/Paris" {
		t.Errorf("Overlap footer names %q, want Europe/Paris (its days)", got)
	}
	if doc.Find(`form[data-testid=filters] input[type=hidden][name=interval][value="day"]`).Length() != 1 {
		t.Error("the interval chosen for the other pages is lost on Overlap")
	}
	if !strings.Contains(doc.Find(tid("filter-hidden-why")).Text(), "calendar month") {
		t.Error("Overlap does not say why the interval is hidden")
	}

	_, doc, _ = get(t, nil, app.srv.URL+"/channel?focus=whatsapp&channel=ios")
	if doc.Find(tid("filter-channels")).Length() != 0 || doc.Find(tid("focus-channel")).Length() != 1 {
		t.Error("the Channel page should have one channel control, the picker")
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/channel?channel=ios")
	if got := doc.Find(tid("focus-channel")+" option[selected]").AttrOr("value", ""); got != "ios" {
		t.Errorf("channel=ios in a link picks %q", got)
	}

	_, doc, _ = get(t, nil, app.srv.URL+"/channel?focus=sms&range=12m")
	empty := doc.Find(tid("chart-channel-share") + " " + tid("chart-empty")).Text()
	if !strings.Contains(empty, "never had an event") {
		t.Errorf("a channel without any event: %q", empty)
	}
	if strings.Contains(doc.Find(tid("empty-hint")).Text(), "Widen the dates") {
		t.Errorf("the page still advises widening the dates: %q", doc.Find(tid("empty-hint")).Text())
	}
}

// TestIngestShowsStoredEvents: the Ingest page counts every stored event,
// whoever wrote it (here straight into the table, as a load by another
// process would), not only what its own pipeline accepted.
func TestIngestShowsStoredEvents(t *testing.T) {
	evs := smallDataSet()
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/ingest")
	if got, want := doc.Find(tid("ingest-stored")).Text(), views.FormatInt(float64(len(evs))); got != want {
		t.Errorf("stored in all %q, want %s", got, want)
	}
}

// TestCountryFilterListsCountriesPresent: the filter bar offers the
// countries of the dates and assistants with their people (every test
// event is in Brazil), checked as the URL says; a code of the URL with no
// one in the range stays offered, checked, with 0 people.
func TestCountryFilterListsCountriesPresent(t *testing.T) {
	evs := smallDataSet()
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/?range=custom&from=2026-01-05&to=2026-01-18&assistant=chatgpt&country=BR,IN")
	boxes := doc.Find(tid("filter-countries") + " label")
	if boxes.Length() != 2 {
		t.Fatalf("%d countries offered, want Brazil and India: %q", boxes.Length(), doc.Find(tid("filter-countries")).Text())
	}
	want := distinctUsers(evs, "2026-01-05", "2026-01-18", isAssistant("chatgpt"))
	for i, w := range []struct{ code, name, people string }{{"BR", "Brazil", views.FormatInt(float64(want))}, {"IN", "India", "0"}} {
		l := boxes.Eq(i)
		in := l.Find("input")
		_, checked := in.Attr("checked")
		if in.AttrOr("value", "") != w.code || !checked || !strings.Contains(l.Text(), w.name) || l.Find(tid("filter-country-people")).Text() != w.people {
			t.Errorf("country %d: %q (value %q, checked %v), want %s %s with %s people", i, l.Text(), in.AttrOr("value", ""), checked, w.code, w.name, w.people)
		}
	}
	if doc.Find(`input[type=text][name=country]`).Length() != 0 {
		t.Error("the free-text country box is still there")
	}
}
