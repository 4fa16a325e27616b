package demo

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// PanelName is the demo's consumer panel: every synthetic person is a
// member of it, so the dashboard can show what weighting a panel does.
const PanelName = "demo_panel"

// The demo panel is skewed against its synthetic population the way real
// panels are: France joins more than three times as readily as elsewhere
// (its population target is 1 % where 3.5 % of members live there), and
// iPhone owners are twice as large a share of the members as of the
// population.
var (
	populationPerWeight = 10_000_000.0 // people per unit of countryWeights
	franceShare         = 0.3          // of France's weight, in the population
	platformTargets     = map[string]float64{"ios": 0.20, "android": 0.65, "web": 0.10, "desktop": 0.05}
)

// PanelMembersCSV lists every person of the data set of cfg as a member
// of PanelName (CSV with a header, as POST /api/v1/panel/members takes
// it): country as in their events, platform their main channel's (an app
// or the web), or for a messaging channel an iPhone for 75 % of them.
func PanelMembersCSV(cfg Config) (string, error) {
	g, err := New(cfg)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("panel,user_id,country,platform\n")
	for i := range g.people {
		p := &g.people[i]
		platform := channels[p.habits[0].channel]
		switch platform {
		case "ios", "android", "web", "desktop":
		default:
			platform = "android"
			if splitmix64(uint64(i)^0xa11ce)%100 < 75 {
				platform = "ios"
			}
		}
		fmt.Fprintf(&b, "%s,%s,%s,%s\n", PanelName, p.userID, countryWeights[p.country].code, platform)
	}
	return b.String(), nil
}

// PanelTargetsCSV is the synthetic population of the demo panel for each
// month of cfg's range (CSV with a header, as POST /api/v1/panel/targets
// takes it): by country and by platform, the same every month.
func PanelTargetsCSV(cfg Config) string {
	cfg = cfg.WithDefaults()
	var b strings.Builder
	b.WriteString("panel,month,dimension,category,population\n")
	total := 0.0
	countries := map[string]float64{}
	for _, c := range countryWeights {
		w := c.weight
		if c.code == "FR" {
			w *= franceShare
		}
		countries[c.code] = w * populationPerWeight
		total += w * populationPerWeight
	}
	codes := make([]string, 0, len(countries))
	for c := range countries {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	platforms := []string{"android", "desktop", "ios", "web"}
	first := time.Date(cfg.From.Year(), cfg.From.Month(), 1, 0, 0, 0, 0, time.UTC)
	for m := first; !m.After(cfg.To); m = m.AddDate(0, 1, 0) {
		month := m.Format("2006-01")
		for _, c := range codes {
			fmt.Fprintf(&b, "%s,%s,country,%s,%.0f\n", PanelName, month, c, countries[c])
		}
		for _, p := range platforms {
			fmt.Fprintf(&b, "%s,%s,platform,%s,%.0f\n", PanelName, month, p, platformTargets[p]*total)
		}
	}
	return b.String()
}
