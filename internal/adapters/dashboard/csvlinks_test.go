package dashboard

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/views"
)

// fetchCSV gets a CSV link of a page from the query API mounted beside
// the dashboard, as the browser's download does.
func fetchCSV(t *testing.T, app *testApp, href string) (map[string]int, [][]string) {
	t.Helper()
	resp, err := http.Get(app.srv.URL + href)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", href, resp.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("GET %s: %v %q", href, err, body)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	return col, recs[1:]
}

// TestCSVLinksHoldTheChartsNumbers: the CSV link of each chart of the
// Overview, Compare and Channel pages, fetched from the query API, holds
// exactly the numbers the chart's table shows, the compared values
// included; and the page's own URL given to the API answers the same.
func TestCSVLinksHoldTheChartsNumbers(t *testing.T) {
	app := newTestApp(t, nil, true)
	for _, cmp := range []string{"previous", "year"} {
		q := "range=custom&from=2026-01-05&to=2026-02-08&interval=week&compare=" + cmp
		for _, pc := range []struct {
			path    string
			charts  []string
			percent map[string]bool
		}{
			{"/", []string{"active-users", "channel-mix"}, nil},
			{"/compare", []string{"channel-ios", "channel-whatsapp"}, nil},
			{"/channel?focus=whatsapp&", []string{"channel-share"}, map[string]bool{"channel-share": true}},
		} {
			u := app.srv.URL + pc.path
			if !strings.HasSuffix(u, "&") {
				u += "?"
			}
			_, doc, _ := get(t, nil, u+q)
			for _, id := range pc.charts {
				href, ok := doc.Find(tid("csv-" + id)).Attr("href")
				if !ok {
					t.Errorf("%s %s: no CSV link", pc.path, id)
					continue
				}
				link, _ := url.Parse(href)
				if link.Query().Get("compare") == "" && id != "channel-mix" {
					t.Errorf("%s %s: the CSV link %s drops the comparison", pc.path, id, href)
				}
				col, rows := fetchCSV(t, app, href)
				// The chart draws a line per value of its last by column.
				by := strings.Split(link.Query().Get("by"), ",")
				key := col[by[len(by)-1]]
				want := map[string]map[string]string{} // series name: period: cell
				put := func(name, period, cell string) {
					if want[name] == nil {
						want[name] = map[string]string{}
					}
					want[name][period] = cell
				}
				format := func(s string) string {
					v, err := strconv.ParseFloat(s, 64)
					if err != nil {
						t.Fatalf("%s: value %q", href, s)
					}
					if pc.percent[id] {
						return views.FormatPercent(v)
					}
					return views.FormatInt(v)
				}
				for _, r := range rows {
					name := views.Label(r[key])
					put(name, r[0], format(r[col["value"]]))
					if i, ok := col["previous"]; ok && id != "channel-mix" {
						put(name+views.ComparedSuffix(cmp), r[0], format(r[i]))
					}
				}
				if len(want) == 0 {
					t.Errorf("%s %s: the CSV has no rows", pc.path, id)
				}
				for name, cells := range want {
					got := column(t, doc, id, name)
					for period, cell := range cells {
						if got[period] != cell {
							t.Errorf("compare=%s %s %s %q %s: chart %q, CSV %q", cmp, pc.path, id, name, period, got[period], cell)
						}
					}
				}
				if comp := doc.Find(tid("compared-" + id)); id != "channel-mix" && !strings.Contains(comp.Text(), "compared with") {
					t.Errorf("%s %s: no note of the window compared with under the chart (%q)", pc.path, id, comp.Text())
				}
			}
		}

		// The table of the Compare page: its share column is the CSV's
		// share of the last period.
		_, doc, _ := get(t, nil, app.srv.URL+"/compare?"+q)
		col, rows := fetchCSV(t, app, doc.Find(tid("csv-compare-table")).AttrOr("href", ""))
		last := ""
		for _, r := range rows {
			last = max(last, r[0])
		}
		shares := map[string]string{}
		for _, r := range rows {
			if r[0] == last {
				v, _ := strconv.ParseFloat(r[col["value"]], 64)
				shares[views.Label(r[col["assistant"]])+"|"+views.Label(r[col["channel"]])] = views.FormatPercent(v)
			}
		}
		n := 0
		doc.Find(tid("table-compare-table") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
			c := tr.Children()
			k := strings.TrimSpace(c.Eq(0).Text()) + "|" + strings.TrimSpace(c.Eq(1).Text())
			if got := strings.TrimSpace(c.Eq(3).Text()); got != shares[k] {
				t.Errorf("compare table %s in %s: share %q, CSV %q", k, last, got, shares[k])
			}
			n++
		})
		if n == 0 {
			t.Error("the compare table has no rows")
		}

		// The page's URL, given to the API with the chart's metric and by,
		// answers the chart's CSV.
		_, doc, _ = get(t, nil, app.srv.URL+"/?"+q)
		href := doc.Find(tid("csv-active-users")).AttrOr("href", "")
		_, fromLink := fetchCSV(t, app, href)
		_, fromPage := fetchCSV(t, app, "/api/v1/series?"+q+"&metric=active_users&by=assistant&format=csv")
		if a, b := csvText(fromLink), csvText(fromPage); a != b {
			t.Errorf("compare=%s: the page's URL answers\n%s\nthe chart's CSV link\n%s", cmp, b, a)
		}
	}
}

