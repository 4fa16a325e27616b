// Package breaks finds level changes ("breaks") in daily series of
// counts: a shutdown, a launch, a step up after a campaign. The algorithm
// (this file) works on plain series; the detector (detector.go) runs it
// over every assistant × channel series of complete days and keeps what it
// finds as suggested annotations.
//
// Why our own PELT: pgregory.net/changepoint (the maintained Go
// implementation, ED-PELT) cannot be fetched here (the module proxy answers
// 403 and its host does not resolve), and it would not fit anyway: its
// penalty is fixed at 3·ln n, it detects any change of distribution (not
// of level), and it returns indexes only, while a break needs its size and
// the range of days it may lie in. Mean-change PELT with a Gaussian cost on
// variance-stabilised counts is short, exact (Killick et al. 2012) and
// gives all three.
package breaks

import (
	"math"
	"slices"
)

// Options tune Detect. The zero value takes the defaults.
type Options struct {
	// MinSegment is the shortest level, in days (default 7: a level must
	// hold a whole week).
	MinSegment int
	// Penalty is the cost of one more break, in units of ln n (default 3:
	// the modified BIC, stricter than BIC's 2 because daily counts keep
	// some day-to-day dependence).
	Penalty float64
	// MinChangePct is the smallest step kept, as a share of the larger of
	// the two levels around it (default 0.15), measured on the two weeks
	// on each side: a slow trend has no such step.
	MinChangePct float64
	// MinChange is the smallest step kept in counts a day (default 3).
	MinChange float64
	// MaxRangeDays is the widest date range of a break kept (default 21):
	// a level change whose start cannot be placed within three weeks is
	// a gradual change (growth, a slow decline), not a break.
	MaxRangeDays int
}

func (o Options) withDefaults() Options {
	if o.MinSegment <= 0 {
		o.MinSegment = 7
	}
	if o.Penalty <= 0 {
		o.Penalty = 3
	}
	if o.MinChangePct <= 0 {
		o.MinChangePct = 0.15
	}
	if o.MinChange <= 0 {
		o.MinChange = 3
	}
	if o.MaxRangeDays <= 0 {
		o.MaxRangeDays = 21
	}
	return o
}

// Break is one level change of a series.
type Break struct {
	// Index is the first day of the new level.
	Index int
	// First, Last bound the days the change may start on: every day
	// whose two-level fit is within a likelihood ratio of 20 of the best
	// (a 1/20 support interval).
	First, Last int
	// Before and After are the levels (mean counts a day, weekday cycle
	// removed) of up to 28 days on each side, up to the neighbouring
	// breaks.
	Before, After float64
}

// Change is After − Before.
func (b Break) Change() float64 { return b.After - b.Before }

// ChangePct is the change in percent of Before (NaN from 0).
func (b Break) ChangePct() float64 {
	if b.Before == 0 {
		return math.NaN()
	}
	return (b.After - b.Before) / b.Before * 100
}

// supportRatio: the location's support interval holds the days whose
// fit is within ln(20) of the best in log-likelihood.
var supportCost = 2 * math.Log(20)

// Detect finds the level changes of y, one count a day (consecutive
// days; index 0 any weekday). The weekday cycle is removed first
// (multiplicative factors, medians of each weekday's ratio to the centred
// weekly mean), the counts are variance-stabilised (Anscombe: 2√(x+3/8),
// unit variance for Poisson counts), the noise level is estimated robustly
// from day-to-day differences, and PELT finds the segmentation of least
// Gaussian cost plus Penalty·ln n per break. Steps smaller than
// MinChangePct or MinChange on the two weeks around them, or not clear of
// the noise, are merged away, and breaks whose date range is wider than
// MaxRangeDays are left out.
func Detect(y []float64, opts Options) []Break {
	o := opts.withDefaults()
	n := len(y)
	if n < 2*o.MinSegment {
		return nil
	}
	x := deseasonalise(y)
	z := make([]float64, n)
	for i, v := range x {
		z[i] = 2 * math.Sqrt(math.Max(v, 0)+3.0/8)
	}
	sigma := noiseLevel(z)
	cost := newCost(z, sigma)
	cps := pelt(cost, n, o.MinSegment, o.Penalty*math.Log(float64(n)))
	cps = mergeSmall(x, z, sigma, cps, o)
	out := make([]Break, 0, len(cps))
	for k, cp := range cps {
		lo, hi := 0, n
		if k > 0 {
			lo = cps[k-1]
		}
		if k+1 < len(cps) {
			hi = cps[k+1]
		}
		first, last := support(cost, lo, cp, hi)
		if last-first+1 > o.MaxRangeDays {
			continue
		}
		out = append(out, Break{Index: cp, First: first, Last: last,
			Before: mean(x[max(lo, cp-28):cp]), After: mean(x[cp:min(hi, cp+28)])})
	}
	return out
}

// deseasonalise divides y by weekday factors (index mod 7), estimated as
// the median ratio of each weekday's count to the centred 7-day mean,
// normalised to average 1. Too little data (fewer than three weeks, or a
// weekday without a ratio) leaves y as it is.
func deseasonalise(y []float64) []float64 {
	n := len(y)
	out := slices.Clone(y)
	if n < 21 {
		return out
	}
	var ratios [7][]float64
	var sum float64
	for i := 0; i < 7 && i < n; i++ {
		sum += y[i]
	}
	for c := 3; c+3 < n; c++ {
		if c > 3 {
			sum += y[c+3] - y[c-4]
		}
		if m := sum / 7; m > 0 {
			ratios[c%7] = append(ratios[c%7], y[c]/m)
		}
	}
	var f [7]float64
	total := 0.0
	for d := range f {
		if len(ratios[d]) < 2 {
			return out
		}
		f[d] = median(ratios[d])
		if f[d] <= 0 {
			return out
		}
		total += f[d]
	}
	for d := range f {
		f[d] /= total / 7
	}
	for i := range out {
		out[i] = y[i] / f[i%7]
	}
	return out
}

