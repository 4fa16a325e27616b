package query_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/adoptscope/adoptscope/query"
)

// syntheticPair generates a treated and a control daily series that share
// a weekly cycle, a trend and common day-to-day shocks, each with its own
// autocorrelated noise (AR(1), φ = 0.5) and Poisson counting noise; from
// day before on, the treated series' expected level is multiplied by
// (1 + effect). It returns the series and the true effect per day: the
// mean over the after days of the expected level with the effect minus
// the expected level without it.
func syntheticPair(seed uint64, before, after int, effect float64) (treated, control []float64, truth float64) {
	r := rand.New(rand.NewPCG(seed, 0x5EED))
	weekday := [7]float64{0.74, 1.0, 1.02, 1.02, 1.0, 0.95, 0.80}
	baseT := 200 + r.Float64()*1800
	baseC := 500 + r.Float64()*5000
	slope := (r.Float64() - 0.5) * 0.4 / float64(before+after) // ±20 % over the windows
	offset := r.IntN(7)
	var common, noiseT, noiseC float64
	n := before + after
	for t := range n {
		common = 0.5*common + r.NormFloat64()*0.03
		noiseT = 0.5*noiseT + r.NormFloat64()*0.03
		noiseC = 0.5*noiseC + r.NormFloat64()*0.02
		level := weekday[(t+offset)%7] * (1 + slope*float64(t)) * (1 + common)
		lt := baseT * level * (1 + noiseT)
		lc := baseC * level * (1 + noiseC)
		if t >= before {
			truth += lt * effect
			lt *= 1 + effect
		}
		treated = append(treated, poisson(r, lt))
		control = append(control, poisson(r, lc))
	}
	return treated, control, truth / float64(after)
}

// poisson draws a Poisson count of mean l (normal approximation above 50).
func poisson(r *rand.Rand, l float64) float64 {
	if l <= 0 {
		return 0
	}
	if l > 50 {
		return math.Max(0, math.Round(l+math.Sqrt(l)*r.NormFloat64()))
	}
	k, p, lim := 0.0, 1.0, math.Exp(-l)
	for {
		p *= r.Float64()
		if p <= lim {
			return k
		}
		k++
	}
}

// TestImpactIntervalCoverage: on 100 fixed seeds of synthetic series with
// a known effect, the true effect lies inside the 95 % interval at least
// 90 times; on series with no effect the interval holds 0 at least 90
// times. Also for the shortest windows accepted.
func TestImpactIntervalCoverage(t *testing.T) {
	for _, c := range []struct {
		name          string
		before, after int
		effect        float64
	}{
		{"28/28 days, −35 %", 28, 28, -0.35},
		{"28/28 days, no effect", 28, 28, 0},
		{"56/28 days, +20 %", 56, 28, 0.20},
		{"14/14 days, no effect", 14, 14, 0},
		{"14/14 days, −50 %", 14, 14, -0.5},
		{"91/28 days, no effect", 91, 28, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			inside, width := 0, 0.0
			for seed := uint64(1); seed <= 100; seed++ {
				tr, co, truth := syntheticPair(seed, c.before, c.after, c.effect)
				e, err := query.EstimateImpact(tr, co, c.before)
				if err != nil {
					t.Fatal(err)
				}
				if e.Low <= truth && truth <= e.High {
					inside++
				}
				width += (e.High - e.Low) / e.TreatedBefore
				if c.effect == 0 && truth != 0 {
					t.Fatalf("no-effect series has truth %v", truth)
				}
			}
			t.Logf("%s: true effect inside the 95 %% interval in %d of 100 seeds; mean width %.1f %% of the level before", c.name, inside, width)
			if inside < 90 {
				t.Errorf("true effect inside the interval in %d of 100 seeds, want at least 90", inside)
			}
		})
	}
}

func TestImpactEstimateValues(t *testing.T) {
	// Hand-computed: treated 100 a day before, 60 after; controls 200
	// before, 220 after: scale 0.5, counterfactual 110, effect −50 (−45.45 %).
	var tr, co []float64
	for i := range 28 {
		if i < 14 {
			tr, co = append(tr, 100), append(co, 200)
		} else {
			tr, co = append(tr, 60), append(co, 220)
		}
	}
	e, err := query.EstimateImpact(tr, co, 14)
	if err != nil {
		t.Fatal(err)
	}
	if e.Scale != 0.5 || e.Counterfactual != 110 || e.Effect != -50 || math.Abs(e.EffectPct-(-50.0/110*100)) > 1e-9 {
		t.Fatalf("got scale %v counterfactual %v effect %v (%v %%)", e.Scale, e.Counterfactual, e.Effect, e.EffectPct)
	}
	if e.Low != -50 || e.High != -50 {
		t.Errorf("constant series: interval %v..%v, want exactly −50", e.Low, e.High)
	}
	if e.Fit.RMSE != 0 {
		t.Errorf("pre-fit RMSE %v, want 0", e.Fit.RMSE)
	}

	for _, c := range []struct {
		before int
		tr, co []float64
		want   string
	}{
		{10, tr[:24], co[:24], "each window needs at least 14"},
		{14, append(make([]float64, 14), tr[14:]...), co, "treated series has no activity before"},
		{14, tr, append(make([]float64, 14), co[14:]...), "controls have no activity before"},
		{14, tr, co[:20], "28 treated days but 20 control days"},
	} {
		_, err := query.EstimateImpact(c.tr, c.co, c.before)
		if err == nil || !contains(err.Error(), c.want) {
			t.Errorf("want an error with %q, got %v", c.want, err)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