func csvText(rows [][]string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}

// TestChartRequestRoundTrips: a chart's typed request, encoded as its CSV
// link, reads back through the API's parser into the same request.
func TestChartRequestRoundTrips(t *testing.T) {
	f := ParseFilters(url.Values{"range": {"12m"}, "interval": {"month"}, "compare": {"year"}, "country": {"BR"}}, day("2026-12-06"), day("2025-01-01"))
	for _, r := range []query.SeriesRequest{
		f.compared(f.series(query.ActiveUsers, query.DimAssistant)),
		f.series(query.ActiveUsers, query.DimChannel),
		onChannels(f.compared(f.series(query.ActiveUsers, query.DimChannel, query.DimAssistant)), "whatsapp"),
	} {
		link, _ := url.Parse(seriesCSV(r))
		back, err := query.ParseSeries(link.Query())
		if err != nil {
			t.Fatal(err)
		}
		if back.Values().Encode() != r.Values().Encode() {
			t.Errorf("%s reads back as %s", r.Values().Encode(), back.Values().Encode())
		}
		if r.Compare == query.CompareYear && link.Query().Get("compare") != "year" {
			t.Errorf("CSV link %s without compare=year", link)
		}
		sched, _ := url.Parse(seriesSchedule(r, "t"))
		if sched.Query().Get("range") != "last_12_months" || strings.Contains(sched.Query().Get("query"), "from=") {
			t.Errorf("schedule link %s: want the rolling 12 months", sched)
		}
	}
}

// TestImpactDateRule: the Impact page holds date to the one date rule and
// says what the API says for the same date.
func TestImpactDateRule(t *testing.T) {
	app := newTestApp(t, nil, false)
	for _, d := range []string{"1999-01-01", "2026-02-30", "15/01/2026"} {
		_, want := catalog.ParseDate("date", d)
		resp, err := http.Get(app.srv.URL + "/api/v1/migration?assistant=chatgpt&channel=whatsapp&date=" + url.QueryEscape(d))
		if err != nil {
			t.Fatal(err)
		}
		api, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_, doc, _ := get(t, nil, app.srv.URL+"/impact?source_assistant=chatgpt&source_channel=whatsapp&date="+url.QueryEscape(d))
		if want == nil || !strings.Contains(string(api), strings.ReplaceAll(want.Error(), `"`, `\"`)) || !strings.Contains(doc.Text(), want.Error()) {
			t.Errorf("date %s: page %q, API %s, rule %v", d, doc.Find(".notice").Text(), api, want)
		}
	}
}
