package export

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
)

// Source runs an export's query. The query package provides the real one
// (see QuerySource); tests can give their own.
type Source interface {
	// Open starts the query of the given kind (series, migration,
	// retention) with query API parameters and streams its rows.
	Open(ctx context.Context, kind string, params url.Values) (Table, error)
	// HasDemoData reports whether the data the query reads includes
	// synthetic demo events.
	HasDemoData(ctx context.Context, kind string, params url.Values) (bool, error)
}

// Runner executes runs: query, file, retention, webhook, history.
type Runner struct {
	Store   *Store
	Source  Source
	Root    string // the exports folder, $ADOPTSCOPE_DATA_DIR/exports
	Claimer string // this process, recorded with each run
	Webhook WebhookPolicy
	// Heartbeat is how often a running run says it is alive (default 10s).
	Heartbeat time.Duration
	Now       func() time.Time
	Log       *slog.Logger
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.Default()
}

// Run executes one run of e for scheduledAt and records it. The returned
// Run is its final state; the error is the run's failure, if any. When ctx
// ends during the run (shutdown), the run is recorded as failed with the
// reason, and no file is left behind.
func (r *Runner) Run(ctx context.Context, e Export, scheduledAt time.Time, attempt int, trigger string) (Run, error) {
	return r.RunAs(ctx, NewID(), e, scheduledAt, attempt, trigger)
}

// RunAs is Run with the run id chosen by the caller (the API answers with
// it before the run ends).
func (r *Runner) RunAs(ctx context.Context, runID string, e Export, scheduledAt time.Time, attempt int, trigger string) (Run, error) {
	start := r.now()
	run := Run{
		ID: runID, ExportID: e.ID, ExportName: e.Name, ScheduledAt: scheduledAt.UTC().Truncate(time.Second),
		Attempt: attempt, Trigger: trigger, Claimer: r.Claimer, Status: StatusRunning,
		StartedAt: start, HeartbeatAt: start,
	}
	// Recording must outlive a cancelled run context: the failure of an
	// interrupted run is part of the history.
	recCtx := context.WithoutCancel(ctx)
	from, to, err := e.Period(run.ScheduledAt)
	if err == nil {
		run.PeriodFrom, run.PeriodTo = from.Format(catalog.DateLayout), to.Format(catalog.DateLayout)
	}
	if serr := r.Store.SaveRun(recCtx, run); serr != nil {
		return run, serr
	}

	var mu sync.Mutex
	stopBeat := make(chan struct{})
	beatDone := make(chan struct{})
	go func() {
		defer close(beatDone)
		every := r.Heartbeat
		if every <= 0 {
			every = 10 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-t.C:
				mu.Lock()
				run.HeartbeatAt = r.now()
				cp := run
				mu.Unlock()
				if err := r.Store.SaveRun(recCtx, cp); err != nil {
					r.log().Warn("export heartbeat not recorded", "export", e.Name, "run", cp.ID, "error", err)
				}
			}
		}
	}()

	var res result
	if err == nil {
		res, err = r.execute(ctx, e, run.ID, from, to)
	}
	close(stopBeat)
	<-beatDone

	mu.Lock()
	run.FinishedAt = r.now()
	run.HeartbeatAt = run.FinishedAt
	run.Rows, run.Bytes, run.File, run.Synthetic, run.Webhook = uint64(res.rows), uint64(res.bytes), res.file, res.synthetic, res.webhook
	switch {
	case err != nil:
		run.Status = StatusFailed
		run.Error = err.Error()
		if ctx.Err() != nil && !errors.Is(err, errWebhook) {
			run.Error = "interrupted (process stopping): " + err.Error()
		}
	case res.skipped:
		run.Status = StatusSkipped
	default:
		run.Status = StatusSuccess
	}
	final := run
	mu.Unlock()
	if serr := r.Store.SaveRun(recCtx, final); serr != nil {
		return final, errors.Join(err, serr)
	}
	lg := r.log().With("export", e.Name, "run", final.ID, "scheduled_at", final.ScheduledAt, "attempt", attempt, "trigger", trigger)
	if err != nil {
		lg.Error("export run failed", "error", err)
	} else {
		lg.Info("export run finished", "status", final.Status, "rows", final.Rows, "bytes", final.Bytes, "file", final.File)
	}
	return final, err
}

