package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/adoptscope/adoptscope/views"
)

// TestOverlapPageMatrix: the Overlap page's matrix and bars state the
// people active on each assistant, on both of each pair and on one only,
// counted here person by person from the events the test inserts.
func TestOverlapPageMatrix(t *testing.T) {
	assistants := []string{"chatgpt", "gemini", "meta_ai"}
	channels := []string{"whatsapp", "ios", "web"}
	var evs []ev
	// Person u is on assistant a when bit a of u%8 is set, on a channel
	// chosen by u, on a few days of January; some people have events
	// outside the range too (December), which must not count.
	for u := uint64(1); u <= 120; u++ {
		for ai, a := range assistants {
			if (u%8)&(1<<ai) == 0 {
				continue
			}
			d := day("2026-01-05").AddDate(0, 0, int(u%20))
			evs = append(evs, ev{d, a, channels[(u+uint64(ai))%3], u, "text", false, "panel", time.Time{}})
			if u%5 == 0 {
				evs = append(evs, ev{d.AddDate(0, 0, 1), a, channels[u%3], u, "text", false, "panel", time.Time{}})
			}
		}
		if u%7 == 0 {
			evs = append(evs, ev{day("2025-12-10"), "gemini", "web", u, "text", false, "panel", time.Time{}})
		}
	}
	from, to := day("2026-01-01"), day("2026-01-31")
	on := map[string]map[uint64]bool{}
	for _, e := range evs {
		if e.day.Before(from) || e.day.After(to) {
			continue
		}
		if on[e.assistant] == nil {
			on[e.assistant] = map[uint64]bool{}
		}
		on[e.assistant][e.user] = true
	}
	both := func(a, b string) int {
		n := 0
		for u := range on[a] {
			if on[b][u] {
				n++
			}
		}
		return n
	}
	exclusive := func(a string) int {
		n := 0
		for u := range on[a] {
			other := false
			for _, b := range assistants {
				other = other || (b != a && on[b][u])
			}
			if !other {
				n++
			}
		}
		return n
	}

	app := newTestAppEvents(t, nil, evs, nil)
	resp, doc, _ := get(t, nil, app.srv.URL+"/overlap?range=custom&from=2026-01-01&to=2026-01-31")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	head := doc.Find(tid("table-overlap-matrix") + " thead th").Map(func(_ int, s *goquery.Selection) string { return s.Text() })
	rows := doc.Find(tid("table-overlap-matrix") + " tbody tr")
	if rows.Length() != len(assistants) {
		t.Fatalf("%d matrix rows, want %d", rows.Length(), len(assistants))
	}
	slug := map[string]string{}
	for _, a := range assistants {
		slug[views.Label(a)] = a
	}
	rows.Each(func(_ int, r *goquery.Selection) {
		name, _, _ := strings.Cut(r.Find("th").Text(), " (")
		a := slug[name]
		if want := fmt.Sprintf("%s (%s)", name, views.FormatInt(float64(len(on[a])))); r.Find("th").Text() != want {
			t.Errorf("row %q, want %q", r.Find("th").Text(), want)
		}
		r.Find("td").Each(func(j int, c *goquery.Selection) {
			b := slug[head[j+1]]
			if a == b {
				return
			}
			n := both(a, b)
			want := fmt.Sprintf("%s (%s)", views.FormatPercent(float64(n)/float64(len(on[a]))*100), views.FormatInt(float64(n)))
			if c.Text() != want {
				t.Errorf("%s also on %s: %q, want %q", a, b, c.Text(), want)
			}
		})
	})
	bars := doc.Find(tid("table-overlap-bars") + " tbody tr")
	if bars.Length() != len(assistants) {
		t.Fatalf("%d bar rows, want %d", bars.Length(), len(assistants))
	}
	bars.Each(func(_ int, r *goquery.Selection) {
		a := slug[r.Find("th").Text()]
		cells := r.Find("td")
		ex := exclusive(a)
		if got, want := cells.Eq(0).Text()+" / "+cells.Eq(1).Text()+" / "+cells.Eq(2).Text(),
			views.FormatInt(float64(len(on[a])))+" / "+views.FormatInt(float64(ex))+" / "+views.FormatInt(float64(len(on[a])-ex)); got != want {
			t.Errorf("%s people / exclusive / shared: %s, want %s", a, got, want)
		}
	})
	// Coloured by lift: each cell is both × everyone / (people of A ×
	// people of B), everyone being the people on any assistant.
	everyone := map[uint64]bool{}
	for _, us := range on {
		for u := range us {
			everyone[u] = true
		}
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/overlap?range=custom&from=2026-01-01&to=2026-01-31&color=lift")
	if doc.Find(tid("color-share")).Length() != 1 || !strings.Contains(doc.Find(tid("overlap-color")).Text(), "chance") {
		t.Error("the lift view has no link back to share, or no explanation of lift")
	}
	lifts := 0
	doc.Find(tid("table-overlap-matrix") + " tbody tr").Each(func(_ int, r *goquery.Selection) {
		name, _, _ := strings.Cut(r.Find("th").Text(), " (")
		a := slug[name]
		r.Find("td").Each(func(j int, c *goquery.Selection) {
			b := slug[head[j+1]]
			if a == b {
				return
			}
			want := fmt.Sprintf("%.2f×", float64(both(a, b))*float64(len(everyone))/(float64(len(on[a]))*float64(len(on[b]))))
			if c.Text() != want {
				t.Errorf("lift of %s on %s: %q, want %q", a, b, c.Text(), want)
			}
			lifts++
		})
	})
	if lifts != len(assistants)*(len(assistants)-1) {
		t.Errorf("%d lift cells", lifts)
	}
	_, doc, _ = get(t, nil, app.srv.URL+"/overlap?range=custom&from=2026-01-01&to=2026-01-31&color=rainbow")
	if !strings.Contains(doc.Text(), `color="rainbow" is not a colouring`) {
		t.Error("an unknown color is not said")
	}
	// A channel filter restricts the activity counted.
	_, doc, _ = get(t, nil, app.srv.URL+"/overlap?range=custom&from=2026-01-01&to=2026-01-31&channel=whatsapp")
	onWA := map[string]map[uint64]bool{}
	for _, e := range evs {
		if e.channel == "whatsapp" && !e.day.Before(from) && !e.day.After(to) {
			if onWA[e.assistant] == nil {
				onWA[e.assistant] = map[uint64]bool{}
			}
			onWA[e.assistant][e.user] = true
		}
	}
	doc.Find(tid("table-overlap-bars") + " tbody tr").Each(func(_ int, r *goquery.Selection) {
		a := slug[r.Find("th").Text()]
		if got, want := r.Find("td").Eq(0).Text(), views.FormatInt(float64(len(onWA[a]))); got != want {
			t.Errorf("%s on WhatsApp: %s people, want %s", a, got, want)
		}
	})
}
