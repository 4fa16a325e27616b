package query_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/query"
)

// goldenMigrationLinked decides each person's outcome in a plain loop.
// Outcome keys: "stayed", "moved A C" (new there), "already A C" (active on
// A C at any time before date), "inactive"; linkedBy counts the linked
// members of each key.
func goldenMigrationLinked(evs []ev, a, c string, date time.Time, before, after int) (cohort, linked uint64, outcomes, linkedBy map[string]uint64, perPerson map[uint64]string) {
	start, end := date.AddDate(0, 0, -before), date.AddDate(0, 0, after)
	members := map[uint64]bool{}
	for _, e := range evs {
		if e.assistant == a && e.channel == c && !e.day().Before(start) && e.day().Before(date) {
			members[e.user] = true
		}
	}
	isLinked := map[uint64]bool{}
	sums := map[uint64]map[[2]string]uint64{}
	wasThere := map[uint64]map[[2]string]bool{}
	for _, e := range evs {
		if !members[e.user] {
			continue
		}
		if e.assistant == a && e.day().Before(date) && (e.linked || e.etype == "account_linked") {
			isLinked[e.user] = true
		}
		if e.day().Before(date) {
			if wasThere[e.user] == nil {
				wasThere[e.user] = map[[2]string]bool{}
			}
			wasThere[e.user][[2]string{e.assistant, e.channel}] = true
		}
		if !e.day().Before(date) && e.day().Before(end) {
			if sums[e.user] == nil {
				sums[e.user] = map[[2]string]uint64{}
			}
			sums[e.user][[2]string{e.assistant, e.channel}] += uint64(e.count)
		}
	}
	outcomes, linkedBy = map[string]uint64{}, map[string]uint64{}
	perPerson = map[uint64]string{}
	for u := range members {
		cohort++
		if isLinked[u] {
			linked++
		}
		out := "inactive"
		if s := sums[u]; len(s) > 0 {
			if _, ok := s[[2]string{a, c}]; ok {
				out = "stayed"
			} else {
				var best [2]string
				var bestN uint64
				for k, n := range s {
					if n > bestN || (n == bestN && (k[0] < best[0] || (k[0] == best[0] && k[1] < best[1]))) {
						best, bestN = k, n
					}
				}
				out = "moved " + best[0] + " " + best[1]
				if wasThere[u][best] {
					out = "already " + best[0] + " " + best[1]
				}
			}
		}
		perPerson[u] = out
		outcomes[out]++
		if isLinked[u] {
			linkedBy[out]++
		}
	}
	return cohort, linked, outcomes, linkedBy, perPerson
}

func outcomeKey(o query.MigrationOutcome) string {
	switch o.Outcome {
	case "moved":
		return "moved " + o.Assistant + " " + o.Channel
	case "already_there":
		return "already " + o.Assistant + " " + o.Channel
	}
	return o.Outcome
}

func resultOutcomes(res query.MigrationResult) map[string]uint64 {
	out := map[string]uint64{}
	for _, o := range res.Outcomes {
		if o.Users > 0 {
			out[outcomeKey(o)] += o.Users
		}
	}
	return out
}

func resultLinked(res query.MigrationResult) map[string]uint64 {
	out := map[string]uint64{}
	for _, o := range res.Outcomes {
		if o.Linked > 0 {
			out[outcomeKey(o)] += o.Linked
		}
	}
	return out
}

// migrationPeople: one person per rule of the definition, source
// chatgpt/whatsapp, date 2026-01-15, 7 days before and after.
func migrationPeople() (evs []ev, want map[uint64]string, wantLinked uint64) {
	at := func(day string, u uint64, a, c string, n uint32) ev {
		return ev{t: d(day).Add(10 * time.Hour), assistant: a, channel: c, country: "EG", modality: "text", etype: "message", user: u, count: n}
	}
	want = map[uint64]string{}
	add := func(u uint64, outcome string, es ...ev) {
		evs = append(evs, es...)
		if outcome != "" {
			want[u] = outcome
		}
	}
	// stayed although most of the window was spent elsewhere
	add(1, "stayed", at("2026-01-10", 1, "chatgpt", "whatsapp", 1), at("2026-01-16", 1, "chatgpt", "whatsapp", 1), at("2026-01-16", 1, "meta_ai", "whatsapp", 50))
	// moved to the largest sum of count
	add(2, "moved chatgpt ios", at("2026-01-14", 2, "chatgpt", "whatsapp", 1), at("2026-01-15", 2, "chatgpt", "ios", 3), at("2026-01-17", 2, "meta_ai", "whatsapp", 2))
	// moved to a place they had used long before the cohort window: already there
	add(13, "already chatgpt ios", at("2025-11-02", 13, "chatgpt", "ios", 1), at("2026-01-14", 13, "chatgpt", "whatsapp", 1), at("2026-01-16", 13, "chatgpt", "ios", 2))
	// a tie: assistant alphabetically first wins
	add(3, "moved chatgpt web", at("2026-01-08", 3, "chatgpt", "whatsapp", 1), at("2026-01-20", 3, "meta_ai", "android", 4), at("2026-01-21", 3, "chatgpt", "web", 4))
	// a tie on the assistant: channel alphabetically first wins
	add(4, "moved chatgpt android", at("2026-01-08", 4, "chatgpt", "whatsapp", 1), at("2026-01-20", 4, "chatgpt", "web", 2), at("2026-01-21", 4, "chatgpt", "android", 2))
	// nothing in the window: inactive; the window's end is exclusive
	add(5, "inactive", at("2026-01-09", 5, "chatgpt", "whatsapp", 1), at("2026-01-22", 5, "chatgpt", "ios", 9))
	// linked by flag; inactive
	l := at("2026-01-12", 6, "chatgpt", "whatsapp", 1)
	l.linked = true
	add(6, "inactive", l)
	// linked by an account_linked event on another channel of the assistant
	al := at("2026-01-02", 7, "chatgpt", "ios", 1)
	al.etype = "account_linked"
	add(7, "already chatgpt ios", al, at("2026-01-13", 7, "chatgpt", "whatsapp", 1), at("2026-01-15", 7, "chatgpt", "ios", 1))
	// linked on another assistant: does not count
	ml := at("2026-01-02", 8, "meta_ai", "whatsapp", 1)
	ml.linked = true
	add(8, "inactive", ml, at("2026-01-13", 8, "chatgpt", "whatsapp", 1))
	// linked only after the date: does not count
	late := at("2026-01-16", 9, "chatgpt", "ios", 1)
	late.linked = true
	add(9, "moved chatgpt ios", at("2026-01-13", 9, "chatgpt", "whatsapp", 1), late)
	// first day of the cohort window is in, the day before is out
	add(10, "inactive", at("2026-01-08", 10, "chatgpt", "whatsapp", 1))
	add(11, "", at("2026-01-07", 11, "chatgpt", "whatsapp", 1))
	// active on the source only from the date: not in the cohort
	add(12, "", at("2026-01-15", 12, "chatgpt", "whatsapp", 1))
	return evs, want, 2
}

