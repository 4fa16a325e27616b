package alert

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// Check is a rule's condition on one complete period.
type Check struct {
	Period time.Time // the period's first day (midnight UTC date, in the rule's zone)
	Value  float64
	// Comparison is the threshold (threshold), the comparison period's
	// value (change) or the level before (break).
	Comparison float64
	// ChangePct is the change against the comparison period (change);
	// NaN when that period had 0.
	ChangePct float64
	Holds     bool
	// Unknown: the condition cannot be judged (a change against a
	// period of 0); the rule keeps its state.
	Unknown bool
	Detail  string
}

// step is the comparison lag of a change: the same weekday a week
// earlier for days, the previous week for weeks. Both are 7 days.
const step = 7

// periodsBack is how far before from a rule reads: the comparison period.
func (r Rule) firstRead(from time.Time) time.Time { return from.AddDate(0, 0, -step) }

// weekStart is the Monday of t's ISO week.
func weekStart(t time.Time) time.Time {
	return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
}

// LastComplete is the rule's last complete period at freshness fr: the
// last complete day in its zone, or the Monday of the last complete week.
// Zero when nothing is complete.
func (r Rule) LastComplete(fr query.DataFreshness) time.Time {
	day := fr.LastCompleteDay(r.Location())
	if day.IsZero() {
		return day
	}
	if r.Interval == query.Week {
		// The week that ends on day or before it.
		end := day.AddDate(0, 0, -((int(day.Weekday()) + 7) % 7)) // the Sunday on or before day
		return end.AddDate(0, 0, -6)
	}
	return day
}

// values reads the rule's metric on its slice per complete period over
// [from, to] (period starts), keyed by period.
func values(ctx context.Context, s *store.Store, r Rule, owners catalog.Owners, from, to time.Time, fr *query.DataFreshness) (map[time.Time]float64, error) {
	if r.Metric == Dependency {
		return dependency(ctx, s, r, owners, from, to, fr)
	}
	req := query.SeriesRequest{Metric: r.Metric, Interval: r.Interval, From: from, To: to, TZ: r.Timezone, Filters: r.Filters(), Freshness: fr}
	if r.Interval == query.Week {
		req.To = to.AddDate(0, 0, 6)
	}
	if r.Metric == query.Share {
		// The assistant's share of the people of the rest of the slice.
		req.By, req.Filters.Assistants = []query.Dim{query.DimAssistant}, nil
	}
	res, err := query.Series(ctx, s, req)
	if err != nil {
		return nil, err
	}
	out := map[time.Time]float64{}
	for _, row := range res.Rows {
		if !row.Complete {
			continue
		}
		if r.Metric == query.Share && (len(row.Dims) == 0 || row.Dims[0] != r.Assistant) {
			continue
		}
		out[row.Period] = row.Value
	}
	if r.Metric == query.Share {
		// A complete period where the assistant had nobody has no row.
		for _, row := range res.Rows {
			if _, ok := out[row.Period]; !ok && row.Complete {
				out[row.Period] = 0
			}
		}
	}
	return out, nil
}

// dependency reads the assistant's dependency percentage per complete
// period (the channel, when set, narrows the channels counted).
func dependency(ctx context.Context, s *store.Store, r Rule, owners catalog.Owners, from, to time.Time, fr *query.DataFreshness) (map[time.Time]float64, error) {
	if r.Interval == query.Week {
		to = to.AddDate(0, 0, 6)
	}
	var now time.Time
	if fr != nil {
		now = fr.Now
	}
	res, err := query.Dependency(ctx, s, query.DependencyRequest{Interval: r.Interval, From: from, To: to, Filters: r.Filters(), TZ: r.Timezone,
		Owners: owners, Now: now})
	if err != nil {
		return nil, err
	}
	out := map[time.Time]float64{}
	for _, row := range res.Rows {
		if row.Complete && row.Assistant == r.Assistant {
			out[row.Period] = row.Pct
		}
	}
	return out, nil
}

