package panel

import (
	"math"
	"math/rand/v2"
)

// Design is a raked panel with its bootstrap replicate weights: everything
// an estimate needs.
type Design struct {
	Dims    []string
	Members []Member
	Targets Targets
	Options RakeOptions
	Weights Weights
	// Replicates[r][i] is member i's weight in bootstrap replicate r: the
	// members drawn with replacement, each draw raked and trimmed again
	// like the full panel (a member drawn k times starts at k shares).
	Replicates [][]float64
}

// DefaultReplicates is the number of bootstrap replicates of a design.
const DefaultReplicates = 80

// NewDesign rakes members to targets and draws replicates bootstrap
// replicates (DefaultReplicates when ≤ 0) with the seed, so that the same
// inputs give the same intervals.
func NewDesign(dims []string, members []Member, targets Targets, o RakeOptions, replicates int, seed uint64) (*Design, error) {
	w, err := Rake(dims, members, targets, o)
	if err != nil {
		return nil, err
	}
	if replicates <= 0 {
		replicates = DefaultReplicates
	}
	d := &Design{Dims: dims, Members: members, Targets: targets, Options: o, Weights: w}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	n := len(members)
	// A draw that leaves a target's category without members cannot meet
	// that margin: it is drawn again (rare unless a category has very few
	// members), within a bound.
	for tries := 0; len(d.Replicates) < replicates && tries < 20*replicates; tries++ {
		mult := make([]float64, n)
		for k := 0; k < n; k++ {
			mult[rng.IntN(n)]++
		}
		rw, err := rakeFrom(dims, members, targets, o, mult)
		if err != nil || len(rw.Empty) > len(w.Empty) {
			continue
		}
		d.Replicates = append(d.Replicates, rw.W)
	}
	return d, nil
}

// Confidence grades of an estimate (see Grade).
const (
	High       = "high"
	Medium     = "medium"
	Low        = "low"
	Suppressed = "suppressed"
)

// The grading rules. An estimate resting on an effective sample under 30
// members is withheld (the NCHS presentation standard for proportions
// suppresses below n_eff 30); otherwise its 95 % interval's width relative
// to the estimate grades it: up to 20 % high, up to 50 % medium, more low.
const (
	MinNEff         = 30
	HighRelWidth    = 0.2
	MediumRelWidth  = 0.5
	intervalZ       = 1.959963984540054
	minReplicatesSE = 2
)

// Estimate is a population estimate from the panel: Value people (nil
// when suppressed), the 95 % interval [Low, High], the members it counts
// (N) and their effective number (NEff), and its grade.
type Estimate struct {
	Value      *float64
	Low, High  float64
	SE         float64
	N          int
	NEff       float64
	Confidence string
}

// Total estimates how many people of the population are like the members
// with active[i] true: the sum of their weights, with a bootstrap interval
// (the replicates' standard deviation, normal 95 %, the low end at 0).
func (d *Design) Total(active []bool) Estimate {
	var v, s2 float64
	n := 0
	for i, a := range active {
		if !a {
			continue
		}
		w := d.Weights.W[i]
		if w == 0 {
			continue
		}
		v += w
		s2 += w * w
		n++
	}
	e := Estimate{N: n}
	if s2 > 0 {
		e.NEff = v * v / s2
	}
	reps := make([]float64, len(d.Replicates))
	for r, rw := range d.Replicates {
		for i, a := range active {
			if a {
				reps[r] += rw[i]
			}
		}
	}
	e.SE = stddev(reps)
	e.Low, e.High = math.Max(0, v-intervalZ*e.SE), v+intervalZ*e.SE
	e.Confidence = Grade(v, e.Low, e.High, e.NEff)
	if e.Confidence != Suppressed {
		e.Value = &v
	}
	return e
}

// Grade applies the grading rules to an estimate.
func Grade(value, low, high, nEff float64) string {
	if nEff < MinNEff || value <= 0 {
		return Suppressed
	}
	switch rel := (high - low) / value; {
	case rel <= HighRelWidth:
		return High
	case rel <= MediumRelWidth:
		return Medium
	}
	return Low
}

func stddev(xs []float64) float64 {
	if len(xs) < minReplicatesSE {
		return math.Inf(1)
	}
	mean := 0.0
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	ss := 0.0
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}
