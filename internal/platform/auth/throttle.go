package auth

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Throttle limits failed sign-ins per account and per client address: up
// to Free failures within Window cost nothing; each one after that makes
// the next attempt wait a growing delay (1 s, 2 s, 4 s, … up to MaxDelay);
// from Block failures on, attempts are refused (429) until enough of them
// have left the window. A successful sign-in clears the account's count
// (not the address's: one's own account must not clear a guessing
// address). Attempts are counted under the name given, known or not, so
// the answer does not tell which names exist.
//
// Begin is how a sign-in uses it: attempts on one account, and from one
// address, take turns, and each is counted as a failure before its
// password is checked. Counting only finished attempts let 24 concurrent
// guesses all be checked while none had finished yet.
type Throttle struct {
	Window   time.Duration // default 15 min
	Free     int           // failures without delay, default 5
	Block    int           // failures from which attempts are refused, default 10
	MaxDelay time.Duration // default 16 s
	// Now is the clock (tests fix it); nil: time.Now.
	Now func() time.Time

	mu       sync.Mutex
	accounts map[string][]time.Time
	addrs    map[string][]time.Time
	metrics  throttleMetrics

	turnsMu sync.Mutex
	turns   map[string]*turn // "a:"+account, "i:"+address: the attempt checking now and those waiting
}

// turn lets one attempt at a time through for a key; waiting counts the
// attempts holding or waiting for it, so the entry goes when none does.
type turn struct {
	ch      chan struct{}
	waiting int
}

type throttleMetrics struct {
	failures  prometheus.Counter
	delayed   prometheus.Counter
	refused   *prometheus.CounterVec
	successes prometheus.Counter
}

// maxKeys bounds the memory of a flood of names or addresses: past it,
// expired entries are dropped, then the oldest ones.
const maxKeys = 50_000

// NewThrottle returns a throttle with the defaults (5 free failures in 15
// minutes, delays up to 16 s, refusal from 10 failures).
func NewThrottle() *Throttle {
	return &Throttle{
		accounts: map[string][]time.Time{},
		addrs:    map[string][]time.Time{},
		turns:    map[string]*turn{},
		metrics: throttleMetrics{
			failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "adoptscope_login_failures_total",
				Help: "Dashboard sign-ins refused for a wrong name or password."}),
			successes: prometheus.NewCounter(prometheus.CounterOpts{Name: "adoptscope_login_successes_total",
				Help: "Dashboard sign-ins that succeeded."}),
			delayed: prometheus.NewCounter(prometheus.CounterOpts{Name: "adoptscope_login_delayed_total",
				Help: "Dashboard sign-in attempts slowed down by the throttle (more than the free failures in the window)."}),
			refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "adoptscope_login_throttled_total",
				Help: "Dashboard sign-in attempts refused with 429 by the throttle, by what was over its limit (account or address)."}, []string{"scope"}),
		},
	}
}

// Collectors are the throttle's metrics, to register where /metrics is
// served.
func (t *Throttle) Collectors() []prometheus.Collector {
	return []prometheus.Collector{t.metrics.failures, t.metrics.successes, t.metrics.delayed, t.metrics.refused}
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Throttle) params() (window time.Duration, free, block int, maxDelay time.Duration) {
	window, free, block, maxDelay = t.Window, t.Free, t.Block, t.MaxDelay
	if window <= 0 {
		window = 15 * time.Minute
	}
	if free <= 0 {
		free = 5
	}
	if block <= free {
		block = free + 5
	}
	if maxDelay <= 0 {
		maxDelay = 16 * time.Second
	}
	return
}

// Decision is what the throttle says of an attempt before its password is
// checked.
type Decision struct {
	// Delay is how long to wait before answering (0: none).
	Delay time.Duration
	// Refused: answer 429 without checking the password; RetryAfter is
	// when the next attempt can be considered.
	Refused    bool
	RetryAfter time.Duration
	// Scope is what is over its limit: "account" or "address" ("" when
	// neither).
	Scope string
	// Failures is the larger of the two counts in the window.
	Failures int
}

// Check decides on an attempt at account from address.
func (t *Throttle) Check(account, address string) Decision {
	window, free, block, maxDelay := t.params()
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	acc := recent(t.accounts[account], now, window)
	adr := recent(t.addrs[address], now, window)
	d := Decision{Failures: len(acc), Scope: "account"}
	list := acc
	if len(adr) > len(acc) {
		d.Failures, d.Scope, list = len(adr), "address", adr
	}
	switch {
	case d.Failures >= block:
		// Refused until the count is below block again: when the failure
		// that is block-th from the newest leaves the window.
		d.Refused = true
		d.RetryAfter = list[len(list)-block].Add(window).Sub(now)
		if d.RetryAfter < time.Second {
			d.RetryAfter = time.Second
		}
		t.metrics.refused.WithLabelValues(d.Scope).Inc()
	case d.Failures >= free:
		d.Delay = time.Second << (d.Failures - free)
		if d.Delay > maxDelay || d.Delay <= 0 {
			d.Delay = maxDelay
		}
		t.metrics.delayed.Inc()
	default:
		d.Scope = ""
	}
	return d
}

