package dashboard

import (
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/views"
)

// column reads one column of a chart's table: period -> cell text.
func column(t *testing.T, doc *goquery.Document, chartID, head string) map[string]string {
	t.Helper()
	table := doc.Find(tid("table-" + chartID))
	if table.Length() != 1 {
		t.Fatalf("table of %s: found %d", chartID, table.Length())
	}
	col := -1
	table.Find("thead th").Each(func(i int, s *goquery.Selection) {
		if s.Text() == head {
			col = i
		}
	})
	if col < 0 {
		var heads []string
		table.Find("thead th").Each(func(_ int, s *goquery.Selection) { heads = append(heads, s.Text()) })
		t.Fatalf("table of %s has no column %q (has %q)", chartID, head, heads)
	}
	out := map[string]string{}
	table.Find("tbody tr").Each(func(_ int, tr *goquery.Selection) {
		cells := tr.Children()
		out[cells.Eq(0).Text()] = strings.TrimSpace(cells.Eq(col).Text())
	})
	return out
}

// weeklyUsers counts, in plain Go over the test data set, the distinct
// people of one assistant (any when empty) on one channel in the ISO week
// starting on monday.
func weeklyUsers(assistant, channel, monday string) int {
	start := day(monday)
	end := start.AddDate(0, 0, 7)
	seen := map[uint64]bool{}
	for _, e := range smallDataSet() {
		if (assistant == "" || e.assistant == assistant) && e.channel == channel && !e.day.Before(start) && e.day.Before(end) {
			seen[e.user] = true
		}
	}
	return len(seen)
}

// With compare=previous, the Compare and Channel pages draw the previous
// period of each series next to it, and only pages that do show the checkbox.
func TestComparePreviousPeriod(t *testing.T) {
	app := newTestApp(t, nil, true)
	q := "?range=custom&from=2026-01-19&to=2026-02-08&interval=week&compare=previous"
	// Three weeks; the previous range is the three weeks before, row by row.
	previousOf := map[string]string{"2026-01-19": "2025-12-29", "2026-01-26": "2026-01-05", "2026-02-02": "2026-01-12"}

	_, doc, _ := get(t, nil, app.srv.URL+"/compare"+q)
	prev := column(t, doc, "channel-ios", "ChatGPT"+views.PreviousSuffix)
	cur := column(t, doc, "channel-ios", "ChatGPT")
	for period, before := range previousOf {
		if want := strconv.Itoa(weeklyUsers("chatgpt", "ios", before)); prev[period] != want {
			t.Errorf("compare page, ChatGPT on iOS, previous of %s (week %s) = %q, want %s", period, before, prev[period], want)
		}
		if want := strconv.Itoa(weeklyUsers("chatgpt", "ios", period)); cur[period] != want {
			t.Errorf("compare page, ChatGPT on iOS, %s = %q, want %s", period, cur[period], want)
		}
	}

	_, doc, _ = get(t, nil, app.srv.URL+"/channel"+q+"&focus=whatsapp")
	share := column(t, doc, "channel-share", "ChatGPT"+views.PreviousSuffix)
	for period, before := range previousOf {
		all := weeklyUsers("", "whatsapp", before)
		want := 0.0
		if all > 0 {
			want = 100 * float64(weeklyUsers("chatgpt", "whatsapp", before)) / float64(all)
		}
		got, err := strconv.ParseFloat(strings.TrimSuffix(share[period], " %"), 64)
		if err != nil || got < want-0.06 || got > want+0.06 {
			t.Errorf("channel page, ChatGPT share of WhatsApp, previous of %s = %q, want %.1f %%", period, share[period], want)
		}
	}

	for path, want := range map[string]int{"/": 1, "/compare": 1, "/channel": 1, "/retention": 0, "/modalities": 0, "/impact": 0} {
		_, doc, _ := get(t, nil, app.srv.URL+path+q)
		if n := doc.Find(tid("filter-compare")).Length(); n != want {
			t.Errorf("%s: %d compare checkboxes, want %d", path, n, want)
		}
	}
}
