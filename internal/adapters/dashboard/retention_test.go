package dashboard

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/catalog"
)

// retentionEvents: the data starts on Thursday 2026-01-01 with 50 people
// (the cohort of the week of 2025-12-29, left-censored; so is the next
// week's, as the data saw only part of the first); 40 people are
// first seen in the week of 2026-01-05, 12 in that of 2026-01-12 (a small
// cohort, every one back the week after) and 35 in that of 2026-01-19.
// Person u of a cohort is active on the Tuesday of the k-th week after
// its first when (7u+3k) % 5 < 3 (k ≥ 1), up to Tuesday 2026-02-10.
func retentionEvents() []ev {
	var out []ev
	monday := day("2025-12-29")
	add := func(u uint64, first int, size uint64, always bool) {
		for ; size > 0; size-- {
			uu := u + size
			d := monday.AddDate(0, 0, 7*first+1)
			if first == 0 {
				d = day("2026-01-01")
			}
			out = append(out, ev{day: d, assistant: "chatgpt", channel: "web", user: uu, modality: "text", source: "panel"})
			for k := 1; first+k <= 6; k++ {
				if always || (7*int(uu)+3*k)%5 < 3 {
					out = append(out, ev{day: monday.AddDate(0, 0, 7*(first+k)+1), assistant: "chatgpt", channel: "web", user: uu, modality: "text", source: "panel"})
				}
			}
		}
	}
	add(0, 0, 50, false)
	add(100, 1, 40, false)
	add(200, 2, 12, true)
	add(300, 3, 35, false)
	return out
}

// TestRetentionColourIsRate: every heatmap cell's value is its cohort's
// rate and no cell's style depends on the cohort's size (no opacity at
// all); small cohorts carry † and are listed under the chart; the first
// two cohorts (the data starts on a Thursday) are labelled as active
// before the data starts and left out of the average curve, which pools the complete cells by size. Expected
// values come from plain loops over the inserted events.
func TestRetentionColourIsRate(t *testing.T) {
	evs := retentionEvents()
	app := newTestAppEvents(t, nil, evs, nil)
	_, doc, _ := get(t, nil, app.srv.URL+"/retention?range=custom&from=2025-12-29&to=2026-02-11&interval=week")

	monday := day("2025-12-29")
	week := func(d time.Time) int { return int(d.Sub(monday).Hours() / 24 / 7) }
	first := map[uint64]time.Time{}
	for _, e := range evs {
		if f, ok := first[e.user]; !ok || e.day.Before(f) {
			first[e.user] = e.day
		}
	}
	const weeks = 7 // 2025-12-29 .. 2026-02-09
	active := make([][]map[uint64]bool, weeks)
	for i := range active {
		active[i] = make([]map[uint64]bool, weeks)
		for j := range active[i] {
			active[i][j] = map[uint64]bool{}
		}
	}
	for _, e := range evs {
		active[week(first[e.user])][week(e.day)][e.user] = true
	}

	var opts struct {
		YAxis []struct {
			Data []string `json:"data"`
		} `json:"yAxis"`
		Series []struct {
			Data []struct {
				Value     []float64      `json:"value"`
				ItemStyle map[string]any `json:"itemStyle"`
			} `json:"data"`
		} `json:"series"`
	}
	raw := doc.Find("#retention-options").Text()
	if err := json.Unmarshal([]byte(raw), &opts); err != nil {
		t.Fatalf("heatmap options: %v", err)
	}
	if strings.Contains(raw, "opacity") {
		t.Error("the heatmap sets an opacity: the colour must be the rate alone")
	}
	// A week in which nobody was first seen is no cohort: no row.
	var kept []int
	wantCells := 0
	for y := range weeks {
		if len(active[y][y]) > 0 {
			kept = append(kept, y)
			wantCells += weeks - y
		}
	}
	if len(kept) == weeks {
		t.Fatal("the fixture has no empty week: the test checks nothing of them")
	}
	labels := opts.YAxis[0].Data
	if len(labels) != len(kept) {
		t.Fatalf("%d rows %v, want %d (the weeks with people first seen)", len(labels), labels, len(kept))
	}
	cells := 0
	for _, c := range opts.Series[0].Data {
		x, row, v := int(c.Value[0]), int(c.Value[1]), c.Value[2]
		y := kept[row]
		size := len(active[y][y])
		want := 0.0
		if size > 0 {
			want = math.Round(float64(len(active[y][y+x]))/float64(size)*100*10) / 10
		}
		if v != want {
			t.Errorf("cell %d weeks after cohort %d: value %v, want the rate %v", x, y, v, want)
		}
		cells++
	}
	if cells != wantCells {
		t.Errorf("%d cells, want %d", cells, wantCells)
	}
	listed := strings.Split(doc.Find(tid("retention-small-list")).Text(), ", ")
	var wantListed []string
	for row, y := range kept {
		size := len(active[y][y])
		label := monday.AddDate(0, 0, 7*y).Format(catalog.DateLayout) + " (" + strconv.Itoa(size) + ")"
		switch {
		case y <= 1:
			if !strings.HasPrefix(labels[row], "active before the data starts") {
				t.Errorf("first row %q, want it labelled active before the data starts", labels[row])
			}
		case size < smallCohort:
			wantListed = append(wantListed, label)
			if labels[row] != label+" †" {
				t.Errorf("row %d %q, want %q", row, labels[row], label+" †")
			}
		default:
			if labels[row] != label {
				t.Errorf("row %d %q, want %q", row, labels[row], label)
			}
		}
	}
	if strings.Join(listed, "|") != strings.Join(wantListed, "|") {
		t.Errorf("small cohorts listed %v, want %v", listed, wantListed)
	}
	if c := doc.Find(tid("retention-censored")).Text(); !strings.Contains(c, "2025-12-29") || !strings.Contains(c, "2026-01-05") {
		t.Error("the left-censored cohort is not explained under the chart")
	}

	// The average: cohorts 2.. (not the censored 0 and 1), complete weeks
	// only (the week of 2026-02-09 is not over on 2026-02-11).
	var avgRows [][]string
	doc.Find(tid("table-retention-average") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var r []string
		tr.Children().Each(func(_ int, c *goquery.Selection) { r = append(r, c.Text()) })
		avgRows = append(avgRows, r)
	})
	for k := 0; k < weeks; k++ {
		people, users, cohorts := 0, 0, 0
		for y := 2; y+k < weeks-1; y++ {
			if n := len(active[y][y]); n > 0 {
				people += n
				users += len(active[y][y+k])
				cohorts++
			}
		}
		if people == 0 {
			if k < len(avgRows) {
				t.Errorf("average point at %d weeks %v, want none (no complete cell)", k, avgRows[k])
			}
			continue
		}
		if k >= len(avgRows) {
			t.Fatalf("no average point at %d weeks", k)
		}
		want := []string{strconv.Itoa(k), strconv.FormatFloat(float64(users)/float64(people)*100, 'f', 1, 64) + " %", strconv.Itoa(users), strconv.Itoa(people), strconv.Itoa(cohorts)}
		if strings.Join(avgRows[k], "|") != strings.Join(want, "|") {
			t.Errorf("average at %d weeks %v, want %v", k, avgRows[k], want)
		}
	}
}
