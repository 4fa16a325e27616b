package alert

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
)

// DefaultMaxPerDay is how many notifications a rule sends a day at most.
const DefaultMaxPerDay = 2

// Service is the alert feature: rules, their evaluation after each
// complete period, backtests, test sends and the history.
type Service struct {
	Store    *Store
	Registry catalog.Registry
	// Owners says who controls each channel (metric dependency; zero:
	// catalog.DefaultOwners).
	Owners catalog.Owners
	Send   Sender
	// MaxPerDay bounds a rule's notifications per day (by the clock, UTC).
	MaxPerDay int
	// Claimer identifies this process in claims; Settle is the claim's
	// wait (export/README.md: exactly once across processes).
	Claimer string
	Settle  time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	Log *slog.Logger

	s      *store.Store
	notes  *annotation.Service
	claims *export.Store

	mu   sync.Mutex
	done map[string]time.Time // rule id -> last period this process settled
}

// NewService builds the service over s; notes answers break rules.
func NewService(s *store.Store, notes *annotation.Service, reg catalog.Registry, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{Store: NewStore(s), Registry: reg, MaxPerDay: DefaultMaxPerDay, Claimer: export.ClaimerID(), Settle: 3 * time.Second,
		Log: log, s: s, notes: notes, claims: export.NewStore(s), done: map[string]time.Time{}}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Create validates and stores a new rule. Destinations are checked
// against the address rules.
func (s *Service) Create(ctx context.Context, r *Rule) error {
	r.ID, r.CreatedAt = NewID(), s.now().Truncate(time.Second)
	if err := s.check(ctx, r); err != nil {
		return err
	}
	return s.Store.Save(ctx, *r)
}

// Update replaces rule id with r (its id and creation time kept; a
// webhook without a secret keeps the stored one for the same URL).
func (s *Service) Update(ctx context.Context, id string, r *Rule) error {
	old, err := s.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	r.ID, r.CreatedAt = old.ID, old.CreatedAt
	for i := range r.To {
		for _, o := range old.To {
			if r.To[i].Secret == "" && r.To[i].Kind == KindWebhook && o.Kind == KindWebhook && o.URL == r.To[i].URL {
				r.To[i].Secret = o.Secret
			}
		}
	}
	if err := s.check(ctx, r); err != nil {
		return err
	}
	return s.Store.Save(ctx, *r)
}

func (s *Service) check(ctx context.Context, r *Rule) error {
	if err := r.Normalize(s.Registry); err != nil {
		return err
	}
	var errs []error
	for i, d := range r.To {
		if d.URL == "" {
			continue
		}
		if err := s.Send.To.CheckURL(ctx, d.URL); err != nil {
			errs = append(errs, fmt.Errorf("destinations[%d].%v", i, err))
		}
	}
	if len(errs) > 0 {
		return &InvalidError{errs}
	}
	return nil
}

// Delete removes rule id; its history stays.
func (s *Service) Delete(ctx context.Context, id string) error {
	r, err := s.Store.Get(ctx, id)
	if err != nil {
		return err
	}
	return s.Store.Delete(ctx, r)
}

// Backtest lists what rule r would have sent over the complete periods
// of [from, to], starting quiet, sending nothing.
func (s *Service) Backtest(ctx context.Context, r Rule, from, to time.Time) (BacktestResult, error) {
	res := BacktestResult{RuleID: r.ID, From: from.Format(catalog.DateLayout), To: to.Format(catalog.DateLayout), Events: []Backtest{}}
	fr, err := query.Freshness(ctx, s.s, s.now())
	if err != nil {
		return res, err
	}
	if last := r.LastComplete(fr); to.After(last) {
		to = last
	}
	if to.Before(from) {
		return res, nil
	}
	var checks []Check
	if r.Condition == Break {
		checks, err = breakChecks(ctx, s.notes, r, from, to)
		for _, c := range checks {
			res.Events = append(res.Events, toBacktest(Transition{c, StateFiring}))
		}
		res.Periods = int(to.Sub(from).Hours()/24) + 1
		return res, err
	}
	checks, err = Checks(ctx, s.s, r, s.Owners, from, to, &fr)
	if err != nil {
		return res, err
	}
	res.Periods = len(checks)
	for _, t := range Transitions("", checks) {
		res.Events = append(res.Events, toBacktest(t))
	}
	return res, nil
}

// Test sends a sample notification of r to every destination, recorded
// as a test event.
func (s *Service) Test(ctx context.Context, r Rule) (Event, error) {
	now := s.now()
	day := now.AddDate(0, 0, -1)
	n := Notice{Rule: r, State: StateFiring, Day: day.Format(catalog.DateLayout), Value: r.Value, Comparison: r.Value, ChangePct: math.NaN(),
		Detail: "Sample values: the rule's own " + r.Describe() + ".", Test: true}
	ev := Event{ID: eventID(now), RuleID: r.ID, Day: n.Day, State: n.State, Value: n.Value, Comparison: n.Comparison, Detail: n.Detail, Test: true, SentAt: now}
	ev.Deliveries = s.Send.Send(ctx, n)
	return ev, s.Store.SaveEvent(context.WithoutCancel(ctx), ev)
}

// Events is the history of rule id, newest first.
func (s *Service) Events(ctx context.Context, id string, limit int) ([]Event, error) {
	return s.Store.Events(ctx, id, true, limit)
}

// state is the rule's state by its last non-test event: firing or
// resolved ("" before any).
func (s *Service) state(ctx context.Context, r Rule) (string, []Event, error) {
	evs, err := s.Store.Events(ctx, r.ID, false, 1000)
	if err != nil {
		return "", nil, err
	}
	if len(evs) == 0 || r.Condition == Break {
		return "", evs, nil
	}
	return evs[0].State, evs, nil
}

// Evaluate runs every rule on its last complete period, once across
// processes: each (rule, period) is claimed like an export run, and only
// the winner evaluates and notifies. It returns how many notifications
// were decided.
func (s *Service) Evaluate(ctx context.Context) (int, error) {
	rules, err := s.Store.List(ctx)
	if err != nil {
		return 0, err
	}
	if len(rules) == 0 {
		return 0, nil
	}
	fr, err := query.Freshness(ctx, s.s, s.now())
	if err != nil || fr.Empty() {
		return 0, err
	}
	n := 0
	for _, r := range rules {
		k, err := s.evaluateRule(ctx, r, fr)
		n += k
		if err != nil {
			s.Log.Error("alert evaluation failed (tried again at the next check)", "rule", r.Name, "id", r.ID, "error", err)
		}
	}
	return n, nil
}

func (s *Service) evaluateRule(ctx context.Context, r Rule, fr query.DataFreshness) (int, error) {
	p := r.LastComplete(fr)
	if p.IsZero() {
		return 0, nil
	}
	s.mu.Lock()
	seen := !s.done[r.ID].Before(p)
	s.mu.Unlock()
	if seen {
		return 0, nil
	}
	won, err := s.claims.Claim(ctx, "alert:"+r.ID, p, 1, s.Claimer, s.Settle)
	if err != nil {
		return 0, err
	}
	settle := func() {
		s.mu.Lock()
		s.done[r.ID] = p
		s.mu.Unlock()
	}
	if !won {
		settle()
		return 0, nil
	}
	state, evs, err := s.state(ctx, r)
	if err != nil {
		return 0, err
	}
	var ts []Transition
	if r.Condition == Break {
		checks, err := breakChecks(ctx, s.notes, r, p.AddDate(0, 0, -breakWindow), p)
		if err != nil {
			return 0, err
		}
		told := map[string]bool{}
		for _, ev := range evs {
			told[ev.Day] = true
		}
		for _, c := range checks {
			if !told[c.Period.Format(catalog.DateLayout)] {
				ts = append(ts, Transition{c, StateFiring})
			}
		}
	} else {
		checks, err := Checks(ctx, s.s, r, s.Owners, p, p, &fr)
		if err != nil {
			return 0, err
		}
		ts = Transitions(state, checks)
	}
	settle()
	sentToday := s.sentOn(evs, s.now())
	for _, t := range ts {
		s.notify(ctx, r, t, &sentToday)
	}
	return len(ts), nil
}

// sentOn counts the events of evs whose notifications went out (or were
// tried) on now's day.
func (s *Service) sentOn(evs []Event, now time.Time) int {
	n := 0
	y, m, d := now.Date()
	for _, ev := range evs {
		if ev.Test {
			continue
		}
		ey, em, ed := ev.SentAt.Date()
		if ey != y || em != m || ed != d {
			continue
		}
		for _, dl := range ev.Deliveries {
			if dl.Status == DeliverySent || dl.Status == DeliveryFailed || dl.Status == DeliveryPending {
				n++
				break
			}
		}
	}
	return n
}

// notify records the transition and sends it, unless the rule is snoozed
// or its notifications of the day are used up (then it is recorded with
// that status on every destination).
func (s *Service) notify(ctx context.Context, r Rule, t Transition, sentToday *int) {
	now := s.now()
	day := t.Period.Format(catalog.DateLayout)
	ev := Event{ID: eventID(now), RuleID: r.ID, Day: day, State: t.State, Value: t.Value, Comparison: t.Comparison, Detail: t.Detail, SentAt: now}
	status := DeliveryPending
	switch {
	case r.Snooze != "" && day <= r.Snooze:
		status = DeliverySnoozed
	case *sentToday >= s.maxPerDay():
		status = DeliverySuppressed
	}
	for _, d := range r.To {
		ev.Deliveries = append(ev.Deliveries, Delivery{Destination: d.Name(), Status: status})
	}
	if err := s.Store.SaveEvent(ctx, ev); err != nil {
		s.Log.Error("alert: record event", "rule", r.Name, "error", err)
		return
	}
	if status != DeliveryPending {
		s.Log.Info("alert not sent", "rule", r.Name, "state", t.State, "day", day, "why", status)
		return
	}
	*sentToday++
	ev.Deliveries = s.Send.Send(ctx, Notice{Rule: r, State: t.State, Day: day, Value: t.Value, Comparison: t.Comparison, ChangePct: t.ChangePct, Detail: t.Detail})
	if err := s.Store.SaveEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.Log.Error("alert: record deliveries", "rule", r.Name, "error", err)
	}
	s.Log.Info("alert", "rule", r.Name, "state", t.State, "day", day, "deliveries", fmt.Sprint(ev.Deliveries))
}

func (s *Service) maxPerDay() int {
	if s.MaxPerDay <= 0 {
		return DefaultMaxPerDay
	}
	return s.MaxPerDay
}

// eventID orders events by when they were decided.
func eventID(now time.Time) string {
	return fmt.Sprintf("ev-%016x-%s", now.UnixNano(), randomHex(3))
}

func sortEvents(evs []Event) {
	sort.Slice(evs, func(i, j int) bool { return evs[i].ID > evs[j].ID })
}

// Loop evaluates the rules in the background: every interval it checks
// whether a rule's last complete period moved on.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs Evaluate every interval (default one minute) until Stop.
func (s *Service) Start(interval time.Duration) *Loop {
	if interval <= 0 {
		interval = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			t.Reset(interval)
			rctx, rcancel := context.WithTimeout(ctx, 10*time.Minute)
			if _, err := s.Evaluate(rctx); err != nil {
				s.Log.Warn("alert evaluation", "error", err)
			}
			rcancel()
		}
	}()
	return l
}

// Stop ends the loop and waits for an evaluation in progress.
func (l *Loop) Stop(ctx context.Context) error {
	l.cancel()
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
