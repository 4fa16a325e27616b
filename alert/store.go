package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// Store keeps rules and their events in ClickHouse (migration
// schema/migrations/0510_alerts.sql).
type Store struct {
	s *store.Store
}

// NewStore wraps an open, migrated store.
func NewStore(s *store.Store) *Store { return &Store{s: s} }

const callTimeout = 10 * time.Second

// version orders the rows of one rule or event: nanoseconds, strictly
// increasing within the process.
var lastVersion = make(chan uint64, 1)

func init() { lastVersion <- 0 }

func nextVersion() uint64 {
	v := uint64(time.Now().UnixNano())
	last := <-lastVersion
	if v <= last {
		v = last + 1
	}
	lastVersion <- v
	return v
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func dateOrZero(s string) time.Time {
	t, err := time.Parse(catalog.DateLayout, s)
	if err != nil {
		return time.Unix(0, 0).UTC()
	}
	return t
}

// Save writes r (a new version of it when it exists).
func (st *Store) Save(ctx context.Context, r Rule) error { return st.write(ctx, r, false) }

// Delete marks a rule deleted; its events stay.
func (st *Store) Delete(ctx context.Context, r Rule) error { return st.write(ctx, r, true) }

func (st *Store) write(ctx context.Context, r Rule, deleted bool) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	to, err := json.Marshal(r.To)
	if err != nil {
		return err
	}
	b, err := st.s.Conn.PrepareBatch(ctx, `INSERT INTO alert_rules (id, name, metric, period_len, timezone, assistant, channel,
		country, condition, direction, value, destinations, snooze_until, created_at, deleted, version)`)
	if err != nil {
		return fmt.Errorf("store alert rule: %w", err)
	}
	defer b.Close()
	if err := b.Append(r.ID, r.Name, string(r.Metric), string(r.Interval), r.Timezone, r.Assistant, r.Channel, r.Country,
		r.Condition, r.Direction, r.Value, string(to), dateOrZero(r.Snooze), r.CreatedAt.UTC(), b2u(deleted), nextVersion()); err != nil {
		return fmt.Errorf("store alert rule: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("store alert rule: %w", err)
	}
	return nil
}

const ruleCols = `id, name, metric, period_len, timezone, assistant, channel, country, condition, direction, value,
	destinations, toString(snooze_until), created_at, deleted`

// List returns the live rules, by name.
func (st *Store) List(ctx context.Context) ([]Rule, error) { return st.rules(ctx, "1", nil) }

// Get returns the live rule with id.
func (st *Store) Get(ctx context.Context, id string) (Rule, error) {
	rs, err := st.rules(ctx, "id = ?", []any{id})
	if err != nil {
		return Rule{}, err
	}
	if len(rs) == 0 {
		return Rule{}, ErrNotFound
	}
	return rs[0], nil
}

func (st *Store) rules(ctx context.Context, where string, args []any) ([]Rule, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	rows, err := st.s.Conn.Query(ctx, `SELECT `+ruleCols+` FROM (
		SELECT * FROM alert_rules ORDER BY id, version DESC LIMIT 1 BY id
	) WHERE deleted = 0 AND `+where+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read alert rules: %w", err)
	}
	defer rows.Close()
	var out []Rule
	for rows.Next() {
		var r Rule
		var metric, iv, to string
		var deleted uint8
		if err := rows.Scan(&r.ID, &r.Name, &metric, &iv, &r.Timezone, &r.Assistant, &r.Channel, &r.Country, &r.Condition,
			&r.Direction, &r.Value, &to, &r.Snooze, &r.CreatedAt, &deleted); err != nil {
			return nil, fmt.Errorf("read alert rules: %w", err)
		}
		r.Metric, r.Interval, r.CreatedAt = query.Metric(metric), query.Interval(iv), r.CreatedAt.UTC()
		if r.Snooze == "1970-01-01" || r.Snooze == "0000-00-00" {
			r.Snooze = ""
		}
		if err := json.Unmarshal([]byte(to), &r.To); err != nil {
			return nil, fmt.Errorf("read alert rule %s: destinations: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Event states.
const (
	StateFiring   = "firing"
	StateResolved = "resolved"
)

// Delivery statuses.
const (
	DeliveryPending    = "pending"
	DeliverySent       = "sent"
	DeliveryFailed     = "failed"
	DeliverySnoozed    = "snoozed"    // the rule was snoozed: nothing sent
	DeliverySuppressed = "suppressed" // the rule's notifications of the day were used up
)

// Delivery is one destination's outcome for an event.
type Delivery struct {
	Destination string `json:"destination"`
	Status      string `json:"status"`
	Attempts    int    `json:"attempts"`
	Error       string `json:"error,omitempty"`
}

// Event is a change of a rule's state (or a test send) and where it went.
type Event struct {
	ID     string `json:"id"`
	RuleID string `json:"rule_id"`
	// Day is the period's first day (a week's Monday) in the rule's zone.
	Day        string  `json:"day"`
	State      string  `json:"state"`
	Value      float64 `json:"value"`
	Comparison float64 `json:"threshold"` // the threshold, or the value compared with (change, break: the level before)
	// Detail says what was compared, in words.
	Detail     string     `json:"detail"`
	Test       bool       `json:"test,omitempty"`
	SentAt     time.Time  `json:"sent_at"`
	Deliveries []Delivery `json:"deliveries"`
}

// SaveEvent records ev's current state.
func (st *Store) SaveEvent(ctx context.Context, ev Event) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ds, err := json.Marshal(ev.Deliveries)
	if err != nil {
		return err
	}
	b, err := st.s.Conn.PrepareBatch(ctx, `INSERT INTO alert_events (id, rule_id, period, state, value, comparison, detail, test,
		sent_at, deliveries, version)`)
	if err != nil {
		return fmt.Errorf("record alert event: %w", err)
	}
	defer b.Close()
	if err := b.Append(ev.ID, ev.RuleID, dateOrZero(ev.Day), ev.State, ev.Value, ev.Comparison, ev.Detail, b2u(ev.Test),
		ev.SentAt.UTC(), string(ds), nextVersion()); err != nil {
		return fmt.Errorf("record alert event: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record alert event: %w", err)
	}
	return nil
}

// Events returns a rule's events, newest first (test sends included when
// tests).
func (st *Store) Events(ctx context.Context, ruleID string, tests bool, limit int) ([]Event, error) {
	if limit <= 0 {
		limit = 100
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	where := "rule_id = ?"
	if !tests {
		where += " AND test = 0"
	}
	rows, err := st.s.Conn.Query(ctx, fmt.Sprintf(`SELECT id, rule_id, toString(period), state, value, comparison, detail, test,
		sent_at, deliveries FROM alert_events WHERE %s ORDER BY id, version DESC LIMIT 1 BY id`, where), ruleID)
	if err != nil {
		return nil, fmt.Errorf("read alert events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var ev Event
		var test uint8
		var ds string
		if err := rows.Scan(&ev.ID, &ev.RuleID, &ev.Day, &ev.State, &ev.Value, &ev.Comparison, &ev.Detail, &test, &ev.SentAt, &ds); err != nil {
			return nil, fmt.Errorf("read alert events: %w", err)
		}
		ev.Test, ev.SentAt = test == 1, ev.SentAt.UTC()
		if err := json.Unmarshal([]byte(ds), &ev.Deliveries); err != nil {
			return nil, fmt.Errorf("read alert event %s: %w", ev.ID, err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Newest first: by the time it was decided, then the period.
	sortEvents(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
