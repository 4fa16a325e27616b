package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/adoptscope/adoptscope/catalog"
	"github.com/adoptscope/adoptscope/demo"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

const demoSummary = "load the synthetic demo data set through ingest (deterministic: same flags, same data)"

func runDemo(ctx context.Context, args []string, e *env) error {
	var cfg config.Config
	fs := newFlagSet("demo", demoSummary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Ingest|config.Logging)
	people := fs.Int("people", demo.DefaultPeople, "people in the synthetic panel (about 450 events per person over the default range)")
	days := fs.Int("days", 0, "number of days ending --to (overrides --from)")
	from := fs.String("from", demo.DefaultFrom.Format(catalog.DateLayout), "first day, YYYY-MM-DD")
	to := fs.String("to", "", "last day, YYYY-MM-DD (default today, UTC)")
	seed := fs.Uint64("seed", 1, "random seed: the same seed gives the same data")
	pplxEnd := fs.String("perplexity-whatsapp-end", "", "what-if: end Perplexity's WhatsApp channel on this day, YYYY-MM-DD (default: it continues)")
	resume := fs.Bool("resume", false, "skip events older than the newest demo event already stored (carry on an interrupted load of the same flags)")
	checksum := fs.Bool("checksum", false, "print the checksum and event count of the data set and exit, without loading")
	if err := parse(fs, args, &cfg); err != nil {
		return err
	}
	dc, err := demoConfig(*people, *days, *from, *to, *seed, *pplxEnd)
	if err != nil {
		return err
	}
	if *checksum {
		sum, n, err := demo.Checksum(dc)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s %d events\n", sum, n)
		return nil
	}
	log := logger(cfg, e.stderr)
	b, p, err := app.OpenWriter(ctx, &cfg, log)
	if err != nil {
		return err
	}
	defer b.Close()
	finish := b.BuildBehind(e.stdout)
	_, lerr := app.LoadDemo(ctx, b.Store, p, dc, *resume, e.stdout, log)
	cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cerr := p.Close(cctx)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer rcancel()
	return errors.Join(lerr, cerr, finish(rctx))
}

func demoConfig(people, days int, from, to string, seed uint64, pplxEnd string) (demo.Config, error) {
	var errs []error
	dc := demo.Config{Seed: seed, People: people}
	if people < 1 {
		errs = append(errs, fmt.Errorf("--people %d: want at least 1", people))
	}
	parse := func(flag, v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(catalog.DateLayout, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s %q: want a date YYYY-MM-DD", flag, v))
		}
		return t
	}
	dc.From = parse("from", from)
	dc.To = parse("to", to)
	dc.PerplexityWhatsAppEnd = parse("perplexity-whatsapp-end", pplxEnd)
	if days < 0 {
		errs = append(errs, fmt.Errorf("--days %d: want a positive number", days))
	}
	if len(errs) > 0 {
		return dc, errors.Join(errs...)
	}
	if days > 0 {
		end := dc.To
		if end.IsZero() {
			end = time.Now().UTC()
		}
		dc.To = end
		dc.From = end.AddDate(0, 0, -(days - 1))
	}
	if err := dc.Validate(); err != nil {
		return dc, fmt.Errorf("demo: %w", err)
	}
	return dc, nil
}