// noiseLevel is the standard deviation of z's noise from the median
// absolute day-to-day difference (a level change moves one difference
// only), at least 0.5: counts of people who come back on most days vary
// less than Poisson counts (whose Anscombe deviation is 1), but not
// arbitrarily less.
func noiseLevel(z []float64) float64 {
	d := make([]float64, 0, len(z)-1)
	for i := 1; i < len(z); i++ {
		d = append(d, math.Abs(z[i]-z[i-1]))
	}
	s := median(d) / 0.6745 / math.Sqrt2
	return math.Max(s, 0.5)
}

// cost is the Gaussian mean-change cost of segments of z: the residual
// sum of squares over σ², from prefix sums.
type cost struct {
	s1, s2 []float64
	inv    float64
}

func newCost(z []float64, sigma float64) cost {
	c := cost{s1: make([]float64, len(z)+1), s2: make([]float64, len(z)+1), inv: 1 / (sigma * sigma)}
	for i, v := range z {
		c.s1[i+1] = c.s1[i] + v
		c.s2[i+1] = c.s2[i] + v*v
	}
	return c
}

// of is the cost of z[a:b].
func (c cost) of(a, b int) float64 {
	n := float64(b - a)
	s := c.s1[b] - c.s1[a]
	rss := c.s2[b] - c.s2[a] - s*s/n
	return math.Max(rss, 0) * c.inv
}

// pelt is the Pruned Exact Linear Time search (Killick, Fearnhead and
// Eckley 2012): the segmentation of [0, n) into segments of at least
// minSeg minimising total cost + beta per break, with the candidates that
// can no longer be optimal pruned. It returns the first index of each new
// segment, ascending.
func pelt(c cost, n, minSeg int, beta float64) []int {
	f := make([]float64, n+1)
	prev := make([]int, n+1)
	f[0] = -beta
	var cands []int
	for t := minSeg; t <= n; t++ {
		// The new candidate start leaves a first segment of at least
		// minSeg days (or none).
		if s := t - minSeg; s == 0 || s >= minSeg {
			cands = append(cands, s)
		}
		if len(cands) == 0 {
			f[t] = math.Inf(1) // [0, t) cannot be cut into whole segments
			continue
		}
		best, arg := math.Inf(1), 0
		vals := make([]float64, len(cands))
		for i, s := range cands {
			vals[i] = f[s] + c.of(s, t) + beta
			if vals[i] < best {
				best, arg = vals[i], s
			}
		}
		f[t], prev[t] = best, arg
		// Prune: a start whose cost already exceeds the best by beta can
		// never be optimal later (the cost is additive and K = 0).
		kept := cands[:0]
		for i, s := range cands {
			if vals[i] <= best+beta {
				kept = append(kept, s)
			}
		}
		cands = kept
	}
	var out []int
	for t := prev[n]; t > 0; t = prev[t] {
		out = append(out, t)
	}
	slices.Reverse(out)
	return out
}

// Local step test of mergeSmall: the levels compared are the localDays
// days on each side (fewer up to a neighbouring break), and the step must
// be at least localSE standard errors.
const (
	localDays = 14
	localSE   = 3
)

// mergeSmall removes, weakest first, the breaks whose step on the two
// weeks around them is smaller than the options allow or not clear of the
// noise (localSE), so that a trend cut into stairs by PELT (whose steps
// are small where they are cut) and a tiny but "significant" step on a
// large series are not reported.
func mergeSmall(x, z []float64, sigma float64, cps []int, o Options) []int {
	cps = slices.Clone(cps)
	for len(cps) > 0 {
		weakest, weakestRel := -1, math.Inf(1)
		for k, cp := range cps {
			lo, hi := 0, len(x)
			if k > 0 {
				lo = cps[k-1]
			}
			if k+1 < len(cps) {
				hi = cps[k+1]
			}
			w := min(localDays, cp-lo, hi-cp)
			b, a := mean(x[cp-w:cp]), mean(x[cp:cp+w])
			step := math.Abs(a - b)
			rel := step / math.Max(math.Max(a, b), 1e-9)
			// The step on the variance-stabilised scale, in standard
			// errors of a difference of two w-day means.
			t := math.Abs(mean(z[cp:cp+w])-mean(z[cp-w:cp])) / (sigma * math.Sqrt(2/float64(w)))
			if (rel < o.MinChangePct || step < o.MinChange || t < localSE) && rel < weakestRel {
				weakest, weakestRel = k, rel
			}
		}
		if weakest < 0 {
			break
		}
		cps = slices.Delete(cps, weakest, weakest+1)
	}
	return cps
}

// support is the range of start days of the level change between lo and
// hi whose two-level cost is within supportCost of the best, returned as
// the first and last such day; the break found lies inside it.
func support(c cost, lo, cp, hi int) (int, int) {
	best := c.of(lo, cp) + c.of(cp, hi)
	for s := lo + 1; s < hi; s++ {
		if v := c.of(lo, s) + c.of(s, hi); v < best {
			best = v
		}
	}
	first, last := cp, cp
	for s := lo + 1; s < hi; s++ {
		if c.of(lo, s)+c.of(s, hi)-best <= supportCost {
			first = min(first, s)
			last = max(last, s)
		}
	}
	return first, last
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, v := range xs {
		s += v
	}
	return s / float64(len(xs))
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
