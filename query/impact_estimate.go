package query

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// The impact estimator on plain daily series (README.md, "Impact of an
// event"): a difference in differences of the before- and after-window
// means of a treated series against a control series scaled to the treated
// one's level before the date, with a 95 % interval from a moving-block
// bootstrap over days. It knows nothing of ClickHouse: Impact feeds it the
// daily numbers of complete days.

// Bootstrap settings. A block is a week: each resampled block keeps a whole
// weekly cycle and the day-to-day dependence inside it.
const (
	ImpactBlockDays = 7
	ImpactResamples = 2000
	MinImpactDays   = 14 // complete days each window needs: two blocks
	impactLevel     = 0.95
	impactSeed      = 0x1A5C09E // a fixed seed: the same data gives the same interval
)

// PreFit says how well the scaled controls tracked the treated series
// before the date: the correlation of the daily values, and the root mean
// square of the daily gap (treated − scaled controls), also as a percentage
// of the treated mean. A poor fit (low correlation, a large gap) makes the
// estimate weak whatever its interval says.
type PreFit struct {
	Correlation float64 // NaN when a series is constant
	RMSE        float64
	RMSEPct     float64
}

// ImpactEstimate is the effect on one metric.
type ImpactEstimate struct {
	// TreatedBefore, TreatedAfter are the treated series' means over the
	// windows; ControlBefore, ControlAfter the controls' (summed per day).
	TreatedBefore, TreatedAfter float64
	ControlBefore, ControlAfter float64
	// Scale is TreatedBefore / ControlBefore: the controls, multiplied by
	// it, stand for the treated series.
	Scale float64
	// Counterfactual is Scale × ControlAfter: the after-window mean the
	// treated series would have had if it had moved like the controls.
	Counterfactual float64
	// Effect is TreatedAfter − Counterfactual, per day; Low, High its 95 %
	// interval. EffectPct, LowPct, HighPct: the same relative to
	// Counterfactual, in percent (NaN when Counterfactual is 0); the
	// interval in percent divides the interval by Counterfactual.
	Effect, Low, High          float64
	EffectPct, LowPct, HighPct float64
	// StdErr is the effect's standard error from the bootstrap;
	// DegreesOfFreedom those of the t quantile the interval uses.
	StdErr, DegreesOfFreedom float64
	Fit                      PreFit
}

// ErrImpactInput is a series that cannot be estimated on; its message says
// why.
var ErrImpactInput = errors.New("impact")

// EstimateImpact estimates the effect of a change at day index before (the
// first day after the change) of treated against control (equal lengths,
// one value a day, the before window first). Both windows need at least
// MinImpactDays days; the treated and the control series need activity
// before the date.
func EstimateImpact(treated, control []float64, before int) (ImpactEstimate, error) {
	var e ImpactEstimate
	n := len(treated)
	if len(control) != n {
		return e, fmt.Errorf("%w: %d treated days but %d control days", ErrImpactInput, n, len(control))
	}
	after := n - before
	if before < MinImpactDays || after < MinImpactDays {
		return e, fmt.Errorf("%w: %d complete days before and %d after the date: each window needs at least %d", ErrImpactInput, before, after, MinImpactDays)
	}
	tb, ta := treated[:before], treated[before:]
	cb, ca := control[:before], control[before:]
	e.TreatedBefore, e.TreatedAfter = mean(tb), mean(ta)
	e.ControlBefore, e.ControlAfter = mean(cb), mean(ca)
	if e.TreatedBefore <= 0 {
		return e, fmt.Errorf("%w: the treated series has no activity before the date", ErrImpactInput)
	}
	if e.ControlBefore <= 0 {
		return e, fmt.Errorf("%w: the controls have no activity before the date", ErrImpactInput)
	}
	e.Scale = e.TreatedBefore / e.ControlBefore
	e.Counterfactual = e.Scale * e.ControlAfter
	e.Effect = e.TreatedAfter - e.Counterfactual
	e.EffectPct = pct(e.Effect, e.Counterfactual)
	e.Fit = preFit(tb, cb, e.Scale)

	// Moving-block bootstrap, circular, within each window separately: a
	// replicate redraws one window's days in blocks of consecutive days
	// (treated and control of a day stay together) and recomputes the
	// effect with the other window as observed. The two windows' variances
	// add up (they are drawn independently); each is corrected for being
	// measured on few blocks (k/(k−1), k = the window's days / block
	// length), and the interval takes a Student t quantile with the
	// Welch–Satterthwaite degrees of freedom of the two windows' blocks.
	// With two or three weeks a side the interval is wide, as it should be.
	lb, la := impactBlockDays(before), impactBlockDays(after)
	r := rand.New(rand.NewPCG(impactSeed, uint64(n)<<32|uint64(before)))
	vb := bootstrapVariance(r, tb, cb, lb, func(t, c float64) float64 { return e.TreatedAfter - t/c*e.ControlAfter })
	va := bootstrapVariance(r, ta, ca, la, func(t, c float64) float64 { return t - e.Scale*c })
	kb, ka := float64(before)/float64(lb), float64(after)/float64(la)
	vb *= kb / (kb - 1)
	va *= ka / (ka - 1)
	e.StdErr = math.Sqrt(vb + va)
	e.DegreesOfFreedom = math.Inf(1)
	if d := vb*vb/(kb-1) + va*va/(ka-1); d > 0 {
		e.DegreesOfFreedom = (vb + va) * (vb + va) / d
	}
	q := studentQuantile(1-(1-impactLevel)/2, e.DegreesOfFreedom)
	e.Low, e.High = e.Effect-q*e.StdErr, e.Effect+q*e.StdErr
	// A series cannot lose more than all of itself: the interval in
	// percent stops at −100 %.
	e.LowPct, e.HighPct = math.Max(pct(e.Low, e.Counterfactual), -100), math.Max(pct(e.High, e.Counterfactual), -100)
	return e, nil
}

