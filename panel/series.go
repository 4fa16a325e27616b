package panel

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// run is the stored computation of one month's weights.
type run struct {
	version uint64
	inputs  string
}

// inputs names what a month's weights depend on: the newest member and
// target rows of the panel. A new upload changes it.
func (s *Service) inputs(ctx context.Context, panel string) (string, error) {
	var m, t uint64
	if err := s.store.Conn.QueryRow(ctx, "SELECT max(version) FROM panel_members WHERE panel = ? SETTINGS max_execution_time = 60", panel).Scan(&m); err != nil {
		return "", fmt.Errorf("panel: read members' version: %w", err)
	}
	if err := s.store.Conn.QueryRow(ctx, "SELECT max(version) FROM panel_targets WHERE panel = ? SETTINGS max_execution_time = 60", panel).Scan(&t); err != nil {
		return "", fmt.Errorf("panel: read targets' version: %w", err)
	}
	return fmt.Sprintf("members %d targets %d", m, t), nil
}

// EnsureWeights returns, for each month, the version of its current
// weights, computing (and storing) the months whose members or targets
// changed since, or that were never weighed. A month that cannot be
// weighed (no targets, no members) has no run and is left out.
func (s *Service) EnsureWeights(ctx context.Context, panel string, months []time.Time) (map[time.Time]uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, dbTimeout)
	defer cancel()
	in, err := s.inputs(ctx, panel)
	if err != nil {
		return nil, err
	}
	runs := map[time.Time]run{}
	rows, err := s.store.Conn.Query(ctx, `SELECT month, argMax(inputs, version), max(version) FROM panel_weight_runs
WHERE panel = ? GROUP BY month SETTINGS max_execution_time = 60`, panel)
	if err != nil {
		return nil, fmt.Errorf("panel: read weight runs: %w", err)
	}
	for rows.Next() {
		var m time.Time
		var r run
		if err := rows.Scan(&m, &r.inputs, &r.version); err != nil {
			rows.Close()
			return nil, fmt.Errorf("panel: read weight runs: %w", err)
		}
		runs[time.Date(m.Year(), m.Month(), 1, 0, 0, 0, 0, time.UTC)] = r
	}
	rows.Close()
	out := map[time.Time]uint64{}
	for _, m := range months {
		if r, ok := runs[m]; ok && r.inputs == in {
			out[m] = r.version
			continue
		}
		v, err := s.weighAndStore(ctx, panel, m, in)
		if err != nil {
			if _, nothing := err.(*NotFoundError); nothing {
				continue
			}
			return nil, err
		}
		out[m] = v
	}
	return out, nil
}

