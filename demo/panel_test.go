package demo

import (
	"strconv"
	"strings"
	"testing"
)

// The demo panel is skewed against its population: France and iPhone
// owners are a larger share of the members than of the targets, so a
// weighted estimate differs visibly from the raw count.
func TestDemoPanelIsSkewed(t *testing.T) {
	cfg := Config{People: 2000, Seed: 3}
	members, err := PanelMembersCSV(cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(members), "\n")[1:]
	if len(lines) != 2000 {
		t.Fatalf("%d members, want one per person (2000)", len(lines))
	}
	var fr, ios int
	for _, l := range lines {
		f := strings.Split(l, ",")
		if f[0] != PanelName || !strings.HasPrefix(f[1], "demo-user-3-") {
			t.Fatalf("member %q", l)
		}
		if f[2] == "FR" {
			fr++
		}
		if f[3] == "ios" {
			ios++
		}
	}
	pop := map[string]float64{}
	var total float64
	targets := strings.Split(strings.TrimSpace(PanelTargetsCSV(cfg)), "\n")[1:]
	month := strings.Split(targets[0], ",")[1]
	for _, l := range targets {
		f := strings.Split(l, ",")
		if f[1] != month {
			continue
		}
		v, _ := strconv.ParseFloat(f[4], 64)
		pop[f[2]+"="+f[3]] = v
		if f[2] == "country" {
			total += v
		}
	}
	frMembers, frPop := float64(fr)/2000, pop["country=FR"]/total
	iosMembers, iosPop := float64(ios)/2000, pop["platform=ios"]/total
	if frMembers < 2.5*frPop || iosMembers < 1.5*iosPop {
		t.Errorf("FR %.3f of members vs %.3f of the population, iOS %.3f vs %.3f: want both over-represented", frMembers, frPop, iosMembers, iosPop)
	}
}
