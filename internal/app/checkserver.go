package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"time"

	"github.com/adoptscope/adoptscope/ingest"
	"github.com/adoptscope/adoptscope/internal/platform/store"
	"github.com/adoptscope/adoptscope/query"
	"github.com/adoptscope/adoptscope/rollup"
	"github.com/adoptscope/adoptscope/schema"
)

// CheckStep is one line of a server check: what was tried and how it went.
type CheckStep struct {
	Name   string
	OK     bool
	Detail string
}

// CheckReport is what CheckServer found.
type CheckReport struct {
	Server   string // version
	Protocol string
	Features string
	Database string // the scratch database
	Steps    []CheckStep
}

// OK reports whether every step passed.
func (r CheckReport) OK() bool {
	for _, s := range r.Steps {
		if !s.OK {
			return false
		}
	}
	return true
}

// CheckServer runs the product against the configured server in a scratch
// database (adoptscope_check_<random>, dropped afterwards unless keep):
// every migration, an ingest of known events (with the dedup lookup), the
// rollup build and finals, and one query per metric, whose numbers are
// compared with what the events say. It never touches cfg.Database.
func CheckServer(ctx context.Context, cfg store.Config, keep bool, log *slog.Logger) (CheckReport, error) {
	id := make([]byte, 4)
	_, _ = rand.Read(id)
	cfg.Database = "adoptscope_check_" + hex.EncodeToString(id)
	var rep CheckReport
	s, err := store.Open(ctx, cfg, log)
	if err != nil {
		return rep, err
	}
	defer s.Close()
	rep.Server, rep.Protocol, rep.Features, rep.Database = s.Version.String(), s.Protocol, s.Features().String(), s.Database
	if !keep {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			_ = s.Conn.Exec(dctx, "DROP DATABASE IF EXISTS "+s.Database)
		}()
	}
	step := func(name string, fn func() (string, error)) bool {
		detail, err := fn()
		if err != nil {
			detail = err.Error()
		}
		rep.Steps = append(rep.Steps, CheckStep{Name: name, OK: err == nil, Detail: detail})
		return err == nil
	}
	if !step("migrations", func() (string, error) {
		v, err := schema.Migrate(ctx, s, log)
		return fmt.Sprintf("schema version %d", v), err
	}) {
		return rep, nil
	}
	// 3 people over 14 days from a fixed Monday; person i is active on
	// days where d%(i+1) == 0.
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 13)
	var in []ingest.Input
	people := map[string]map[int]bool{}
	for d := 0; d < 14; d++ {
		day := from.AddDate(0, 0, d).Format("2006-01-02")
		for i := 0; i < 3; i++ {
			if d%(i+1) == 0 {
				in = append(in, ingest.Input{EventID: fmt.Sprintf("check-%d-%d", d, i), Time: from.AddDate(0, 0, d).Add(time.Duration(9+i) * time.Hour),
					Assistant: "chatgpt", Channel: "web", UserID: fmt.Sprintf("check-user-%d", i), Source: "check"})
				if people[day] == nil {
					people[day] = map[int]bool{}
				}
				people[day][i] = true
			}
		}
	}
	if !step("ingest", func() (string, error) {
		p, err := ingest.NewPipeline(s, ingest.Config{Secret: []byte("adoptscope-check-server-secret"), FlushInterval: 20 * time.Millisecond}, log)
		if err != nil {
			return "", err
		}
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			p.Close(cctx)
		}()
		res, err := p.Submit(ctx, in)
		if err != nil {
			return "", err
		}
		again, err := p.Submit(ctx, in[:5])
		if err != nil {
			return "", err
		}
		if res.Accepted != len(in) || again.Duplicates != 5 {
			return "", fmt.Errorf("accepted %d of %d events, then %d of 5 repeated ones as duplicates", res.Accepted, len(in), again.Duplicates)
		}
		return fmt.Sprintf("%d events, 5 repeated ids refused as duplicates", len(in)), nil
	}) {
		return rep, nil
	}
	if !step("rollups", func() (string, error) {
		if err := rollup.BuildAll(ctx, s, log); err != nil {
			return "", err
		}
		n, err := rollup.Finalize(ctx, s, 30)
		return fmt.Sprintf("built; %d days finalized", n), err
	}) {
		return rep, nil
	}
	for _, m := range query.MetricNames() {
		step("query "+m, func() (string, error) {
			res, err := query.Series(ctx, s, query.SeriesRequest{Metric: query.Metric(m), Interval: query.Day, From: from, To: to})
			if err != nil {
				return "", err
			}
			if m == string(query.ActiveUsers) {
				for _, row := range res.Rows {
					d := row.Period.Format("2006-01-02")
					if int(row.Value) != len(people[d]) {
						return "", fmt.Errorf("%s: %v active users, want %d", d, row.Value, len(people[d]))
					}
				}
			}
			return fmt.Sprintf("%d rows from %s", len(res.Rows), res.Source), nil
		})
	}
	step("query migration", func() (string, error) {
		res, err := query.Migration(ctx, s, query.MigrationRequest{Assistant: "chatgpt", Channel: "web", Date: from.AddDate(0, 0, 7), BeforeDays: 7, AfterDays: 7})
		return fmt.Sprintf("%d outcomes", len(res.Outcomes)), err
	})
	step("query retention", func() (string, error) {
		res, err := query.Retention(ctx, s, query.RetentionRequest{Interval: query.Week, From: from, To: to})
		return fmt.Sprintf("%d rows", len(res.Rows)), err
	})
	return rep, nil
}
