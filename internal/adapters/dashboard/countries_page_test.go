package dashboard

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/schema/schematest"
	"github.com/adoptscope/adoptscope/views"
)

// TestCountriesPage: the ranking holds, per country, the people of the
// range and of the comparison window and each one's share on each
// assistant, counted here from the events the test inserts; each country
// links to the Overview filtered on it; the map's borders are served by
// the app as JSON, and the map is coloured by the chosen measure.
func TestCountriesPage(t *testing.T) {
	app := newTestAppEvents(t, nil, nil, nil)
	type pe struct {
		country, assistant string
		user               uint64
		at                 time.Time
	}
	var evs []pe
	// January: FR 6 people (3 on both assistants), EG 3 people on
	// ChatGPT, IN 1; the window before (the 31 days moved back 35):
	// FR 2, EG 3.
	jan, dec := day("2026-01-10"), day("2025-12-10")
	for u := uint64(1); u <= 6; u++ {
		evs = append(evs, pe{"FR", "chatgpt", u, jan})
		if u <= 3 {
			evs = append(evs, pe{"FR", "meta_ai", u, jan.AddDate(0, 0, 1)})
		}
	}
	for u := uint64(11); u <= 13; u++ {
		evs = append(evs, pe{"EG", "chatgpt", u, jan}, pe{"EG", "chatgpt", u, dec})
	}
	evs = append(evs, pe{"IN", "meta_ai", 21, jan}, pe{"FR", "chatgpt", 1, dec}, pe{"FR", "meta_ai", 2, dec})
	rows := make([]schematest.Event, len(evs))
	for i, e := range evs {
		rows[i] = schematest.Event{Time: e.at.Add(time.Duration(i) * time.Minute), Assistant: e.assistant, Channel: "web", EventType: "message", Modality: "text",
			Country: e.country, User: e.user, Count: 1}
	}
	schematest.InsertAndBuild(t, app.store, "cty-", rows)

	_, doc, body := get(t, nil, app.srv.URL+"/countries?range=custom&from=2026-01-01&to=2026-01-31")
	if doc.Find(tid("chart-error")).Length() > 0 {
		t.Fatalf("error on the page: %s", doc.Find(tid("chart-error")).Text())
	}
	head := doc.Find(tid("table-countries") + " thead th").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	if want := "# Country People Before Change ChatGPT % Meta AI %"; strings.Join(head, " ") != want {
		t.Errorf("head %q, want %q", strings.Join(head, " "), want)
	}
	want := [][]string{
		{"1", "France FR", "6", "2", "+200.0 %", views.FormatPercent(100), views.FormatPercent(50)},
		{"2", "Egypt EG", "3", "3", "+0.0 %", views.FormatPercent(100), views.FormatPercent(0)},
		{"3", "India IN", "1", "0", "—", views.FormatPercent(0), views.FormatPercent(100)},
	}
	trs := doc.Find(tid("table-countries") + " tbody tr")
	if trs.Length() != len(want) {
		t.Fatalf("%d rows, want %d", trs.Length(), len(want))
	}
	trs.Each(func(i int, tr *goquery.Selection) {
		var cells []string
		tr.Find("td,th").Each(func(_ int, c *goquery.Selection) { cells = append(cells, strings.Join(strings.Fields(c.Text()), " ")) })
		if strings.Join(cells, "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d: %q, want %q", i, cells, want[i])
		}
		code := want[i][1][len(want[i][1])-2:]
		if href, _ := tr.Find(tid("country-" + code)).Attr("href"); !strings.HasPrefix(href, "/?") || !strings.Contains(href, "country="+code) {
			t.Errorf("%s links to %q, want the Overview filtered on it", code, href)
		}
	})
	if !strings.Contains(body, `"type":"map"`) || !strings.Contains(body, `"code":"FR"`) || !strings.Contains(body, views.StaticURL("world.json")) {
		t.Error("the page has no world map of its countries")
	}
	resp, err := http.Get(app.srv.URL + views.StaticURL("world.json"))
	if err != nil {
		t.Fatal(err)
	}
	geo, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/json") || !strings.Contains(string(geo), `"name":"FR"`) {
		t.Errorf("world.json: %d %s, %d bytes", resp.StatusCode, ct, len(geo))
	}
	// Coloured by the change: France's value is its change.
	_, _, body = get(t, nil, app.srv.URL+"/countries?range=custom&from=2026-01-01&to=2026-01-31&color=change")
	if !strings.Contains(body, `{"code":"FR","name":"France","value":200}`) {
		t.Errorf("the change map does not colour France by +200 %%")
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/countries?range=custom&from=2026-01-01&to=2026-01-31&color=rainbow")
	if !strings.Contains(doc.Text(), fmt.Sprintf("color=%q is not a measure", "rainbow")) {
		t.Error("an unknown measure is not said")
	}
}
