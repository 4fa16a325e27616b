package breaks_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/adoptscope/adoptscope/breaks"
)

// syntheticSeries is a year of daily active people: a level, the demo's
// weekly cycle, a slow trend (up to ±30 % over the year), autocorrelated
// noise (AR(1), φ = 0.5, 3 %) and Poisson counting noise, with 0 to 3
// level changes of 25–80 % (a quarter of them drops to zero) at least 30
// days apart and 20 days from the ends. It returns the series and the
// first days of the new levels.
func syntheticSeries(seed uint64) ([]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 0xB4EA))
	weekday := [7]float64{0.74, 1.0, 1.02, 1.02, 1.0, 0.95, 0.80}
	const n = 365
	level := 30 + r.Float64()*3000
	trend := (r.Float64() - 0.5) * 0.6 / n
	var cps []int
	for k := r.IntN(4); k > 0; k-- {
		for try := 0; try < 50; try++ {
			c := 20 + r.IntN(n-40)
			ok := true
			for _, o := range cps {
				if abs(o-c) < 30 {
					ok = false
				}
			}
			if ok {
				cps = append(cps, c)
				break
			}
		}
	}
	sortInts(cps)
	factor := map[int]float64{}
	for _, c := range cps {
		size := 0.25 + r.Float64()*0.55
		switch {
		case r.IntN(4) == 0:
			factor[c] = 0
		case r.IntN(2) == 0:
			factor[c] = 1 - size
		default:
			factor[c] = 1 + size
		}
	}
	offset := r.IntN(7)
	var y []float64
	var ar float64
	for t := 0; t < n; t++ {
		if f, ok := factor[t]; ok {
			if level == 0 || f == 0 && level < 1 {
				level = 30 + r.Float64()*300 // back from zero
			} else {
				level *= f
			}
		}
		ar = 0.5*ar + r.NormFloat64()*0.03
		l := level * weekday[(t+offset)%7] * (1 + trend*float64(t)) * (1 + ar)
		y = append(y, poisson(r, l))
	}
	return y, cps
}

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

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

// TestDetectPrecisionRecall: on 200 synthetic years with known breaks, a
// detected break is right when a true one starts within tol days; the
// floors are asserted at 2 days, the figures logged at 0, 1, 2 and 3.
func TestDetectPrecisionRecall(t *testing.T) {
	type run struct {
		y   []float64
		cps []int
		got []breaks.Break
	}
	var runs []run
	trueBreaks := 0
	inSupport := 0
	for seed := uint64(1); seed <= 200; seed++ {
		y, cps := syntheticSeries(seed)
		got := breaks.Detect(y, breaks.Options{})
		runs = append(runs, run{y, cps, got})
		trueBreaks += len(cps)
		for _, b := range got {
			if b.First > b.Index || b.Last < b.Index {
				t.Fatalf("seed %d: break at %d outside its range %d..%d", seed, b.Index, b.First, b.Last)
			}
			for _, c := range cps {
				if c >= b.First && c <= b.Last {
					inSupport++
				}
			}
		}
	}
	for _, tol := range []int{0, 1, 2, 3} {
		tp, detected, found := 0, 0, 0
		for _, r := range runs {
			detected += len(r.got)
			for _, b := range r.got {
				for _, c := range r.cps {
					if abs(b.Index-c) <= tol {
						tp++
						break
					}
				}
			}
			for _, c := range r.cps {
				for _, b := range r.got {
					if abs(b.Index-c) <= tol {
						found++
						break
					}
				}
			}
		}
		precision := float64(tp) / float64(max(detected, 1))
		recall := float64(found) / float64(max(trueBreaks, 1))
		t.Logf("within %d days: precision %.3f (%d of %d detected), recall %.3f (%d of %d true breaks)", tol, precision, tp, detected, recall, found, trueBreaks)
		if tol == 2 && (precision < 0.9 || recall < 0.9) {
			t.Errorf("within 2 days: precision %.3f, recall %.3f; want both at least 0.9", precision, recall)
		}
	}
	t.Logf("true breaks inside a detected break's date range: %d of %d", inSupport, trueBreaks)
}

func TestDetectSizes(t *testing.T) {
	// 60 days at 100 a day, then 60 at 40, no noise and no weekly cycle.
	var y []float64
	for i := 0; i < 120; i++ {
		if i < 60 {
			y = append(y, 100)
		} else {
			y = append(y, 40)
		}
	}
	got := breaks.Detect(y, breaks.Options{})
	if len(got) != 1 || got[0].Index != 60 || got[0].First != 60 || got[0].Last != 60 {
		t.Fatalf("got %+v, want one break at 60 with range 60..60", got)
	}
	if got[0].Before != 100 || got[0].After != 40 || got[0].Change() != -60 || got[0].ChangePct() != -60 {
		t.Errorf("sizes %+v", got[0])
	}
	// Too short, or flat: nothing.
	if b := breaks.Detect(y[:10], breaks.Options{}); b != nil {
		t.Errorf("10 days: %+v", b)
	}
	flat := make([]float64, 200)
	for i := range flat {
		flat[i] = 500
	}
	if b := breaks.Detect(flat, breaks.Options{}); len(b) != 0 {
		t.Errorf("flat: %+v", b)
	}
}