func TestMigrationPersonByPerson(t *testing.T) {
	s := chtestStore(t)
	evs, want, wantLinked := migrationPeople()
	insert(t, s, evs)
	cohort, linked, outcomes, linkedBy, per := goldenMigrationLinked(evs, "chatgpt", "whatsapp", d("2026-01-15"), 7, 7)
	// The plain-loop oracle agrees with the rules as written person by person.
	if len(per) != len(want) {
		t.Fatalf("oracle cohort %d, rules say %d", len(per), len(want))
	}
	for u, w := range want {
		if per[u] != w {
			t.Errorf("person %d: oracle %q, rules %q", u, per[u], w)
		}
	}
	if linked != wantLinked {
		t.Errorf("oracle linked %d, rules %d", linked, wantLinked)
	}
	res, err := query.Migration(context.Background(), s, query.MigrationRequest{Assistant: "chatgpt", Channel: "whatsapp", Date: d("2026-01-15"), BeforeDays: 7, AfterDays: 7})
	if err != nil {
		t.Fatal(err)
	}
	checkMigration(t, "crafted", res, cohort, linked, outcomes, linkedBy)
}

func checkMigration(t *testing.T, name string, res query.MigrationResult, cohort, linked uint64, outcomes map[string]uint64, linkedBy ...map[string]uint64) {
	t.Helper()
	if len(linkedBy) > 0 {
		got := resultLinked(res)
		for k, n := range linkedBy[0] {
			if got[k] != n {
				t.Errorf("%s: linked members of %s = %d, want %d", name, k, got[k], n)
			}
		}
		for k, n := range got {
			if linkedBy[0][k] != n {
				t.Errorf("%s: unexpected linked members of %s = %d", name, k, n)
			}
		}
	}
	if res.Cohort != cohort || res.Linked != linked {
		t.Errorf("%s: cohort %d linked %d, want %d and %d", name, res.Cohort, res.Linked, cohort, linked)
	}
	var sum uint64
	for _, o := range res.Outcomes {
		sum += o.Users
	}
	if sum != res.Cohort {
		t.Errorf("%s: outcomes add up to %d, cohort %d", name, sum, res.Cohort)
	}
	if res.Outcomes[0].Outcome != "stayed" || res.Outcomes[len(res.Outcomes)-1].Outcome != "inactive" {
		t.Errorf("%s: outcomes must start with stayed and end with inactive: %+v", name, res.Outcomes)
	}
	got := resultOutcomes(res)
	for k, n := range outcomes {
		if got[k] != n {
			t.Errorf("%s: %s = %d, want %d", name, k, got[k], n)
		}
	}
	for k, n := range got {
		if outcomes[k] != n {
			t.Errorf("%s: unexpected %s = %d", name, k, n)
		}
	}
}

func TestMigrationGolden(t *testing.T) {
	s := chtestStore(t)
	evs := goldenEvents()
	insert(t, s, evs)
	var names []string
	for _, a := range assistants {
		for _, c := range channels {
			for _, w := range [][2]int{{28, 28}, {7, 14}, {1, 1}} {
				for _, date := range []string{"2026-01-15", "2026-02-01"} {
					cohort, linked, outcomes, linkedBy, _ := goldenMigrationLinked(evs, a, c, d(date), w[0], w[1])
					res, err := query.Migration(context.Background(), s, query.MigrationRequest{Assistant: a, Channel: c, Date: d(date), BeforeDays: w[0], AfterDays: w[1]})
					if err != nil {
						t.Fatal(err)
					}
					name := fmt.Sprintf("%s/%s %s %v", a, c, date, w)
					checkMigration(t, name, res, cohort, linked, outcomes, linkedBy)
					names = append(names, name)
				}
			}
		}
	}
	sort.Strings(names)
	t.Logf("%d migrations checked", len(names))
}
