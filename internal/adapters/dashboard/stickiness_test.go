package dashboard

import (
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/views"
)

// TestCompareStickiness: the Compare page's power-user table holds, per
// assistant, the shares of its CSV's last window (the API's answer) and
// the share active on 5 days or more summed from the CSV's buckets.
func TestCompareStickiness(t *testing.T) {
	app := newTestApp(t, nil, true)
	_, doc, _ := get(t, nil, app.srv.URL+"/compare?range=custom&from=2026-01-05&to=2026-02-08&interval=week")
	href, ok := doc.Find(tid("csv-stickiness")).Attr("href")
	if !ok {
		t.Fatal("no CSV link on the stickiness chart")
	}
	if _, ok := doc.Find(tid("schedule-stickiness")).Attr("href"); !ok {
		t.Error("no schedule link on the stickiness chart")
	}
	col, rows := fetchCSV(t, app, href)
	last := ""
	for _, r := range rows {
		if r[col["window_end"]] > last {
			last = r[col["window_end"]]
		}
	}
	if last != "2026-02-08" {
		t.Errorf("last window ends %s, want the range's last day 2026-02-08", last)
	}
	share := map[string][]string{}
	people := map[string][2]float64{} // all, power
	for _, r := range rows {
		if r[col["window_end"]] != last {
			continue
		}
		a := views.Label(r[col["assistant"]])
		v, _ := strconv.ParseFloat(r[col["share_pct"]], 64)
		share[a] = append(share[a], views.FormatPercent(v))
		n, _ := strconv.ParseFloat(r[col["people"]], 64)
		d, _ := strconv.Atoi(r[col["days_active"]])
		p := people[a]
		p[0] += n
		if d >= 5 {
			p[1] += n
		}
		people[a] = p
	}
	checked := 0
	doc.Find(tid("table-stickiness") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Find("td,th").Each(func(_ int, td *goquery.Selection) { cells = append(cells, strings.TrimSpace(td.Text())) })
		a := cells[0]
		if got, want := strings.Join(cells[2:9], " "), strings.Join(share[a], " "); got != want {
			t.Errorf("%s: table %s, CSV %s", a, got, want)
		}
		p := people[a]
		if want := views.FormatPercent(float64(int(p[1]/p[0]*10000+0.5)) / 100); cells[9] != want {
			t.Errorf("%s: power users %s, want %s (%v of %v)", a, cells[9], want, p[1], p[0])
		}
		checked++
	})
	if checked == 0 || checked != len(share) {
		t.Errorf("%d table rows, %d assistants in the CSV", checked, len(share))
	}
}
