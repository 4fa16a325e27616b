package dashboard

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// TestLifecyclePage: by assistant, each assistant's chart draws per week
// the new, returning and resurrecting people above zero and the dormant
// below it, as counted here in plain loops over the inserted events (with
// the history before the range); the week not over yet is hatched; the
// CSV and "Schedule this as CSV" links are the lifecycle's; the nav, the
// Overview tiles and the Impact page link here.
func TestLifecyclePage(t *testing.T) {
	evs := retentionEvents() // chatgpt on web, weekly, from 2026-01-01
	// meta_ai on WhatsApp: people 1..20 in December (before the range),
	// the even ones back in the week of 2026-01-12, everyone from 21 to
	// 30 new in the week of 2026-01-19 and gone after it.
	for u := uint64(1); u <= 30; u++ {
		add := func(d string) {
			evs = append(evs, ev{day: day(d), assistant: "meta_ai", channel: "whatsapp", user: 1000 + u, modality: "text", source: "panel"})
		}
		switch {
		case u <= 20:
			add("2025-12-16")
			if u%2 == 0 {
				add("2026-01-13")
			}
		default:
			add("2026-01-20")
		}
	}
	app := newTestAppEvents(t, nil, evs, nil)
	from, to := day("2025-12-29"), day("2026-02-11")
	_, doc, body := get(t, nil, app.srv.URL+"/lifecycle?range=custom&from=2025-12-29&to=2026-02-11&interval=week&by=assistant")

	weekOf := func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) }
	type key struct {
		a string
		u uint64
	}
	weeks := map[key]map[time.Time]bool{}
	first := map[key]time.Time{}
	for _, e := range evs {
		k := key{e.assistant, e.user}
		if weeks[k] == nil {
			weeks[k] = map[time.Time]bool{}
		}
		weeks[k][weekOf(e.day)] = true
		if f, ok := first[k]; !ok || e.day.Before(f) {
			first[k] = e.day
		}
	}
	for _, a := range []string{"chatgpt", "meta_ai"} {
		raw := doc.Find("#lifecycle-" + a + "-options").Text()
		var opts struct {
			XAxis []struct {
				Data []string `json:"data"`
			} `json:"xAxis"`
			Series []struct {
				Name string            `json:"name"`
				Data []json.RawMessage `json:"data"`
			} `json:"series"`
		}
		if err := json.Unmarshal([]byte(raw), &opts); err != nil {
			t.Fatalf("%s: options %v\n%s", a, err, body)
		}
		if len(opts.Series) != 4 || len(opts.XAxis) != 1 {
			t.Fatalf("%s: %d series", a, len(opts.Series))
		}
		labels := opts.XAxis[0].Data
		if len(labels) != 7 || labels[0] != "2025-12-29" || labels[6] != "2026-02-09" {
			t.Errorf("%s: weeks %v", a, labels)
		}
		for i, l := range labels {
			w := day(l)
			var want [4]float64
			for k, ws := range weeks {
				if k.a != a {
					continue
				}
				now, before := ws[w], ws[w.AddDate(0, 0, -7)]
				switch {
				case now && weekOf(first[k]).Equal(w):
					want[0]++
				case now && before:
					want[1]++
				case now:
					want[2]++
				case before:
					want[3]--
				}
			}
			for s := range 4 {
				var v float64
				var item struct {
					Value     float64        `json:"value"`
					ItemStyle map[string]any `json:"itemStyle"`
				}
				hatched := false
				if err := json.Unmarshal(opts.Series[s].Data[i], &v); err != nil {
					if err := json.Unmarshal(opts.Series[s].Data[i], &item); err != nil {
						t.Fatal(err)
					}
					v, hatched = item.Value, item.ItemStyle["decal"] != nil
				}
				if v != want[s] {
					t.Errorf("%s week %s %s: %v, want %v", a, l, opts.Series[s].Name, v, want[s])
				}
				if wantHatch := l == "2026-02-09"; hatched != wantHatch {
					t.Errorf("%s week %s: hatched %v, want %v (only the week not over)", a, l, hatched, wantHatch)
				}
			}
		}
		csv, _ := doc.Find(tid("csv-lifecycle-" + a)).Attr("href")
		u, err := url.Parse(csv)
		if err != nil || u.Path != "/api/v1/lifecycle" || u.Query().Get("by") != "assistant" || u.Query().Get("assistant") != a ||
			u.Query().Get("from") != from.Format("2006-01-02") || u.Query().Get("to") != to.Format("2006-01-02") || u.Query().Get("format") != "csv" {
			t.Errorf("%s: CSV link %q", a, csv)
		}
		sched, _ := doc.Find(tid("schedule-lifecycle-" + a)).Attr("href")
		if su, err := url.Parse(sched); err != nil || su.Path != "/exports/new" || su.Query().Get("kind") != "lifecycle" ||
			!strings.Contains(su.Query().Get("query"), "by=assistant") {
			t.Errorf("%s: schedule link %q", a, sched)
		}
	}
	// Meta AI's story, read off the loops' definitions by hand: the ten
	// even people come back in the week of 2026-01-12 (resurrecting, not
	// new: they were active in December), ten new people the week after.
	rows := map[string]string{}
	doc.Find(tid("table-lifecycle-meta_ai") + " tbody tr").Each(func(_ int, tr *goquery.Selection) {
		var cells []string
		tr.Find("th, td").Each(func(_ int, td *goquery.Selection) { cells = append(cells, strings.TrimSpace(td.Text())) })
		if len(cells) > 0 {
			rows[cells[0]] = strings.Join(cells[1:], " ")
		}
	})
	// new returning resurrecting dormant active quick-ratio
	for w, want := range map[string]string{
		"2026-01-05": "0 0 0 0 0 –",
		"2026-01-12": "0 0 10 0 10 –",
		"2026-01-19": "10 0 0 10 10 1",
		"2026-01-26": "0 0 0 10 0 0",
	} {
		if rows[w] != want {
			t.Errorf("Meta AI table, week %s: %q, want %q", w, rows[w], want)
		}
	}
	if n := doc.Find(`nav a[href^="/lifecycle"]`).Length(); n == 0 {
		t.Error("no Lifecycle link in the nav")
	}
	if doc.Find(tid("lifecycle-split")+" strong").Text() != "Assistant" {
		t.Errorf("split shown as current: %q", doc.Find(tid("lifecycle-split")+" strong").Text())
	}
	// The Overview's tiles and the Impact page link to it.
	_, ov, _ := get(t, nil, app.srv.URL+"/?range=90d")
	if href, ok := ov.Find(tid("kpi-chatgpt") + " " + tid("kpi-lifecycle")).Attr("href"); !ok || !strings.HasPrefix(href, "/lifecycle?") ||
		!strings.Contains(href, "assistant=chatgpt") {
		t.Errorf("Overview tile link %q %v", href, ok)
	}
	_, im, _ := get(t, nil, app.srv.URL+"/impact?date=2026-01-15&source_assistant=meta_ai&source_channel=whatsapp")
	href, ok := im.Find(tid("impact-lifecycle") + " a").First().Attr("href")
	if hu, err := url.Parse(href); !ok || err != nil || hu.Path != "/lifecycle" || hu.Query().Get("assistant") != "meta_ai" || hu.Query().Get("channel") != "whatsapp" {
		t.Errorf("Impact link %q %v", href, ok)
	}
	// A bad split is said, not fatal.
	_, bad, _ := get(t, nil, app.srv.URL+"/lifecycle?by=country")
	if !strings.Contains(bad.Text(), "by=country is not a split") {
		t.Error("by=country: no notice")
	}
}

// TestScheduleLifecycle: "Schedule this as CSV" of a lifecycle CSV opens
// the export form with kind lifecycle.
func TestScheduleLifecycle(t *testing.T) {
	got := scheduleURL("/api/v1/lifecycle?by=channel&from=2026-01-05&interval=week&to=2026-03-29&tz=Asia%2FKolkata&format=csv", "Lifecycle", "90d")
	u, err := url.Parse(got)
	if err != nil || u.Query().Get("kind") != "lifecycle" || u.Query().Get("range") != "last_90_days" || u.Query().Get("timezone") != "Asia/Kolkata" ||
		u.Query().Get("query") != "by=channel&interval=week" {
		t.Errorf("schedule URL %q", got)
	}
}