// Failed records a failed attempt at account from address.
func (t *Throttle) Failed(account, address string) {
	window, _, _, _ := t.params()
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.metrics.failures.Inc()
	t.accounts = record(t.accounts, account, now, window)
	t.addrs = record(t.addrs, address, now, window)
}

// Succeeded clears account's failures.
func (t *Throttle) Succeeded(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.metrics.successes.Inc()
	delete(t.accounts, account)
}

// Attempt is a sign-in attempt let through by Begin: its Decision, and,
// unless refused, a failure already counted. Call Succeeded when the
// password was right, and End when the attempt is answered.
type Attempt struct {
	Decision
	t                *Throttle
	account, address string
	at               time.Time
	counted          bool
	release          func()
}

// Begin waits for the turn of account and of address (one attempt at a
// time for each; ctx ending gives up), then decides on the attempt and,
// unless it is refused, counts it as a failure at once, before the
// password is checked. The caller waits Delay, checks the password,
// calls Succeeded if it was right, and End in every case.
func (t *Throttle) Begin(ctx context.Context, account, address string) (*Attempt, error) {
	// Always the account's turn first, then the address's: two attempts
	// never hold one each while waiting for the other.
	relAcc, err := t.take(ctx, "a:"+account)
	if err != nil {
		return nil, err
	}
	relAdr, err := t.take(ctx, "i:"+address)
	if err != nil {
		relAcc()
		return nil, err
	}
	at := &Attempt{t: t, account: account, address: address, release: func() { relAdr(); relAcc() }}
	at.Decision = t.Check(account, address)
	if !at.Refused {
		window, _, _, _ := t.params()
		at.at = t.now()
		t.mu.Lock()
		t.accounts = record(t.accounts, account, at.at, window)
		t.addrs = record(t.addrs, address, at.at, window)
		t.mu.Unlock()
		at.counted = true
	}
	return at, nil
}

// Succeeded records that the password was right: the account's failures
// are cleared and this attempt no longer counts against the address.
func (a *Attempt) Succeeded() {
	t := a.t
	t.mu.Lock()
	defer t.mu.Unlock()
	t.metrics.successes.Inc()
	delete(t.accounts, a.account)
	if a.counted {
		ts := t.addrs[a.address]
		for i := len(ts) - 1; i >= 0; i-- {
			if ts[i].Equal(a.at) {
				t.addrs[a.address] = append(ts[:i:i], ts[i+1:]...)
				break
			}
		}
	}
	a.counted = false
}

// End ends the attempt (a failure unless Succeeded was called) and lets
// the next one on its account and address go.
func (a *Attempt) End() {
	if a.counted {
		a.t.mu.Lock()
		a.t.metrics.failures.Inc()
		a.t.mu.Unlock()
		a.counted = false
	}
	if a.release != nil {
		a.release()
		a.release = nil
	}
}

// take waits for key's turn and returns the function that gives it back.
func (t *Throttle) take(ctx context.Context, key string) (func(), error) {
	t.turnsMu.Lock()
	if t.turns == nil {
		t.turns = map[string]*turn{}
	}
	tn := t.turns[key]
	if tn == nil {
		tn = &turn{ch: make(chan struct{}, 1)}
		t.turns[key] = tn
	}
	tn.waiting++
	t.turnsMu.Unlock()
	leave := func() {
		t.turnsMu.Lock()
		if tn.waiting--; tn.waiting == 0 {
			delete(t.turns, key)
		}
		t.turnsMu.Unlock()
	}
	select {
	case tn.ch <- struct{}{}:
		return func() { <-tn.ch; leave() }, nil
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
}

// Wait sleeps d or until ctx ends.
func Wait(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// recent is the part of ts (oldest first) within window before now.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	cut := now.Add(-window)
	i := sort.Search(len(ts), func(i int) bool { return ts[i].After(cut) })
	return ts[i:]
}

// maxKept bounds the failures kept per key: more than Block never change
// a decision, and a fixed bound keeps a flood from growing one entry.
const maxKept = 64

func record(m map[string][]time.Time, key string, now time.Time, window time.Duration) map[string][]time.Time {
	ts := append(recent(m[key], now, window), now)
	if len(ts) > maxKept {
		ts = append([]time.Time(nil), ts[len(ts)-maxKept:]...)
	}
	m[key] = ts
	if len(m) > maxKeys {
		prune(m, now, window)
	}
	return m
}

// prune drops the expired entries of m, then, while it is still over
// maxKeys, those whose newest failure is oldest.
func prune(m map[string][]time.Time, now time.Time, window time.Duration) {
	for k, ts := range m {
		if len(recent(ts, now, window)) == 0 {
			delete(m, k)
		}
	}
	if len(m) <= maxKeys {
		return
	}
	type entry struct {
		k    string
		last time.Time
	}
	es := make([]entry, 0, len(m))
	for k, ts := range m {
		es = append(es, entry{k, ts[len(ts)-1]})
	}
	sort.Slice(es, func(i, j int) bool { return es[i].last.Before(es[j].last) })
	for _, e := range es[:len(m)-maxKeys*9/10] {
		delete(m, e.k)
	}
}
