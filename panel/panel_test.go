package panel

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestRakeMatchesBalance: on a small fixed panel, the raked weights equal
// those of an independent implementation, Meta's balance 0.23.0
// (testdata/rake_balance.py wrote testdata/rake_balance.json). Raking
// from equal start weights has one fixed point, so with trimming out of
// the way the two must agree.
func TestRakeMatchesBalance(t *testing.T) {
	raw, err := os.ReadFile("testdata/rake_balance.json")
	if err != nil {
		t.Fatal(err)
	}
	var fx struct {
		Members [][2]string
		Targets Targets
		Weights []float64
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	members := make([]Member, len(fx.Members))
	for i, m := range fx.Members {
		members[i] = Member{Key: uint64(i), Cats: []string{m[0], m[1]}}
	}
	w, err := Rake([]string{"country", "platform"}, members, fx.Targets, RakeOptions{Tolerance: 1e-10, TrimLow: 1e-9, TrimHigh: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	if !w.Converged {
		t.Fatalf("not converged after %d iterations", w.Iterations)
	}
	for i := range members {
		if math.Abs(w.W[i]-fx.Weights[i]) > 1e-6*fx.Weights[i] {
			t.Errorf("member %d %v: weight %.9f, balance %.9f", i, fx.Members[i], w.W[i], fx.Weights[i])
		}
	}
}

// TestRakeMeetsMarginsAndReports: margins within 0.1 % after trimming and
// raking again; a member whose category has no target, and a target with
// no member, are reported, never dropped silently.
func TestRakeMeetsMarginsAndReports(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	countries := []string{"FR", "EG", "IN", "US"}
	platforms := []string{"ios", "android", "desktop"}
	var members []Member
	for i := range 3000 {
		c := countries[rng.IntN(len(countries))]
		if rng.Float64() < 0.5 {
			c = "FR" // FR over-represented
		}
		members = append(members, Member{Key: uint64(i), Cats: []string{c, platforms[rng.IntN(3)]}})
	}
	members = append(members, Member{Key: 99999, Cats: []string{"BR", "ios"}})
	targets := Targets{
		"country":  {"FR": 68e6, "EG": 110e6, "IN": 1400e6, "US": 330e6, "JP": 0},
		"platform": {"ios": 500e6, "android": 1300e6, "desktop": 108e6, "web": 5e6},
	}
	w, err := Rake([]string{"country", "platform"}, members, targets, RakeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range w.Margins {
		if m.Target > 0 && m.Weighted > 0 && math.Abs(m.Weighted-m.Target) > 0.001*m.Target {
			t.Errorf("%s=%s: weighted %.0f, target %.0f", m.Dimension, m.Category, m.Weighted, m.Target)
		}
	}
	if len(w.Uncovered) != 1 || w.Uncovered[0] != "country=BR" {
		t.Errorf("uncovered %v, want [country=BR]", w.Uncovered)
	}
	if len(w.Empty) != 1 || w.Empty[0] != "platform=web" {
		t.Errorf("empty %v, want [platform=web] (JP's target is 0)", w.Empty)
	}
	if w.W[len(members)-1] != 0 {
		t.Errorf("the uncovered member weighs %v, want 0", w.W[len(members)-1])
	}
	// Kish: n_eff and the design effect from the weights, computed here.
	var s, s2 float64
	n := 0
	for _, x := range w.W {
		if x > 0 {
			s, s2, n = s+x, s2+x*x, n+1
		}
	}
	if math.Abs(w.NEff-s*s/s2) > 1e-6 || math.Abs(w.DesignEffect-float64(n)*s2/(s*s)) > 1e-9 {
		t.Errorf("n_eff %v deff %v, want %v %v", w.NEff, w.DesignEffect, s*s/s2, float64(n)*s2/(s*s))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range w.W {
		if x > 0 {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if w.Min != lo || w.Max != hi {
		t.Errorf("min %v max %v, want %v %v", w.Min, w.Max, lo, hi)
	}
}

// TestTrimmingThenRakingMeetsMargins: trimming runs (it costs raking
// rounds), and raking again after it meets the margins even where the
// bounds cannot hold with them: the margins win, and Min/Max say how far.
func TestTrimmingThenRakingMeetsMargins(t *testing.T) {
	// 100 members in A, 10 in B; B is half the population: untrimmed,
	// B's members would weigh 10 times A's (about 5.5 times the mean).
	var members []Member
	for i := range 110 {
		c, p := "A", []string{"x", "y"}[i%2]
		if i >= 100 {
			c = "B"
		}
		members = append(members, Member{Key: uint64(i), Cats: []string{c, p}})
	}
	targets := Targets{"group": {"A": 500, "B": 500}, "kind": {"x": 550, "y": 450}}
	untrimmed, err := Rake([]string{"group", "kind"}, members, targets, RakeOptions{TrimLow: 1e-9, TrimHigh: 1e9})
	if err != nil {
		t.Fatal(err)
	}
	trimmed, err := Rake([]string{"group", "kind"}, members, targets, RakeOptions{TrimHigh: 3})
	if err != nil {
		t.Fatal(err)
	}
	mean := 1000.0 / 110
	if untrimmed.Max <= 3*mean {
		t.Fatalf("untrimmed max %v: the example does not need trimming", untrimmed.Max)
	}
	// Group B cannot be met with weights at most 3 x the mean (10 members
	// x 27.3 < 500): margins win, and the fit says which ones still miss.
	for _, m := range trimmed.Margins {
		if math.Abs(m.Weighted-m.Target) > 0.001*m.Target {
			t.Errorf("%s=%s weighted %v, target %v", m.Dimension, m.Category, m.Weighted, m.Target)
		}
	}
	if trimmed.Iterations <= untrimmed.Iterations {
		t.Errorf("trimming took %d iterations, raking alone %d: no trim round ran", trimmed.Iterations, untrimmed.Iterations)
	}
}

// population is a synthetic population with known attributes and use of
// one assistant; a panel is drawn from it with an inclusion probability
// that depends on country and platform.
type person struct {
	country, platform int
	uses              bool
}

var (
	popCountries = []string{"FR", "EG", "IN", "US"}
	popPlatforms = []string{"ios", "android", "desktop"}
)

func makePopulation(rng *rand.Rand, size int) []person {
	countryShare := []float64{0.15, 0.25, 0.45, 0.15}
	// Platform mix differs by country; use differs by country and platform.
	platformShare := [][]float64{{0.5, 0.3, 0.2}, {0.2, 0.7, 0.1}, {0.1, 0.8, 0.1}, {0.5, 0.3, 0.2}}
	use := [][]float64{{0.35, 0.20, 0.30}, {0.15, 0.10, 0.20}, {0.12, 0.08, 0.25}, {0.40, 0.25, 0.35}}
	pick := func(p []float64) int {
		x := rng.Float64()
		for i, v := range p {
			if x < v {
				return i
			}
			x -= v
		}
		return len(p) - 1
	}
	out := make([]person, size)
	for i := range out {
		c := pick(countryShare)
		p := pick(platformShare[c])
		out[i] = person{country: c, platform: p, uses: rng.Float64() < use[c][p]}
	}
	return out
}

// TestEstimatesCoverTheTruth: over many panels drawn with a skew (France
// and iPhone owners join three times as readily), the 95 % intervals of
// the population of users contain the truth in at least 90 % of panels,
// and the weighted estimate errs less than the raw count scaled by the
// population over the panel.
func TestEstimatesCoverTheTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 200 panels")
	}
	pop := makePopulation(rand.New(rand.NewPCG(1, 1)), 400_000)
	targets := Targets{"country": {}, "platform": {}}
	truth := 0.0
	for _, p := range pop {
		targets["country"][popCountries[p.country]]++
		targets["platform"][popPlatforms[p.platform]]++
		if p.uses {
			truth++
		}
	}
	inclCountry := []float64{3, 1, 1, 1}
	inclPlatform := []float64{3, 1, 1}
	const seeds = 200
	covered, suppressed := 0, 0
	var errW, errRaw float64
	for seed := uint64(1); seed <= seeds; seed++ {
		rng := rand.New(rand.NewPCG(seed, 99))
		var members []Member
		var active []bool
		for i, p := range pop {
			if rng.Float64() < 0.002*inclCountry[p.country]*inclPlatform[p.platform] {
				members = append(members, Member{Key: uint64(i), Cats: []string{popCountries[p.country], popPlatforms[p.platform]}})
				active = append(active, p.uses)
			}
		}
		d, err := NewDesign([]string{"country", "platform"}, members, targets, RakeOptions{}, 60, seed)
		if err != nil {
			t.Fatal(err)
		}
		e := d.Total(active)
		if e.Value == nil {
			suppressed++
			continue
		}
		if e.Low <= truth && truth <= e.High {
			covered++
		}
		raw := 0.0
		for _, a := range active {
			if a {
				raw++
			}
		}
		raw *= float64(len(pop)) / float64(len(members))
		errW += math.Abs(*e.Value - truth)
		errRaw += math.Abs(raw - truth)
	}
	coverage := float64(covered) / float64(seeds-suppressed)
	t.Logf("truth %.0f; coverage %.3f over %d panels (%d suppressed); mean abs error weighted %.0f, raw scaled %.0f",
		truth, coverage, seeds, suppressed, errW/seeds, errRaw/seeds)
	if suppressed > 0 {
		t.Errorf("%d estimates suppressed from ~1,500-member panels", suppressed)
	}
	if coverage < 0.9 {
		t.Errorf("95 %% intervals cover the truth in %.1f %% of panels, want at least 90 %%", coverage*100)
	}
	if errW >= errRaw {
		t.Errorf("weighted estimates err %.0f on average, raw scaled counts %.0f: weighting did not help", errW/seeds, errRaw/seeds)
	}
}

// TestSmallCountsAreSuppressed: an estimate counting fewer than 30
// effective members is withheld, with its grade saying so.
func TestSmallCountsAreSuppressed(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var members []Member
	for i := range 2000 {
		members = append(members, Member{Key: uint64(i), Cats: []string{popCountries[rng.IntN(4)]}})
	}
	targets := Targets{"country": {"FR": 1e6, "EG": 2e6, "IN": 5e6, "US": 2e6}}
	d, err := NewDesign([]string{"country"}, members, targets, RakeOptions{}, 40, 1)
	if err != nil {
		t.Fatal(err)
	}
	few := make([]bool, len(members))
	for i := range 12 {
		few[i] = true
	}
	if e := d.Total(few); e.Confidence != Suppressed || e.Value != nil || e.N != 12 || e.NEff >= MinNEff {
		t.Errorf("12 members: %+v, want suppressed with no value", e)
	}
	many := make([]bool, len(members))
	for i := range 600 {
		many[i] = true
	}
	if e := d.Total(many); e.Confidence == Suppressed || e.Value == nil || e.NEff < MinNEff {
		t.Errorf("600 members: %+v, want a value", e)
	}
	for _, c := range []struct {
		v, lo, hi, neff float64
		want            string
	}{
		{100, 95, 105, 200, High}, {100, 85, 115, 200, Medium}, {100, 60, 140, 200, Low}, {100, 95, 105, 29, Suppressed},
	} {
		if got := Grade(c.v, c.lo, c.hi, c.neff); got != c.want {
			t.Errorf("Grade(%v, %v, %v, %v) = %s, want %s", c.v, c.lo, c.hi, c.neff, got, c.want)
		}
	}
}
