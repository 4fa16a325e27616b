// Package panel turns counts of panel members into estimates of the
// population: it rakes the members of a panel to the population's known
// margins (country, platform, age band, gender), trims extreme weights,
// and reports every estimate with a bootstrap interval, the effective
// sample size and a confidence grade. It is pure computation: the members,
// the targets and who was active come from the caller.
//
// The method is survey statistics' standard one: raking (iterative
// proportional fitting, Deming and Stephan 1940; R survey's rake, Meta's
// balance), trimming and raking again, replicate weights from a bootstrap
// of the members re-raked each, and Kish's effective sample size
// n_eff = (Σw)² / Σw². The assumption it rests on is written on every
// estimate: within each cell of the margins, panel members use the
// assistants as the people they stand for do.
package panel

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Targets are the population's margins: for each dimension (country,
// platform, age_band, gender) the people in each category.
type Targets map[string]map[string]float64

// Member is one panel member: its category in each raked dimension, in the
// order of the dimensions given to Rake.
type Member struct {
	Key  uint64
	Cats []string
}

// RakeOptions bound the fit. The zero value takes the defaults.
type RakeOptions struct {
	// Tolerance: raking stops when every weighted margin is within this
	// relative distance of its target (default 1e-4, 0.01 %).
	Tolerance float64
	// MaxIterations caps the passes over the dimensions (default 200).
	MaxIterations int
	// TrimLow and TrimHigh bound each weight relative to the mean weight
	// (defaults 0.2 and 5): a member should not stand for more than 5
	// times, or less than a fifth of, the average member. Trimming is
	// followed by raking again, TrimRounds times at most (default 5); where
	// the margins cannot be met inside the bounds, the margins win and
	// Weights.Min and Max say how far past them the weights went.
	TrimLow, TrimHigh float64
	TrimRounds        int
}

func (o RakeOptions) withDefaults() RakeOptions {
	if o.Tolerance <= 0 {
		o.Tolerance = 1e-4
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 200
	}
	if o.TrimLow <= 0 {
		o.TrimLow = 0.2
	}
	if o.TrimHigh <= 0 {
		o.TrimHigh = 5
	}
	if o.TrimRounds <= 0 {
		o.TrimRounds = 5
	}
	return o
}

// MarginFit is one target next to what the weights give.
type MarginFit struct {
	Dimension, Category string
	Target, Weighted    float64
}

// Weights are the raked weights of members (in the order given) and how
// the fit went.
type Weights struct {
	W          []float64
	Iterations int
	Converged  bool
	// NEff is Kish's effective sample size (Σw)²/Σw²; DesignEffect is
	// n·Σw²/(Σw)², the variance inflation the weighting costs.
	NEff, DesignEffect float64
	Min, Max           float64
	Margins            []MarginFit
	// Uncovered lists "dimension=category" of members whose category has
	// no target (they keep no weight: nobody in the population is said to
	// be like them), and Empty the targets no member stands for (the
	// margin cannot be met). Neither is ever dropped silently.
	Uncovered, Empty []string
}

// ErrNoMembers is returned when no member can be weighted.
var ErrNoMembers = errors.New("panel: no member has a target in every dimension")

// Rake weights members so that, in every dimension of dims, the weights of
// the members of each category add up to its target; then trims weights
// outside [TrimLow, TrimHigh] × the mean and rakes again. Members whose
// category has no target get weight 0 and are listed in Uncovered.
func Rake(dims []string, members []Member, targets Targets, o RakeOptions) (Weights, error) {
	return rakeFrom(dims, members, targets, o, nil)
}