var errWebhook = errors.New("webhook delivery failed")

type result struct {
	rows, bytes int64
	file        string
	synthetic   bool
	skipped     bool
	webhook     string
}

func (r *Runner) execute(ctx context.Context, e Export, runID string, from, to time.Time) (result, error) {
	var res result
	if r.Source == nil {
		return res, errors.New("no query source configured")
	}
	dir, err := e.Dir(r.Root)
	if err != nil {
		return res, err
	}
	params := e.Params(from, to)
	synth, err := r.Source.HasDemoData(ctx, e.Kind, params)
	if err != nil {
		return res, fmt.Errorf("check for demo data: %w", err)
	}
	res.synthetic = synth
	t, err := r.Source.Open(ctx, e.Kind, params)
	if err != nil {
		return res, fmt.Errorf("query: %w", err)
	}
	name := e.FileName(from, to, synth)
	delim := ','
	if e.Delimiter == ";" {
		delim = ';'
	}
	watch := &periodWatch{Table: t}
	manifest := func(rows, bytes int64) error {
		m := newManifest(e, runID, name, params, from.Format(catalog.DateLayout), to.Format(catalog.DateLayout),
			t.Columns(), watch.periods, rows, bytes, synth, r.now())
		if err := writeManifest(dir, m); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		return nil
	}
	rows, bytes, written, err := writeFile(dir, name, watch, FileOptions{BOM: e.BOM, Delimiter: delim}, e.SkipEmpty, manifest)
	res.rows, res.bytes = rows, bytes
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("write %s: %w", name, ctx.Err())
		}
		return res, fmt.Errorf("write %s: %w", name, err)
	}
	if !written {
		res.skipped = true
		return res, nil
	}
	res.file = name
	if removed, err := Prune(dir, e, e.Keep); err != nil {
		r.log().Warn("export retention", "export", e.Name, "error", err)
	} else if len(removed) > 0 {
		r.log().Info("export retention removed old files", "export", e.Name, "files", removed)
	}
	if e.WebhookURL != "" {
		out, err := deliver(ctx, r.Webhook, e, runID, filepath.Join(dir, name))
		res.webhook = out
		if err != nil {
			return res, fmt.Errorf("%w: %v", errWebhook, err)
		}
	}
	return res, nil
}

// OpenFile opens a kept file of e for download. name must be a plain file
// name of that export; anything else is ErrNotExist.
func OpenFile(root string, e Export, name string) (*os.File, error) {
	if (!ValidFileName(name) && !validManifestName(name)) || len(name) <= len(e.Name)+1 || name[:len(e.Name)+1] != e.Name+"_" {
		return nil, os.ErrNotExist
	}
	dir, err := e.Dir(root)
	if err != nil {
		return nil, os.ErrNotExist
	}
	return os.Open(filepath.Join(dir, name))
}

// MarkKept sets Run.Kept for runs whose file is still in the folder, and
// Run.Manifest for those whose manifest is.
func MarkKept(root string, e Export, runs []Run) {
	dir, err := e.Dir(root)
	if err != nil {
		return
	}
	for i := range runs {
		if runs[i].File == "" {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, runs[i].File)); err == nil && st.Mode().IsRegular() {
			runs[i].Kept = true
		}
		if st, err := os.Stat(filepath.Join(dir, ManifestName(runs[i].File))); err == nil && st.Mode().IsRegular() {
			runs[i].Manifest = ManifestName(runs[i].File)
		}
	}
}
