package panel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/chtest"
	"github.com/adoptscope/adoptscope/panel"
	"github.com/adoptscope/adoptscope/schema/schematest"
)

// TestPopulationEstimatesEndToEnd: a synthetic population with known
// countries, platforms and use of two assistants over March 2026; panels
// drawn from it with France and iPhone owners three times as likely to
// join; the panels' events, members and the population's margins sent
// through the store. The 95 % intervals of monthly and daily active people
// contain the truth (counted in the population itself) in at least 90 % of
// the cells, the weighted estimates err less than raw counts scaled by
// population / panel, and the margins are met within 0.1 %.
func TestPopulationEstimatesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("weighs 24 panels")
	}
	s := chtest.NewStore(t)
	key := func(id string) uint64 { n, _ := strconv.ParseUint(strings.TrimPrefix(id, "u"), 10, 64); return n }
	svc := panel.NewService(s, key)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	countries, platforms := []string{"FR", "EG", "IN"}, []string{"ios", "android"}
	type person struct {
		c, p int
		days map[string][]int // assistant -> active days of March (1..31)
	}
	const size = 60000
	pop := make([]person, size)
	for i := range pop {
		c := []int{0, 1, 1, 2, 2, 2}[rng.IntN(6)]
		p := 1
		if rng.Float64() < []float64{0.55, 0.25, 0.15}[c] {
			p = 0
		}
		pr := person{c: c, p: p, days: map[string][]int{}}
		// ChatGPT use rises with iOS and France; Meta AI with Android.
		for a, prob := range map[string]float64{"chatgpt": []float64{0.5, 0.25, 0.2}[c] + 0.2*float64(1-p), "meta_ai": 0.15 + 0.25*float64(p)} {
			if rng.Float64() < prob {
				for d := 1; d <= 31; d++ {
					if rng.Float64() < 0.25 {
						pr.days[a] = append(pr.days[a], d)
					}
				}
			}
		}
		pop[i] = pr
	}
	// Truth: active people in March and on each day, per assistant.
	truthMonth := map[string]float64{}
	truthDay := map[string]map[int]float64{"chatgpt": {}, "meta_ai": {}}
	for _, pr := range pop {
		for a, ds := range pr.days {
			if len(ds) > 0 {
				truthMonth[a]++
			}
			for _, d := range ds {
				truthDay[a][d]++
			}
		}
	}
	// Panels, events of their members (once per person), members, targets.
	const panels = 24
	inPanel := map[int]bool{}
	var members [panels]strings.Builder
	for k := range panels {
		members[k].WriteString("panel,user_id,country,platform\n")
		for i, pr := range pop {
			if rng.Float64() < 0.012*[]float64{3, 1, 1}[pr.c]*[]float64{3, 1}[pr.p] {
				inPanel[i] = true
				fmt.Fprintf(&members[k], "p%d,u%d,%s,%s\n", k, i+1, countries[pr.c], platforms[pr.p])
			}
		}
	}
	var evs []schematest.Event
	for i := range inPanel {
		for a, ds := range pop[i].days {
			for _, d := range ds {
				evs = append(evs, schematest.Event{Time: time.Date(2026, 3, d, 10, 0, 0, 0, time.UTC), Assistant: a, User: uint64(i + 1), Country: countries[pop[i].c]})
			}
		}
	}
	schematest.InsertAndBuild(t, s, "pe", evs)
	var targets strings.Builder
	targets.WriteString("panel,month,dimension,category,population\n")
	cnt := map[string]int{}
	for _, pr := range pop {
		cnt["country,"+countries[pr.c]]++
		cnt["platform,"+platforms[pr.p]]++
	}
	for k := range panels {
		for cell, n := range cnt {
			fmt.Fprintf(&targets, "p%d,2026-03,%s,%d\n", k, cell, n)
		}
		if res, err := svc.SubmitMembers(ctx, strings.NewReader(members[k].String()), true); err != nil || res.Rejected != 0 {
			t.Fatalf("members: %+v %v", res, err)
		}
	}
	if res, err := svc.SubmitTargets(ctx, strings.NewReader(targets.String()), true); err != nil || res.Rejected != 0 {
		t.Fatalf("targets: %+v %v", res, err)
	}
	cells, covered := 0, 0
	var errW, errRaw float64
	for k := range panels {
		name := fmt.Sprintf("p%d", k)
		rep, err := svc.Weigh(ctx, name, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range rep.Weights.Margins {
			if d := m.Weighted - m.Target; d > 0.001*m.Target || d < -0.001*m.Target {
				t.Errorf("%s %s=%s weighted %v, target %v", name, m.Dimension, m.Category, m.Weighted, m.Target)
			}
		}
		scale := float64(size) / float64(rep.Members)
		check := func(truth float64, e panel.Estimate) {
			cells++
			if e.Value == nil {
				t.Errorf("%s: estimate suppressed (n %d, n_eff %.0f)", name, e.N, e.NEff)
				return
			}
			if e.Low <= truth && truth <= e.High {
				covered++
			}
			errW += abs(*e.Value - truth)
			errRaw += abs(float64(e.N)*scale - truth)
		}
		for _, iv := range []string{"month", "day"} {
			rows, err := svc.Series(ctx, panel.SeriesRequest{Panel: name, Interval: iv, From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
				To: time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), By: []string{"assistant"}})
			if err != nil {
				t.Fatal(err)
			}
			want := 2
			if iv == "day" {
				want = 62
			}
			if len(rows) != want {
				t.Fatalf("%s by %s: %d rows, want %d", name, iv, len(rows), want)
			}
			for _, r := range rows {
				if iv == "month" {
					check(truthMonth[r.Dims[0]], r.Estimate)
				} else {
					check(truthDay[r.Dims[0]][r.Period.Day()], r.Estimate)
				}
			}
		}
	}
	coverage := float64(covered) / float64(cells)
	t.Logf("%d cells over %d panels: coverage %.3f; mean abs error weighted %.0f, raw scaled %.0f people", cells, panels, coverage, errW/float64(cells), errRaw/float64(cells))
	if coverage < 0.9 {
		t.Errorf("95 %% intervals cover the truth in %.1f %% of cells, want at least 90 %%", coverage*100)
	}
	if errW >= errRaw {
		t.Errorf("weighted error %.0f >= raw scaled %.0f", errW, errRaw)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