// rakeFrom is Rake starting from mult[i] shares for member i (nil: one
// each); a member with no share keeps weight 0. The bootstrap starts each
// replicate from the number of times it drew each member.
func rakeFrom(dims []string, members []Member, targets Targets, o RakeOptions, mult []float64) (Weights, error) {
	o = o.withDefaults()
	res := Weights{W: make([]float64, len(members))}
	for _, d := range dims {
		if len(targets[d]) == 0 {
			return res, fmt.Errorf("panel: no targets for dimension %s", d)
		}
	}
	// Index members by category per dimension; members with an uncovered
	// category are left out.
	idx := make([]map[string][]int, len(dims))
	for j := range dims {
		idx[j] = map[string][]int{}
	}
	uncovered := map[string]bool{}
	var in []int
	for i, m := range members {
		ok := len(m.Cats) == len(dims) && (mult == nil || mult[i] > 0)
		for j, d := range dims {
			if !ok {
				break
			}
			if _, has := targets[d][m.Cats[j]]; !has {
				uncovered[d+"="+m.Cats[j]] = true
				ok = false
			}
		}
		if ok {
			in = append(in, i)
			for j := range dims {
				idx[j][m.Cats[j]] = append(idx[j][m.Cats[j]], i)
			}
		}
	}
	res.Uncovered = sortedKeys(uncovered)
	for j, d := range dims {
		for c, t := range targets[d] {
			if len(idx[j][c]) == 0 && t > 0 {
				res.Empty = append(res.Empty, d+"="+c)
			}
		}
	}
	sort.Strings(res.Empty)
	if len(in) == 0 {
		return res, ErrNoMembers
	}
	// Start from the population over the members: every member stands for
	// the same number of people.
	total := 0.0
	for _, t := range targets[dims[0]] {
		total += t
	}
	shares := 0.0
	for _, i := range in {
		res.W[i] = 1
		if mult != nil {
			res.W[i] = mult[i]
		}
		shares += res.W[i]
	}
	for _, i := range in {
		res.W[i] *= total / shares
	}
	iters, converged := rakeLoop(dims, idx, targets, res.W, o)
	res.Iterations += iters
	for round := 0; round < o.TrimRounds; round++ {
		if !trim(res.W, in, o.TrimLow, o.TrimHigh) {
			break
		}
		iters, converged = rakeLoop(dims, idx, targets, res.W, o)
		res.Iterations += iters
	}
	res.Converged = converged
	res.NEff, res.DesignEffect = kish(res.W, in)
	res.Min, res.Max = math.Inf(1), math.Inf(-1)
	for _, i := range in {
		res.Min, res.Max = math.Min(res.Min, res.W[i]), math.Max(res.Max, res.W[i])
	}
	for j, d := range dims {
		for _, c := range sortedKeys(targets[d]) {
			sum := 0.0
			for _, i := range idx[j][c] {
				sum += res.W[i]
			}
			res.Margins = append(res.Margins, MarginFit{Dimension: d, Category: c, Target: targets[d][c], Weighted: sum})
		}
	}
	return res, nil
}

// rakeLoop adjusts w one dimension at a time until every margin is within
// the tolerance (a category without members cannot be met: it is left out
// of the check, and reported as Empty).
func rakeLoop(dims []string, idx []map[string][]int, targets Targets, w []float64, o RakeOptions) (int, bool) {
	for it := 1; it <= o.MaxIterations; it++ {
		for j, d := range dims {
			for c, members := range idx[j] {
				sum := 0.0
				for _, i := range members {
					sum += w[i]
				}
				if sum == 0 {
					continue
				}
				f := targets[d][c] / sum
				for _, i := range members {
					w[i] *= f
				}
			}
		}
		worst := 0.0
		for j, d := range dims {
			for c, members := range idx[j] {
				sum := 0.0
				for _, i := range members {
					sum += w[i]
				}
				if t := targets[d][c]; t > 0 {
					worst = math.Max(worst, math.Abs(sum-t)/t)
				}
			}
		}
		if worst <= o.Tolerance {
			return it, true
		}
	}
	return o.MaxIterations, false
}

// trim caps the weights of members in to [lo, hi] × their mean; it reports
// whether any weight moved.
func trim(w []float64, in []int, lo, hi float64) bool {
	mean := 0.0
	for _, i := range in {
		mean += w[i]
	}
	mean /= float64(len(in))
	moved := false
	for _, i := range in {
		switch {
		case w[i] > hi*mean*(1+1e-9):
			w[i], moved = hi*mean, true
		case w[i] < lo*mean*(1-1e-9):
			w[i], moved = lo*mean, true
		}
	}
	return moved
}

// kish returns (Σw)²/Σw² and n·Σw²/(Σw)² over the members in.
func kish(w []float64, in []int) (float64, float64) {
	var s, s2 float64
	for _, i := range in {
		s += w[i]
		s2 += w[i] * w[i]
	}
	if s2 == 0 {
		return 0, 0
	}
	return s * s / s2, float64(len(in)) * s2 / (s * s)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