// impactBlockDays is the bootstrap block length of a window of n days:
// whole weeks (each block holds every weekday once per week), one week up
// to about six weeks, longer for long windows (√(n/28) weeks, rounded), so
// that dependence longer than a week is kept too.
func impactBlockDays(n int) int {
	return ImpactBlockDays * max(1, int(math.Round(math.Sqrt(float64(n)/28))))
}

// bootstrapVariance is the variance over ImpactResamples replicates of
// f(mean of drawn t, mean of drawn c), the days drawn in circular blocks
// of l days.
func bootstrapVariance(r *rand.Rand, t, c []float64, l int, f func(t, c float64) float64) float64 {
	xs := make([]float64, ImpactResamples)
	for i := range xs {
		mt, mc := blockMeans(r, t, c, l)
		if mc <= 0 {
			mc = mean(c)
		}
		xs[i] = f(mt, mc)
	}
	m := mean(xs)
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return v / float64(len(xs)-1)
}

// blockMeans draws len(a) days of (a, b) in circular blocks of l days and
// returns the means of the drawn a and b.
func blockMeans(r *rand.Rand, a, b []float64, l int) (float64, float64) {
	n := len(a)
	var sa, sb float64
	for got := 0; got < n; {
		start := r.IntN(n)
		for k := 0; k < l && got < n; k++ {
			j := (start + k) % n
			sa += a[j]
			sb += b[j]
			got++
		}
	}
	return sa / float64(n), sb / float64(n)
}

// studentQuantile is the p quantile (p > 0.5) of Student's t with df
// degrees of freedom (df may be fractional; +Inf is the normal), by
// bisection on the distribution function integrated with Simpson's rule.
func studentQuantile(p, df float64) float64 {
	if math.IsInf(df, 1) || df > 1e6 {
		df = 1e6
	}
	df = math.Max(df, 1)
	lg1, _ := math.Lgamma((df + 1) / 2)
	lg2, _ := math.Lgamma(df / 2)
	c := math.Exp(lg1-lg2) / math.Sqrt(df*math.Pi)
	density := func(x float64) float64 { return c * math.Pow(1+x*x/df, -(df+1)/2) }
	cdf := func(x float64) float64 {
		const steps = 2000
		h := x / steps
		s := density(0) + density(x)
		for i := 1; i < steps; i++ {
			w := 2.0
			if i%2 == 1 {
				w = 4
			}
			s += w * density(float64(i)*h)
		}
		return 0.5 + s*h/3
	}
	lo, hi := 0.0, 100.0
	for range 50 {
		mid := (lo + hi) / 2
		if cdf(mid) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

func preFit(t, c []float64, scale float64) PreFit {
	var f PreFit
	var ss float64
	for i := range t {
		d := t[i] - scale*c[i]
		ss += d * d
	}
	f.RMSE = math.Sqrt(ss / float64(len(t)))
	f.RMSEPct = pct(f.RMSE, mean(t))
	f.Correlation = correlation(t, c)
	return f
}

func correlation(a, b []float64) float64 {
	ma, mb := mean(a), mean(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	return sab / math.Sqrt(saa*sbb)
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func pct(x, of float64) float64 {
	if of == 0 {
		return math.NaN()
	}
	return x / of * 100
}
