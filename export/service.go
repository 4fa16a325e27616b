package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/internal/platform/httperr"
	"github.com/adoptscope/adoptscope/internal/platform/store"
)

// Service is what every adapter (query API, dashboard, CLI) calls for
// exports: the definitions, their history and files, manual runs, and the
// scheduler when the process runs one. The app builds one per process.
type Service struct {
	Store  *Store
	Runner *Runner
	Root   string // the exports folder
	// RunTimeout bounds a manual run (default 1h).
	RunTimeout time.Duration

	sched *Scheduler // nil: this process does not schedule
	// Manual runs go on in the background; Stop waits for them, and
	// cancelling ctx interrupts them.
	manual sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

// NewService returns the export service of a process whose exports folder
// is root.
func NewService(s *store.Store, root string, log *slog.Logger) *Service {
	st := NewStore(s)
	ctx, cancel := context.WithCancel(context.Background())
	return &Service{
		Store: st, Root: root, ctx: ctx, cancel: cancel,
		Runner: &Runner{Store: st, Source: QuerySource{S: s}, Root: root, Claimer: ClaimerID(), Log: log},
	}
}

// StartScheduler runs the scheduled exports in this process.
func (s *Service) StartScheduler(o SchedulerOptions) {
	s.sched = NewScheduler(s.Runner, o)
	s.sched.Start()
}

// Scheduling reports whether this process runs the scheduler.
func (s *Service) Scheduling() bool { return s.sched != nil }

// Stop stops scheduling and waits for running exports until ctx ends; runs
// still going then are cancelled and record themselves as failed
// ("interrupted"), and a scheduler retries them later.
func (s *Service) Stop(ctx context.Context) error {
	var errs []error
	if s.sched != nil {
		errs = append(errs, s.sched.Stop(ctx))
	}
	done := make(chan struct{})
	go func() { s.manual.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		<-done
		errs = append(errs, errors.New("manual export runs still going at shutdown were stopped and recorded as failed"))
	}
	s.cancel()
	return errors.Join(errs...)
}

// View is an export as the adapters show it: never its webhook secret,
// and of its webhook URL only the scheme and host (a URL often carries a
// password or a secret path); Admin shows more.
type View struct {
	Export
	ScheduleWords string     `json:"schedule_words"`
	NextRun       *time.Time `json:"next_run"`
	LastRun       *Run       `json:"last_run"`

	redacted string // the webhook URL as an admin sees it
}

// Admin is the view an admin sees: the whole webhook URL, its password and
// query values masked.
func (v View) Admin() View {
	v.WebhookURL = v.redacted
	return v
}

// View builds the view of e with its latest run.
func (s *Service) View(e Export, last *Run) View {
	e.WebhookSecret = ""
	var redacted string
	if e.WebhookURL != "" {
		redacted = RedactURL(e.WebhookURL)
		if last != nil {
			l := scrubRun(e, *last)
			last = &l
		}
		e.WebhookURL = URLHost(e.WebhookURL)
	}
	v := View{Export: e, ScheduleWords: e.Sched().Describe(), LastRun: last, redacted: redacted}
	var n time.Time
	if s.sched != nil {
		n = s.sched.NextRun(e.ID)
	}
	if n.IsZero() {
		n = e.Sched().Next(time.Now())
	}
	if !n.IsZero() {
		v.NextRun = &n
	}
	return v
}

// Overview lists every export with its latest run, by name.
func (s *Service) Overview(ctx context.Context) ([]View, error) {
	es, err := s.Store.List(ctx)
	if err != nil {
		return nil, err
	}
	last, err := s.Store.LastRuns(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(es))
	for _, e := range es {
		var lr *Run
		if r, ok := last[e.ID]; ok {
			lr = &r
		}
		out = append(out, s.View(e, lr))
	}
	return out, nil
}

// Get returns the export with id; an unknown id is a 404 that says where
// the list is.
func (s *Service) Get(ctx context.Context, id string) (Export, error) {
	e, err := s.Store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return e, httperr.Wrap(http.StatusNotFound, fmt.Sprintf("no export with id %q (GET /api/v1/exports or 'adoptscope export list' lists them)", id), err)
	}
	return e, err
}

// Latest returns e's view with its latest run.
func (s *Service) Latest(ctx context.Context, e Export) (View, error) {
	runs, err := s.Store.Runs(ctx, e.ID, 1)
	if err != nil {
		return View{}, err
	}
	var last *Run
	if len(runs) > 0 {
		last = &runs[0]
	}
	return s.View(e, last), nil
}

// Create checks e (the one rule every adapter applies) and stores it.
func (s *Service) Create(ctx context.Context, e *Export) error {
	if err := e.Normalize(); err != nil {
		return httperr.Wrap(http.StatusBadRequest, err.Error(), err)
	}
	if e.WebhookURL != "" {
		if err := s.Runner.Webhook.To.CheckURL(ctx, e.WebhookURL); err != nil {
			return err
		}
	}
	if err := s.Store.Create(ctx, e); err != nil {
		if strings.Contains(err.Error(), "exists") {
			return httperr.Wrap(http.StatusConflict, err.Error(), err)
		}
		return err
	}
	return nil
}

// Delete stops scheduling e; its files and history stay.
func (s *Service) Delete(ctx context.Context, e Export) error { return s.Store.Delete(ctx, e.ID) }

// History returns the runs of e, newest first, each marked Kept while its
// file is still in the exports folder.
func (s *Service) History(ctx context.Context, e Export, limit int) ([]Run, error) {
	runs, err := s.Store.Runs(ctx, e.ID, limit)
	if err != nil {
		return nil, err
	}
	MarkKept(s.Root, e, runs)
	for i := range runs {
		runs[i] = scrubRun(e, runs[i])
	}
	return runs, nil
}

// scrubRun removes e's webhook URL from a run's error: runs recorded by
// earlier versions quoted it whole.
func scrubRun(e Export, r Run) Run {
	if e.WebhookURL != "" && strings.Contains(r.Error, e.WebhookURL) {
		r.Error = strings.ReplaceAll(r.Error, e.WebhookURL, URLHost(e.WebhookURL))
	}
	return r
}

// StartRun starts a manual run of e now, in the background, and returns
// its id.
func (s *Service) StartRun(e Export) string {
	id := NewID()
	timeout := s.RunTimeout
	if timeout <= 0 {
		timeout = time.Hour
	}
	s.manual.Add(1)
	go func() {
		defer s.manual.Done()
		ctx, cancel := context.WithTimeout(s.ctx, timeout)
		defer cancel()
		_, _ = s.Runner.RunAs(ctx, id, e, time.Now().UTC(), 1, "manual")
	}()
	return id
}

// RunNow runs e now and waits for the result (the CLI's `export run`).
func (s *Service) RunNow(ctx context.Context, e Export) (Run, error) {
	return s.Runner.Run(ctx, e, time.Now().UTC(), 1, "manual")
}

// OpenKept opens a kept file of e; any other name, or a file the retention
// has removed, is a 404.
func (s *Service) OpenKept(e Export, name string) (*os.File, os.FileInfo, error) {
	f, err := OpenFile(s.Root, e, name)
	if err != nil {
		return nil, nil, httperr.Wrap(http.StatusNotFound, "no such file: it may have been removed by the export's retention (keep)", err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, httperr.New(http.StatusNotFound, "no such file")
	}
	return f, st, nil
}
