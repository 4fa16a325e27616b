package export

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// SchedulerOptions tune the scheduler; zero values take the defaults.
type SchedulerOptions struct {
	// CatchUp: after downtime, run each export's latest missed run once
	// (default true through NewScheduler's caller; false skips to the next).
	CatchUp bool
	// MaxAttempts per scheduled run, the first included (default 3).
	MaxAttempts int
	// RetryBackoff is the wait before the second attempt, doubled for each
	// further one (default 1m).
	RetryBackoff time.Duration
	// Settle is how long a claim waits before reading the winner (default
	// 3s; see README.md).
	Settle time.Duration
	// StaleAfter: a running run whose heartbeat is older than this is
	// taken as dead (its process was killed) and recorded failed (default
	// 1m; must be several heartbeats).
	StaleAfter time.Duration
	// Reload is how often the export list is re-read, to see exports
	// created or deleted by other processes (default 10s).
	Reload time.Duration
	// RetryWindow: failed runs scheduled and finished longer ago than this
	// are not retried (default 24h). A run still marked running is
	// checked for a heartbeat whatever its age.
	RetryWindow time.Duration
}

func (o SchedulerOptions) withDefaults() SchedulerOptions {
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 3
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = time.Minute
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = time.Minute
	}
	if o.Reload <= 0 {
		o.Reload = 10 * time.Second
	}
	if o.RetryWindow <= 0 {
		o.RetryWindow = 24 * time.Hour
	}
	return o
}

// Scheduler starts the runs of every export when they are due. Any number
// of schedulers may run against one store: each run is claimed first (see
// Store.Claim), so it happens once.
type Scheduler struct {
	r   *Runner
	o   SchedulerOptions
	log *slog.Logger

	mu         sync.Mutex
	exports    map[string]Export
	next       map[string]time.Time
	loadedAt   time.Time
	scannedAt  time.Time
	inflight   map[string]bool // export id + scheduled + attempt being handled here
	wg         sync.WaitGroup
	runCtx     context.Context
	cancelRuns context.CancelFunc
	stop       chan struct{}
	done       chan struct{}
}

// NewScheduler builds a scheduler that executes runs with r.
func NewScheduler(r *Runner, o SchedulerOptions) *Scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		r: r, o: o.withDefaults(), log: r.log(),
		exports: map[string]Export{}, next: map[string]time.Time{}, inflight: map[string]bool{},
		runCtx: ctx, cancelRuns: cancel,
	}
}

// ClaimerID names this process in claims and run records:
// host/pid/random, unique across machines and restarts.
func ClaimerID() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s/%d/%s", h, os.Getpid(), randomHex(4))
}

// Start runs the scheduler loop in the background until Stop.
func (s *Scheduler) Start() {
	s.stop = make(chan struct{})
	s.done = make(chan struct{})
	if n := SweepPartials(s.r.Root, 10*time.Minute); n > 0 {
		s.log.Info("removed temporary export files left by a crash", "files", n)
	}
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			s.Tick(s.runCtx, s.r.now())
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Stop stops starting runs and waits for those running to finish until ctx
// ends; then it cancels them, and each records itself as failed
// ("interrupted"), which a scheduler retries later.
func (s *Scheduler) Stop(ctx context.Context) error {
	if s.stop != nil {
		close(s.stop)
		<-s.done
	}
	finished := make(chan struct{})
	go func() { s.wg.Wait(); close(finished) }()
	select {
	case <-finished:
		s.cancelRuns()
		return nil
	case <-ctx.Done():
		s.cancelRuns()
		<-finished
		return fmt.Errorf("export runs still going at shutdown were stopped and recorded as failed: %w", ctx.Err())
	}
}

// Wait waits until every run started so far has ended (for tests and the
// CLI).
func (s *Scheduler) Wait() { s.wg.Wait() }

// Tick starts what is due at now: scheduled runs, catch-up runs after
// downtime, retries of failed runs. It never waits for a run.
func (s *Scheduler) Tick(ctx context.Context, now time.Time) {
	now = now.UTC()
	s.mu.Lock()
	reload := s.loadedAt.IsZero() || now.Sub(s.loadedAt) >= s.o.Reload || now.Before(s.loadedAt)
	s.mu.Unlock()
	if reload {
		if err := s.load(ctx, now); err != nil {
			s.log.Error("export scheduler: read exports", "error", err)
			return
		}
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.exports))
	for id := range s.exports {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		e := s.exports[id]
		n := s.next[id]
		if n.IsZero() || n.After(now) {
			continue
		}
		sched := e.Sched()
		// Several slots passed since (a slow tick, a suspended machine):
		// run the latest once.
		due, trigger := n, "schedule"
		if p := sched.Prev(now, now.Sub(n)+time.Second); !p.IsZero() && p.After(due) {
			due, trigger = p, "catch_up"
		}
		s.next[id] = sched.Next(now)
		s.launchLocked(e, due, 1, trigger)
	}
	scan := s.scannedAt.IsZero() || now.Sub(s.scannedAt) >= s.o.Reload || now.Before(s.scannedAt)
	if scan {
		s.scannedAt = now
	}
	s.mu.Unlock()
	if scan {
		s.recover(ctx, now)
	}
}

