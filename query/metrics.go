package query

import "sort"

// Metric names a series metric.
type Metric string

const (
	ActiveUsers Metric = "active_users"
	Events      Metric = "events"
	NewUsers    Metric = "new_users"
	Stickiness  Metric = "stickiness"
	Share       Metric = "share"
	ModalityMix Metric = "modality_mix"
)

// kind says how a metric is computed, which decides the SQL shape and the
// rollups that can answer it.
type kind int

const (
	kindUsers      kind = iota // distinct people per period and group
	kindSum                    // sum of count per period and group
	kindFirstSeen              // people whose first event falls in the period
	kindStickiness             // average daily users / period users
	kindShare                  // group users / users of the whole
)

// MetricDef describes a metric: what it means, how it is computed, and
// whether the fast path may approximate it.
type MetricDef struct {
	Name        Metric
	Title       string // for charts and CSV consumers
	Unit        string // "people", "events", "ratio", "percent"
	Description string
	kind        kind
	// Approximate is true when the rollup path answers it with uniq
	// states (see README.md); exact=true or an odd range answers exactly.
	Approximate bool
	// digits rounds the value (ratios); -1 keeps integers as they are.
	digits int
}

var metrics = map[Metric]MetricDef{
	ActiveUsers: {Name: ActiveUsers, Title: "Active users", Unit: "people", kind: kindUsers, Approximate: true, digits: -1,
		Description: "distinct people (user_key) with at least one event in the period"},
	Events: {Name: Events, Title: "Events", Unit: "events", kind: kindSum, digits: -1,
		Description: "sum of count (messages) in the period"},
	NewUsers: {Name: NewUsers, Title: "New users", Unit: "people", kind: kindFirstSeen, digits: -1,
		Description: "people whose first event in the group (overall when not grouped; within the filtered slice) falls in the period"},
	Stickiness: {Name: Stickiness, Title: "Stickiness (DAU/MAU)", Unit: "ratio", kind: kindStickiness, Approximate: true, digits: 4,
		Description: "average daily active users over the days of the period in range, divided by the active users of the period"},
	Share: {Name: Share, Title: "Share of active users", Unit: "percent", kind: kindShare, Approximate: true, digits: 2,
		Description: "the group's active users as a percentage of all active users of the same period and slice (and the same share_of values)"},
	ModalityMix: {Name: ModalityMix, Title: "Events by modality", Unit: "events", kind: kindSum, digits: -1,
		Description: "sum of count per modality in the period (modality is always one of the by columns)"},
}

// MetricNames lists the metric names in alphabetical order.
func MetricNames() []string {
	out := make([]string, 0, len(metrics))
	for m := range metrics {
		out = append(out, string(m))
	}
	sort.Strings(out)
	return out
}

// Definition returns the definition of m.
func Definition(m Metric) (MetricDef, bool) {
	d, ok := metrics[m]
	return d, ok
}