// weighAndStore computes a month's design and writes its weights, then
// its run: a run row exists only once all its weights are stored.
func (s *Service) weighAndStore(ctx context.Context, panel string, month time.Time, inputs string) (uint64, error) {
	rep, err := s.Weigh(ctx, panel, month)
	if err != nil {
		return 0, err
	}
	ms, err := s.members(ctx, panel, month, rep.Dimensions)
	if err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte(panel + month.Format("2006-01")))
	d, err := NewDesign(rep.Dimensions, ms, mustTargets(ctx, s, panel, month), RakeOptions{}, DefaultReplicates, h.Sum64())
	if err != nil {
		return 0, err
	}
	version := uint64(s.now().UnixNano())
	b, err := s.store.Conn.PrepareBatch(ctx, "INSERT INTO panel_weights (panel, month, user_key, weight, replicates, version)")
	if err != nil {
		return 0, fmt.Errorf("panel: store weights: %w", err)
	}
	defer b.Abort()
	for i, m := range ms {
		if d.Weights.W[i] == 0 {
			continue
		}
		reps := make([]float32, len(d.Replicates))
		for r := range d.Replicates {
			reps[r] = float32(d.Replicates[r][i])
		}
		if err := b.Append(panel, month, m.Key, d.Weights.W[i], reps, version); err != nil {
			return 0, fmt.Errorf("panel: store weights: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return 0, fmt.Errorf("panel: store weights: %w", err)
	}
	conv := uint8(0)
	if d.Weights.Converged {
		conv = 1
	}
	if err := s.store.Conn.Exec(ctx, "INSERT INTO panel_weight_runs (panel, month, inputs, members, n_eff, converged, computed_at, version) SELECT ?, toDate(?), ?, ?, ?, ?, now(), ?",
		panel, month.Format(catalog.DateLayout), inputs, uint32(len(ms)), d.Weights.NEff, conv, version); err != nil {
		return 0, fmt.Errorf("panel: store weight run: %w", err)
	}
	return version, nil
}

func mustTargets(ctx context.Context, s *Service, panel string, month time.Time) Targets {
	t, _, _ := s.targets(ctx, panel, month)
	return t
}

// SeriesRequest asks for the population estimate of active people per
// period of [From, To] (UTC days), grouped by By (assistant, channel,
// country) and filtered by Filters on the same dimensions.
type SeriesRequest struct {
	Panel    string
	Interval string // day, week, month
	From, To time.Time
	By       []string
	Filters  map[string][]string
}

// SeriesRow is one period of one group: the members active in it and
// what they stand for.
type SeriesRow struct {
	Period   time.Time
	Dims     []string
	Estimate Estimate
}

var estimateDims = []string{"assistant", "channel", "country"}

// Assumption is what every estimate rests on, said with it.
const Assumption = "within each cell of the panel's margins, members use the assistants as the people they stand for do"

// Series estimates, per period and group, how many people of the
// population were active: the members active in the period (the
// person-day rollup, UTC days) weighted with the weights of the month
// holding the period's first day, with the bootstrap replicates' interval.
func (s *Service) Series(ctx context.Context, r SeriesRequest) ([]SeriesRow, error) {
	for _, d := range r.By {
		if indexOf(estimateDims, d) < 0 {
			return nil, &InputError{Msg: fmt.Sprintf("by %q: population estimates group by assistant, channel or country", d)}
		}
	}
	period := map[string]string{"day": "day", "week": "toMonday(day)", "month": "toStartOfMonth(day)"}[r.Interval]
	if period == "" {
		return nil, &InputError{Msg: fmt.Sprintf("interval %q: want day, week or month", r.Interval)}
	}
	var months []time.Time
	for m := time.Date(r.From.Year(), r.From.Month(), 1, 0, 0, 0, 0, time.UTC); !m.After(r.To); m = m.AddDate(0, 1, 0) {
		months = append(months, m)
	}
	if r.Interval == "week" { // a week starting in the month before From
		months = append([]time.Time{months[0].AddDate(0, -1, 0)}, months...)
	}
	runs, err := s.EnsureWeights(ctx, r.Panel, months)
	if err != nil {
		return nil, err
	}
	if len(runs) == 0 {
		return nil, &NotFoundError{Msg: fmt.Sprintf("panel %q cannot be weighed for %s to %s: it needs members and population targets (POST /api/v1/panel/members and /targets)",
			r.Panel, r.From.Format(catalog.DateLayout), r.To.Format(catalog.DateLayout))}
	}
	dims := make([]string, len(r.By))
	for i, d := range r.By {
		dims[i] = "CAST(" + d + " AS String) AS d_" + d
	}
	dimCols, groupBy := "", ""
	if len(dims) > 0 {
		dimCols = ", " + strings.Join(dims, ", ")
		for _, d := range r.By {
			groupBy += ", d_" + d
		}
	}
	var args []any
	q := "SELECT p" + groupBy + ", sum(w), sumForEach(reps), count(), sum(w * w) FROM (SELECT DISTINCT toString(" + period + ") AS p" + dimCols +
		", toStartOfMonth(" + period + ") AS wm, user_key FROM rollup_person_day WHERE day >= toDate(?) AND day <= toDate(?)"
	args = append(args, r.From.Format(catalog.DateLayout), r.To.Format(catalog.DateLayout))
	for _, d := range estimateDims {
		vals := r.Filters[d]
		if len(vals) == 0 {
			continue
		}
		q += " AND " + d + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")"
		for _, v := range vals {
			args = append(args, v)
		}
	}
	q += " AND user_key IN (SELECT user_key FROM panel_weights WHERE panel = ?)) AS a ALL INNER JOIN (SELECT month AS wm, user_key, weight AS w, replicates AS reps FROM panel_weights WHERE panel = ? AND ("
	args = append(args, r.Panel, r.Panel)
	var conds []string
	for m, v := range runs {
		conds = append(conds, "(month = toDate(?) AND version = ?)")
		args = append(args, m.Format(catalog.DateLayout), v)
	}
	q += strings.Join(conds, " OR ") + ")) AS b USING (wm, user_key) GROUP BY p" + groupBy + " ORDER BY p" + groupBy + " SETTINGS max_execution_time = 60, distributed_product_mode = 'local'"
	rows, err := s.store.Conn.Query(s.store.ReadContext(ctx), q, args...)
	if err != nil {
		return nil, fmt.Errorf("panel: estimate: %w", err)
	}
	defer rows.Close()
	var out []SeriesRow
	for rows.Next() {
		var p string
		g := make([]string, len(r.By))
		var v, w2 float64
		var reps []float64
		var n uint64
		dest := []any{&p}
		for i := range g {
			dest = append(dest, &g[i])
		}
		dest = append(dest, &v, &reps, &n, &w2)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("panel: estimate: %w", err)
		}
		day, _ := time.Parse(catalog.DateLayout, p)
		out = append(out, SeriesRow{Period: day, Dims: g, Estimate: estimateOf(v, reps, int(n), w2)})
	}
	return out, rows.Err()
}

// estimateOf turns the sums of one cell into an Estimate: the value, the
// replicates' standard deviation and interval, n_eff and the grade.
func estimateOf(v float64, reps []float64, n int, w2 float64) Estimate {
	e := Estimate{N: n}
	if w2 > 0 {
		e.NEff = v * v / w2
	}
	e.SE = stddev(reps)
	e.Low, e.High = math.Max(0, v-intervalZ*e.SE), v+intervalZ*e.SE
	e.Confidence = Grade(v, e.Low, e.High, e.NEff)
	if e.Confidence != Suppressed {
		val := v
		e.Value = &val
	}
	return e
}