// load re-reads the exports. A new export's first run is the first slot
// after the later of its creation and its latest claimed run; when that
// slot has passed (downtime), the latest missed slot runs once if CatchUp.
func (s *Scheduler) load(ctx context.Context, now time.Time) error {
	es, err := s.r.Store.List(ctx)
	if err != nil {
		return err
	}
	var last map[string]time.Time
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadedAt = now
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.ID] = true
		old, known := s.exports[e.ID]
		s.exports[e.ID] = e
		if known && old.Schedule == e.Schedule && old.Timezone == e.Timezone {
			continue
		}
		if last == nil {
			s.mu.Unlock()
			last, err = s.r.Store.LastScheduled(ctx)
			s.mu.Lock()
			if err != nil {
				return err
			}
		}
		sched := e.Sched()
		base := e.CreatedAt
		if l := last[e.ID]; l.After(base) {
			base = l
		}
		first := sched.Next(base)
		if first.IsZero() {
			s.next[e.ID] = time.Time{}
			continue
		}
		if !first.After(now) {
			if s.o.CatchUp {
				due := sched.Prev(now, now.Sub(base))
				if due.IsZero() {
					due = first
				}
				s.launchLocked(e, due, 1, "catch_up")
			}
			s.next[e.ID] = sched.Next(now)
			continue
		}
		s.next[e.ID] = first
	}
	for id := range s.exports {
		if !seen[id] {
			delete(s.exports, id)
			delete(s.next, id)
		}
	}
	return nil
}

// recover records dead runs as failed and starts due retries.
func (s *Scheduler) recover(ctx context.Context, now time.Time) {
	runs, err := s.r.Store.RecentRuns(ctx, now.Add(-s.o.RetryWindow))
	if err != nil {
		s.log.Error("export scheduler: read recent runs", "error", err)
		return
	}
	// A claim won by a process that died before recording its run: record
	// the run failed, so that it is retried like any other.
	if claims, err := s.r.Store.StaleClaims(ctx, now.Add(-s.o.RetryWindow), s.o.StaleAfter+s.o.Settle); err != nil {
		s.log.Error("export scheduler: read claims", "error", err)
	} else {
		type akey struct {
			id      string
			at      int64
			attempt int
		}
		have := map[akey]bool{}
		for _, r := range runs {
			have[akey{r.ExportID, r.ScheduledAt.Unix(), r.Attempt}] = true
		}
		for _, c := range claims {
			if have[akey{c.ExportID, c.ScheduledAt.Unix(), c.Attempt}] {
				continue
			}
			s.mu.Lock()
			e, ok := s.exports[c.ExportID]
			s.mu.Unlock()
			if !ok {
				continue
			}
			r := Run{ID: NewID(), ExportID: c.ExportID, ExportName: e.Name, ScheduledAt: c.ScheduledAt, Attempt: c.Attempt,
				Trigger: "schedule", Claimer: c.Claimer, Status: StatusFailed, StartedAt: now, FinishedAt: now, HeartbeatAt: now,
				Error: fmt.Sprintf("interrupted: %s claimed this run but never started it", c.Claimer)}
			if err := s.r.Store.SaveRun(ctx, r); err != nil {
				s.log.Error("export scheduler: record lost claim", "export", e.Name, "error", err)
				continue
			}
			runs = append(runs, r)
		}
	}
	type key struct {
		id string
		at time.Time
	}
	latest := map[key]Run{}
	for _, r := range runs {
		if r.Status == StatusRunning && now.Sub(r.HeartbeatAt) > s.o.StaleAfter {
			r.Status = StatusFailed
			r.FinishedAt = now
			r.Error = fmt.Sprintf("interrupted: the process running it (%s) stopped answering; last heartbeat %s", r.Claimer, r.HeartbeatAt.Format(time.RFC3339))
			if err := s.r.Store.SaveRun(ctx, r); err != nil {
				s.log.Error("export scheduler: record interrupted run", "run", r.ID, "error", err)
				continue
			}
			s.log.Warn("export run interrupted; recorded as failed", "export", r.ExportName, "run", r.ID, "claimer", r.Claimer)
		}
		if r.Trigger == "manual" {
			continue
		}
		k := key{r.ExportID, r.ScheduledAt}
		if cur, ok := latest[k]; !ok || r.Attempt > cur.Attempt {
			latest[k] = r
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range latest {
		if r.Status != StatusFailed || r.Attempt >= s.o.MaxAttempts {
			continue
		}
		e, ok := s.exports[r.ExportID]
		if !ok {
			continue
		}
		wait := s.o.RetryBackoff << (r.Attempt - 1)
		if now.Sub(r.FinishedAt) < wait {
			continue
		}
		s.launchLocked(e, r.ScheduledAt, r.Attempt+1, "retry")
	}
}

// launchLocked claims and executes one run in the background. s.mu is held.
func (s *Scheduler) launchLocked(e Export, at time.Time, attempt int, trigger string) {
	key := fmt.Sprintf("%s|%d|%d", e.ID, at.Unix(), attempt)
	if s.inflight[key] {
		return
	}
	s.inflight[key] = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.inflight, key)
			s.mu.Unlock()
		}()
		ctx := s.runCtx
		won, err := s.r.Store.Claim(ctx, e.ID, at, attempt, s.r.Claimer, s.o.Settle)
		if err != nil {
			s.log.Error("export run: claim failed; not running it", "export", e.Name, "scheduled_at", at, "error", err)
			return
		}
		if !won {
			s.log.Debug("export run claimed by another scheduler", "export", e.Name, "scheduled_at", at, "attempt", attempt)
			return
		}
		_, _ = s.r.Run(ctx, e, at, attempt, trigger)
	}()
}

// NextRun is when the scheduler will next run export id (zero if unknown).
func (s *Scheduler) NextRun(id string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next[id]
}
