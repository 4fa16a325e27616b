package app

import (
	"github.com/adoptscope/adoptscope/catalog"

	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/panel"
)

// demoPart loads the demo data set in the background: the dashboard is up
// at once and fills while the load runs (progress on stdout). Stopping the
// process interrupts the load; the next start resumes it.
type demoPart struct {
	cancel context.CancelFunc
	done   chan struct{}
}

func (p demoPart) Stop(ctx context.Context) error {
	p.cancel()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("demo load: stop: %w", ctx.Err())
	}
}

// startDemo loads the demo data set as cfg.Demo says: off never; on always
// (events already stored are skipped or deduplicated, so nothing is stored
// twice); auto when the store holds no events other than demo ones, which
// covers the first start, an interrupted load, and a later start that adds
// the days since the last one.
func (d *App) startDemo(ctx context.Context, mode Mode) error {
	if !mode.Demo || d.Cfg.Demo == "off" {
		return nil
	}
	s := d.Backend.Store
	if d.Cfg.Demo != "on" {
		other, err := hasNonDemoEvents(ctx, s)
		if err != nil {
			return err
		}
		if other {
			d.Log.Info("demo data not loaded: the store holds other events (ADOPTSCOPE_DEMO=on loads it anyway)")
			return nil
		}
	}
	icfg, err := IngestConfig(d.Cfg)
	if err != nil {
		return err
	}
	p, err := ingest.NewPipeline(s, icfg, d.Log)
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			cctx, c := context.WithTimeout(context.Background(), 30*time.Second)
			defer c()
			if err := p.Close(cctx); err != nil {
				d.Log.Warn("demo load: flush on stop", "error", err)
			}
		}()
		if _, err := LoadDemo(lctx, s, p, demo.Config{}, true, d.Stdout, d.Log); err != nil {
			return
		}
		// Flushed already (Load waits for every answer); the charts read
		// the rollups, built behind ingest: have them hold the last day.
		if r := d.Backend.Rollups; r != nil {
			if _, err := r.CatchUp(lctx); err != nil {
				d.Log.Warn("demo load: build the rollups", "error", err)
			}
		}
		// The progress lines have pushed the URL out of sight: say it again.
		select {
		case <-d.listening:
			fmt.Fprintf(d.Stdout, "Open the dashboard: %s/\n", d.url)
		case <-lctx.Done():
		}
	}()
	d.started(demoPart{cancel: cancel, done: done})
	return nil
}

// LoadDemo runs demo.Load with progress lines on w about every two seconds
// and a summary at the end.
func LoadDemo(ctx context.Context, s *store.Store, p *ingest.Pipeline, cfg demo.Config, resume bool, w io.Writer, log *slog.Logger) (demo.Progress, error) {
	cfg = cfg.WithDefaults()
	fmt.Fprintf(w, "Loading the synthetic demo data set (%d people, %s to %s, seed %d) through ingest...\n",
		cfg.People, cfg.From.Format(catalog.DateLayout), cfg.To.Format(catalog.DateLayout), cfg.Seed)
	var last time.Time
	res, err := demo.Load(ctx, s, p, cfg, demo.LoadOptions{
		Resume: resume,
		Progress: func(pr demo.Progress) {
			if time.Since(last) < 2*time.Second || pr.DayIndex == pr.Days {
				return
			}
			last = time.Now()
			fmt.Fprintf(w, "  demo: day %d/%d (%s), %d events stored, %.0f events/s\n",
				pr.DayIndex, pr.Days, pr.Day.Format(catalog.DateLayout), pr.Accepted+pr.Duplicates, pr.Rate())
		},
	})
	if err != nil {
		fmt.Fprintf(w, "Demo data: load stopped after %d events: %v\n", res.Accepted, err)
		log.Warn("demo load stopped", "accepted", res.Accepted, "error", err)
		return res, err
	}
	// The demo's people are also a consumer panel, skewed against a
	// synthetic population, so the population estimates have something
	// to show (docs/panel.md).
	if err := loadDemoPanel(ctx, s, p, cfg); err != nil {
		log.Warn("demo panel not loaded", "error", err)
		fmt.Fprintf(w, "Demo panel: not loaded: %v\n", err)
	}
	msg := fmt.Sprintf("Demo data loaded: %d new events (%d already there, %d skipped as stored) in %s, %.0f events/s. It is synthetic: the dashboard says so.",
		res.Accepted, res.Duplicates, res.Skipped, res.Elapsed.Round(100*time.Millisecond), res.Rate())
	fmt.Fprintln(w, msg)
	log.Info("demo data loaded", "accepted", res.Accepted, "duplicates", res.Duplicates, "skipped", res.Skipped, "took", res.Elapsed)
	return res, nil
}

func hasNonDemoEvents(ctx context.Context, s *store.Store) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var n uint64
	err := s.Conn.QueryRow(ctx, "SELECT count() FROM (SELECT 1 FROM events WHERE source != ? LIMIT 1)", demo.Source).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("demo: look for events in the store: %w", err)
	}
	return n > 0, nil
}

// loadDemoPanel sends the demo panel's members and synthetic population
// targets, keyed like the demo's events.
func loadDemoPanel(ctx context.Context, s *store.Store, p *ingest.Pipeline, cfg demo.Config) error {
	members, err := demo.PanelMembersCSV(cfg)
	if err != nil {
		return err
	}
	svc := panel.NewService(s, p.UserKey)
	if res, err := svc.SubmitMembers(ctx, strings.NewReader(members), true); err != nil || res.Rejected > 0 {
		return fmt.Errorf("members: %d refused, %v", res.Rejected, err)
	}
	if res, err := svc.SubmitTargets(ctx, strings.NewReader(demo.PanelTargetsCSV(cfg)), true); err != nil || res.Rejected > 0 {
		return fmt.Errorf("targets: %d refused, %v", res.Rejected, err)
	}
	return nil
}