// Checks evaluates a threshold or change rule on every complete period
// with a first day in [from, to] (a week's first days are Mondays).
// owners (zero: catalog.DefaultOwners) says who controls which channel,
// for the dependency metric.
func Checks(ctx context.Context, s *store.Store, r Rule, owners catalog.Owners, from, to time.Time, fr *query.DataFreshness) ([]Check, error) {
	if r.Interval == query.Week {
		from = weekStart(from)
	}
	vals, err := values(ctx, s, r, owners, r.firstRead(from), to, fr)
	if err != nil {
		return nil, err
	}
	var out []Check
	inc := 1
	if r.Interval == query.Week {
		inc = 7
	}
	for p := from; !p.After(to); p = p.AddDate(0, 0, inc) {
		v, ok := vals[p]
		if !ok {
			continue
		}
		c := Check{Period: p, Value: v, ChangePct: math.NaN()}
		switch r.Condition {
		case Threshold:
			c.Comparison = r.Value
			c.Holds = r.Direction == Above && v > r.Value || r.Direction == Below && v < r.Value
			c.Detail = fmt.Sprintf("%s %s on %s; the rule is %s %s", r.Metric, number(v), periodWords(r, p), r.Direction, number(r.Value))
		case Change:
			prev := p.AddDate(0, 0, -step)
			pv, ok := vals[prev]
			if !ok {
				continue
			}
			c.Comparison = pv
			if pv != 0 {
				c.ChangePct = (v - pv) / pv * 100
				c.Holds = r.Direction == Above && c.ChangePct > r.Value || r.Direction == Below && c.ChangePct < r.Value
			} else {
				c.Unknown = true
			}
			c.Detail = fmt.Sprintf("%s %s on %s against %s on %s (%s); the rule is %s %s %%", r.Metric, number(v), periodWords(r, p),
				number(pv), periodWords(r, prev), pctWords(c.ChangePct), r.Direction, signed(r.Value))
		}
		out = append(out, c)
	}
	return out, nil
}

// Transition is a change of a rule's state on a period.
type Transition struct {
	Check
	State string // firing or resolved
}

// Transitions runs the rule's state machine over checks in period order
// from state (firing or resolved/""): it fires once when the condition
// becomes true, stays silent while it holds, and resolves once when it
// stops holding.
func Transitions(state string, checks []Check) []Transition {
	var out []Transition
	for _, c := range checks {
		switch {
		case c.Unknown:
			// A check that cannot be judged changes nothing: a series
			// that fell to 0 and stays there has not recovered.
		case c.Holds && state != StateFiring:
			state = StateFiring
			out = append(out, Transition{c, state})
		case !c.Holds && state == StateFiring:
			state = StateResolved
			out = append(out, Transition{c, state})
		}
	}
	return out
}

// breakWindow is how far back a break rule looks for a level change it
// has not told about yet: the detector needs a week of the new level
// before it can see a break, and may move its day a little.
const breakWindow = 28

// breakChecks lists the detected breaks (suggested or accepted) of the
// rule's series whose day lies in [from, to], as checks that hold.
func breakChecks(ctx context.Context, notes *annotation.Service, r Rule, from, to time.Time) ([]Check, error) {
	list, err := notes.Breaks(ctx, annotation.BreakFilter{Assistant: r.Assistant, Channel: r.Channel,
		From: from.Format(catalog.DateLayout), To: to.Format(catalog.DateLayout)})
	if err != nil {
		return nil, err
	}
	var out []Check
	for _, b := range list {
		d, err := time.Parse(catalog.DateLayout, b.Day)
		if err != nil || d.Before(from) || d.After(to) || b.Metric != string(query.ActiveUsers) {
			continue
		}
		out = append(out, Check{Period: d, Value: b.After, Comparison: b.Before, ChangePct: b.ChangePct(), Holds: true,
			Detail: b.Title() + ". " + b.Text()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Period.Before(out[j].Period) })
	return out, nil
}

// BacktestResult is what a rule would have done over [From, To].
type BacktestResult struct {
	RuleID string     `json:"rule_id"`
	From   string     `json:"from"`
	To     string     `json:"to"`
	Events []Backtest `json:"events"`
	// Periods is how many complete periods were evaluated.
	Periods int `json:"periods"`
}

// Backtest is one day the rule would have notified.
type Backtest struct {
	Day        string   `json:"day"`
	State      string   `json:"state"`
	Value      float64  `json:"value"`
	Comparison float64  `json:"threshold"`
	ChangePct  *float64 `json:"change_pct,omitempty"`
	Detail     string   `json:"detail"`
}

func toBacktest(t Transition) Backtest {
	b := Backtest{Day: t.Period.Format(catalog.DateLayout), State: t.State, Value: t.Value, Comparison: t.Comparison, Detail: t.Detail}
	if !math.IsNaN(t.ChangePct) {
		p := math.Round(t.ChangePct*10) / 10
		b.ChangePct = &p
	}
	return b
}

func number(x float64) string {
	if x != math.Trunc(x) || math.Abs(x) >= 1e15 {
		return fmt.Sprintf("%.2f", x)
	}
	s := fmt.Sprint(int64(math.Abs(x)))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if x < 0 {
		s = "−" + s
	}
	return s
}

func signed(x float64) string {
	s := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", math.Abs(x)), "0"), ".")
	switch {
	case x < 0:
		return "−" + s
	case x > 0:
		return "+" + s
	}
	return "0"
}

func pctWords(p float64) string {
	if math.IsNaN(p) {
		return "no change can be computed from 0"
	}
	return signed(p) + " %"
}

func periodWords(r Rule, p time.Time) string {
	if r.Interval == query.Week {
		return "the week of " + p.Format(catalog.DateLayout)
	}
	return p.Format("Mon ") + p.Format(catalog.DateLayout)
}
