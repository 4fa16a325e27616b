package demo

import (
	"math"
	"sort"
	"strings"
	"testing"
	"time"
)

// small is the generated set of the tests: the months around the shutdown.
func small(seed uint64) Config {
	return Config{Seed: seed, People: 3000, From: date("2025-10-01"), To: date("2026-03-15")}
}

// goldenChecksum is the checksum of small(7), recorded from the first run:
// a change of it means the demo data changed, which must be deliberate.
const goldenChecksum = "8eaf18b4b30a6fdd86e5e3cefae9c9892aec117f8d367045559e495d471b4b84"

func TestChecksumIsStable(t *testing.T) {
	cfg := small(7)
	cfg.People = 500
	a, n1, err := Checksum(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, n2, err := Checksum(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || n1 != n2 {
		t.Fatalf("same config, different data: %s (%d events) then %s (%d)", a, n1, b, n2)
	}
	if a != goldenChecksum {
		t.Errorf("checksum of small(7) with 500 people = %s (%d events), want %s: the demo data changed", a, n1, goldenChecksum)
	}
	cfg.Seed = 8
	c, _, err := Checksum(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("seeds 7 and 8 gave the same data")
	}
}

// outcomeOf applies the migration definition of the query issue to the
// generated stream: the cohort is everyone active on ChatGPT-WhatsApp in
// [D-before, D); each member's outcome is the (assistant, channel) with the
// largest sum of count in [D, D+after) (ties: alphabetical), else inactive
// ("stayed" cannot happen: the channel is closed).
type migration struct {
	cohort, linked int
	outcomes       map[string]int // "assistant/channel" or "inactive"
}

func computeMigration(t *testing.T, g *Generator, beforeDays, afterDays int) migration {
	t.Helper()
	lo, hi := Shutdown.AddDate(0, 0, -beforeDays), Shutdown.AddDate(0, 0, afterDays)
	cohort := map[string]bool{}
	linked := map[string]bool{}
	after := map[string]map[string]uint64{}
	for e := range g.Events() {
		if e.Time.Before(Shutdown) {
			if !e.Time.Before(lo) && e.Assistant == "chatgpt" && e.Channel == "whatsapp" {
				cohort[e.UserID] = true
			}
			if e.Linked || e.EventType == "account_linked" {
				linked[e.UserID] = true
			}
		} else if e.Time.Before(hi) {
			m := after[e.UserID]
			if m == nil {
				m = map[string]uint64{}
				after[e.UserID] = m
			}
			m[e.Assistant+"/"+e.Channel] += uint64(e.Count)
		}
	}
	res := migration{cohort: len(cohort), outcomes: map[string]int{}}
	for u := range cohort {
		if linked[u] {
			res.linked++
		}
		best, bestN := "inactive", uint64(0)
		keys := make([]string, 0, len(after[u]))
		for k := range after[u] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if n := after[u][k]; n > bestN {
				best, bestN = k, n
			}
		}
		res.outcomes[best]++
	}
	return res
}

func TestStory(t *testing.T) {
	g, err := New(small(1))
	if err != nil {
		t.Fatal(err)
	}
	perDay := map[string]int{}
	var prev time.Time
	ids := map[string]bool{}
	waBeforeWeek, waFrom := map[string]bool{}, 0
	var weekend, weekday, nWeekend, nWeekday float64
	for day, evs := range g.Days() {
		key := day.Format(time.DateOnly)
		perDay[key] = len(evs)
		if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend += float64(len(evs))
			nWeekend++
		} else {
			weekday += float64(len(evs))
			nWeekday++
		}
		for _, e := range evs {
			if e.Time.Before(prev) {
				t.Fatalf("event %s at %s after one at %s: not in time order", e.EventID, e.Time, prev)
			}
			prev = e.Time
			if e.Time.Before(day) || !e.Time.Before(day.AddDate(0, 0, 1)) {
				t.Fatalf("event %s at %s yielded with day %s", e.EventID, e.Time, key)
			}
			if ids[e.EventID] {
				t.Fatalf("event id %s repeated", e.EventID)
			}
			ids[e.EventID] = true
			if e.Source != "demo" || !strings.HasPrefix(e.UserID, "demo-user-") || strings.Contains(e.EventID, e.UserID) {
				t.Fatalf("event %+v: want source demo, user ids demo-user-…, and no user id inside the event id", e)
			}
			if e.Channel == "whatsapp" && (e.Assistant == "chatgpt" || e.Assistant == "copilot") {
				if !e.Time.Before(Shutdown) {
					waFrom++
				} else if !e.Time.Before(Shutdown.AddDate(0, 0, -7)) && e.Assistant == "chatgpt" {
					waBeforeWeek[e.UserID] = true
				}
			}
		}
	}
	if want := int(date("2026-03-15").Sub(date("2025-10-01")).Hours()/24) + 1; len(perDay) != want {
		t.Errorf("%d days generated, want %d", len(perDay), want)
	}
	for d, n := range perDay {
		if n == 0 {
			t.Errorf("no events on %s", d)
		}
	}
	if waFrom != 0 {
		t.Errorf("%d ChatGPT/Copilot WhatsApp events from %s, want 0", waFrom, Shutdown.Format(time.DateOnly))
	}
	if len(waBeforeWeek) == 0 {
		t.Error("no ChatGPT WhatsApp users in the week before the shutdown")
	}
	if weekend/nWeekend >= weekday/nWeekday {
		t.Errorf("weekend days average %.0f events, weekdays %.0f: want a weekly dip", weekend/nWeekend, weekday/nWeekday)
	}

	// The cohort's outcomes and linking follow the configured shares.
	m := computeMigration(t, g, 28, 28)
	if m.cohort < 300 {
		t.Fatalf("cohort of %d people: too small to check shares", m.cohort)
	}
	t.Logf("cohort %d, linked %d, outcomes %v", m.cohort, m.linked, m.outcomes)
	checkShares(t, m)
}

func checkShares(t *testing.T, m migration) {
	t.Helper()
	if got := float64(m.linked) / float64(m.cohort); math.Abs(got-LinkedShare) > 0.02 {
		t.Errorf("linked share %.3f, want %.3f ± 0.02", got, LinkedShare)
	}
	total := 0
	for _, o := range Outcomes {
		key := o.Assistant + "/" + o.Channel
		if o.Assistant == "" {
			key = "inactive"
		}
		got := float64(m.outcomes[key]) / float64(m.cohort)
		if math.Abs(got-o.Share()) > 0.02 {
			t.Errorf("outcome %s: share %.3f, want %.3f ± 0.02", key, got, o.Share())
		}
		total += m.outcomes[key]
	}
	if total != m.cohort {
		t.Errorf("outcomes cover %d of %d cohort members: others %v", total, m.cohort, m.outcomes)
	}
}

func TestPerplexityWhatsAppEnd(t *testing.T) {
	cfg := small(3)
	cfg.People = 800
	cfg.PerplexityWhatsAppEnd = date("2026-02-01")
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := 0
	for e := range g.Events() {
		if e.Assistant == "perplexity" && e.Channel == "whatsapp" {
			if !e.Time.Before(cfg.PerplexityWhatsAppEnd) {
				t.Fatalf("Perplexity WhatsApp event at %s, after the end %s", e.Time, cfg.PerplexityWhatsAppEnd)
			}
			before++
		}
	}
	if before == 0 {
		t.Error("no Perplexity WhatsApp events before its end")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"to before from", Config{From: date("2025-02-01"), To: date("2025-01-01")}, "before from"},
		{"too early", Config{From: date("2010-01-01"), To: date("2011-01-01")}, "2015-01-01"},
		{"negative people", Config{People: -1}, "people"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New(%+v) error %v, want one naming %q", tc.cfg, err, tc.want)
			}
		})
	}
}

// TestFeaturesAndLinking: modalities of ChatGPT on WhatsApp switch on at
// their dates; accounts are linked only before the shutdown, and linked
// events follow a link.
func TestFeaturesAndLinking(t *testing.T) {
	g, err := New(Config{Seed: 5, People: 1500, From: date("2024-12-01"), To: date("2026-01-31")})
	if err != nil {
		t.Fatal(err)
	}
	type window struct{ before, after map[string]int }
	byMod := map[string]*window{}
	for _, d := range []struct {
		mod string
		at  time.Time
	}{{"image", ImageInputDate}, {"voice", VoiceInputDate}, {"image_generation", ImageGenerationDate}} {
		byMod[d.mod] = &window{map[string]int{}, map[string]int{}}
	}
	at := map[string]time.Time{"image": ImageInputDate, "voice": VoiceInputDate, "image_generation": ImageGenerationDate}
	linkedAt := map[string]time.Time{}
	var waBeforeLaunch, links int
	for e := range g.Events() {
		if e.Assistant == "chatgpt" && e.Channel == "whatsapp" {
			if e.Time.Before(ChatGPTWhatsAppLaunch) {
				waBeforeLaunch++
			}
			for mod, w := range byMod {
				if e.Time.Before(at[mod]) {
					w.before[e.Modality]++
				} else {
					w.after[e.Modality]++
				}
			}
		}
		if e.EventType == "account_linked" {
			links++
			if !e.Time.Before(Shutdown) || e.Assistant != "chatgpt" || e.Channel != "whatsapp" || !e.Linked {
				t.Fatalf("link event %+v: want ChatGPT WhatsApp, linked, before the shutdown", e)
			}
			linkedAt[e.UserID] = e.Time
		}
		if e.Linked {
			d, ok := linkedAt[e.UserID]
			if !ok || e.Time.Before(d) || e.Assistant != "chatgpt" {
				t.Fatalf("linked event %+v without an earlier account_linked event", e)
			}
		}
	}
	if waBeforeLaunch != 0 {
		t.Errorf("%d ChatGPT WhatsApp events before its launch", waBeforeLaunch)
	}
	if links == 0 {
		t.Error("no account_linked events")
	}
	for mod, w := range byMod {
		if w.before[mod] != 0 || w.after[mod] == 0 {
			t.Errorf("ChatGPT WhatsApp %s events: %d before %s, %d after; want none before, some after",
				mod, w.before[mod], at[mod].Format(time.DateOnly), w.after[mod])
		}
	}
}
