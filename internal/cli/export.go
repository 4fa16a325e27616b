package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/adoptscope/adoptscope/export"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

const exportSummary = "manage scheduled CSV exports: export add|list|run NAME|delete NAME"

func runExport(ctx context.Context, args []string, e *env) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: adoptscope export add|list|run|delete [flags]\n\n"+exportSummary+`

  add     --name NAME --schedule "0 6 * * MON" [--timezone Europe/Paris] [--query "metric=active_users&by=assistant"]
          [--kind series|migration|retention|lifecycle] [--range last_28_days] [--bom] [--delimiter ";"] [--skip-empty]
          [--folder SUB] [--webhook-url URL] [--webhook-secret S] [--keep N]
  list    [--format table|json]
  run     NAME      run now and wait for the result
  delete  NAME      stop scheduling it (its files and history stay)

With --api URL (ADOPTSCOPE_API_URL) the command talks to a running instance with
--token (ADOPTSCOPE_TOKEN; an admin token for add, run and delete). Without it, it opens
the store itself (the data folder must not be in use, or ADOPTSCOPE_CLICKHOUSE_ADDR set).
Run 'adoptscope export SUBCOMMAND --help' for the flags.`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		return nil
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add", "list", "run", "delete":
	default:
		usage(e.stderr)
		return fmt.Errorf("export: unknown subcommand %q (want add, list, run or delete)", sub)
	}
	var cfg config.Config
	fs := newFlagSet("export "+sub, exportSummary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Logging)
	apiURL := fs.String("api", os.Getenv("ADOPTSCOPE_API_URL"), "base URL of a running instance, for example http://127.0.0.1:8080 [$ADOPTSCOPE_API_URL]; empty: open the store directly")
	token := fs.String("token", os.Getenv("ADOPTSCOPE_TOKEN"), "bearer token for --api (an admin token for add, run, delete) [$ADOPTSCOPE_TOKEN]")
	var x export.Export
	var rng string
	format := "table"
	switch sub {
	case "add":
		fs.StringVar(&x.Name, "name", "", "export name (required): letters, digits, '.', '_', '-'; it names the folder and the files")
		fs.StringVar(&x.Kind, "kind", "series", "query kind: series, migration, retention, lifecycle, stickiness, overlap or countries")
		fs.StringVar(&x.Query, "query", "metric=active_users&interval=day", "query API parameters as a URL query string (from/to come from --range)")
		fs.StringVar(&rng, "range", "last_28_days", "date range relative to the run day: "+strings.Join(rangeNames(), ", ")+", since:YYYY-MM-DD")
		fs.StringVar(&x.Schedule, "schedule", "", `cron expression, five fields (required), for example "0 6 * * MON"`)
		fs.StringVar(&x.Timezone, "timezone", "UTC", "IANA time zone of the schedule and of the run day, for example Europe/Paris")
		fs.BoolVar(&x.BOM, "bom", false, "start files with a UTF-8 byte order mark (for Excel)")
		fs.StringVar(&x.Delimiter, "delimiter", ",", `field delimiter: "," or ";"`)
		fs.BoolVar(&x.SkipEmpty, "skip-empty", false, "write no file when the result has no rows")
		fs.StringVar(&x.Folder, "folder", "", "folder below the exports folder (default: the export's name)")
		fs.StringVar(&x.WebhookURL, "webhook-url", "", "POST each file to this http(s) URL, signed (see README)")
		fs.StringVar(&x.WebhookSecret, "webhook-secret", "", "HMAC secret for the webhook signature (default: generated and printed)")
		fs.IntVar(&x.Keep, "keep", export.DefaultKeep, "keep the newest N files")
	case "list":
		fs.StringVar(&format, "format", "table", "table or json")
	}
	// The name may come before the flags: `export run NAME --api URL`.
	var name string
	if (sub == "run" || sub == "delete") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	x.Range = export.Range(rng)
	switch {
	case (sub == "run" || sub == "delete") && name != "" && fs.NArg() == 0:
	case (sub == "run" || sub == "delete") && name == "" && fs.NArg() == 1:
		name = fs.Arg(0)
	case sub == "run" || sub == "delete":
		return fmt.Errorf("export %s: give exactly one export name (see 'adoptscope export list')", sub)
	case fs.NArg() > 0:
		return fmt.Errorf("export %s: unexpected arguments %s", sub, strings.Join(fs.Args(), " "))
	}
	if err := checkConfig(fs, &cfg); err != nil {
		return err
	}
	if format != "table" && format != "json" {
		return fmt.Errorf("--format %q: want table or json", format)
	}
	givenSecret := x.WebhookSecret != ""
	if sub == "add" {
		if err := x.Normalize(); err != nil {
			return fmt.Errorf("export add: %w", err)
		}
	}

	c, done, err := openClient(ctx, &cfg, *apiURL, *token, 60*time.Second,
		func(ac apiClient) exportClient { return &httpExports{ac} },
		func(b *app.Backend) exportClient {
			x := export.NewService(b.Store, cfg.ExportsDir(), logger(cfg, e.stderr))
			x.Runner.Webhook.To = app.WebhookDestinations(ctx, &cfg)
			return &storeExports{x}
		})
	if err != nil {
		return err
	}
	defer done()

	switch sub {
	case "add":
		created, err := c.add(ctx, x)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "created export %s (id %s): %s, range %s\n", created.Name, created.ID, created.Sched().Describe(), created.Range)
		if created.WebhookSecret != "" && !givenSecret {
			fmt.Fprintf(e.stdout, "webhook secret (shown once; verifies the %s header): %s\n", export.HeaderSignature, created.WebhookSecret)
		}
	case "list":
		list, err := c.list(ctx)
		if err != nil {
			return err
		}
		return writeExports(e.stdout, list, format)
	case "run":
		run, err := c.run(ctx, name)
		if err != nil && run.ID == "" {
			return err
		}
		fmt.Fprintf(e.stdout, "run %s of %s: %s, %d rows, %d bytes", run.ID, name, run.Status, run.Rows, run.Bytes)
		if run.File != "" {
			fmt.Fprintf(e.stdout, ", file %s", run.File)
		}
		fmt.Fprintln(e.stdout)
		if run.Status == export.StatusFailed {
			return fmt.Errorf("export %s failed: %s", name, run.Error)
		}
	case "delete":
		if err := c.remove(ctx, name); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted export %s (its files and run history stay)\n", name)
	}
	return nil
}

func rangeNames() []string {
	var out []string
	for _, r := range export.Ranges {
		out = append(out, string(r))
	}
	return out
}

// exportRow is one line of `export list`: the export as the API shows it.
type exportRow = export.View

func writeExports(w io.Writer, list []exportRow, format string) error {
	if format == "json" {
		if list == nil {
			list = []exportRow{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"exports": list})
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSCHEDULE\tRANGE\tNEXT RUN (UTC)\tLAST RUN\tQUERY")
	for _, x := range list {
		next, last := "-", "never"
		if x.NextRun != nil {
			next = x.NextRun.UTC().Format("2006-01-02 15:04")
		}
		if x.LastRun != nil {
			last = x.LastRun.Status + " " + x.LastRun.ScheduledAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", x.Name, x.ScheduleWords, x.Range, next, last, x.Kind+"?"+x.Query)
	}
	return tw.Flush()
}

// exportClient is where `export` reads and writes: the store itself or the
// HTTP API of a running instance.
type exportClient interface {
	add(ctx context.Context, x export.Export) (export.Export, error)
	list(ctx context.Context) ([]exportRow, error)
	run(ctx context.Context, name string) (export.Run, error)
	remove(ctx context.Context, name string) error
}

// storeExports works on the store through the same service as the API.
type storeExports struct{ x *export.Service }

func (s *storeExports) add(ctx context.Context, x export.Export) (export.Export, error) {
	err := s.x.Create(ctx, &x)
	return x, err
}

// list shows the operator what an admin sees (webhook passwords masked).
func (s *storeExports) list(ctx context.Context) ([]exportRow, error) {
	vs, err := s.x.Overview(ctx)
	for i := range vs {
		vs[i] = vs[i].Admin()
	}
	return vs, err
}

func (s *storeExports) run(ctx context.Context, name string) (export.Run, error) {
	x, err := s.x.Store.ByName(ctx, name)
	if err != nil {
		return export.Run{}, err
	}
	return s.x.RunNow(ctx, x)
}

func (s *storeExports) remove(ctx context.Context, name string) error {
	x, err := s.x.Store.ByName(ctx, name)
	if err != nil {
		return err
	}
	return s.x.Delete(ctx, x)
}

type httpExports struct{ apiClient }

func (h *httpExports) add(ctx context.Context, x export.Export) (export.Export, error) {
	body := map[string]any{"name": x.Name, "kind": x.Kind, "query": x.Query, "range": x.Range, "schedule": x.Schedule,
		"timezone": x.Timezone, "bom": x.BOM, "delimiter": x.Delimiter, "skip_empty": x.SkipEmpty, "folder": x.Folder,
		"webhook_url": x.WebhookURL, "webhook_secret": x.WebhookSecret, "keep": x.Keep}
	var out export.Export
	err := h.do(ctx, http.MethodPost, "/api/v1/exports", body, &out)
	return out, err
}

func (h *httpExports) list(ctx context.Context) ([]exportRow, error) {
	var out struct{ Exports []exportRow }
	err := h.do(ctx, http.MethodGet, "/api/v1/exports", nil, &out)
	return out.Exports, err
}

func (h *httpExports) byName(ctx context.Context, name string) (exportRow, error) {
	list, err := h.list(ctx)
	if err != nil {
		return exportRow{}, err
	}
	for _, x := range list {
		if x.Name == name {
			return x, nil
		}
	}
	return exportRow{}, fmt.Errorf("no export named %q (see 'adoptscope export list')", name)
}

func (h *httpExports) run(ctx context.Context, name string) (export.Run, error) {
	x, err := h.byName(ctx, name)
	if err != nil {
		return export.Run{}, err
	}
	var started struct {
		RunID string `json:"run_id"`
	}
	if err := h.do(ctx, http.MethodPost, "/api/v1/exports/"+url.PathEscape(x.ID)+"/run", nil, &started); err != nil {
		return export.Run{}, err
	}
	for {
		var hist struct{ Runs []export.Run }
		if err := h.do(ctx, http.MethodGet, "/api/v1/exports/"+url.PathEscape(x.ID)+"/runs?limit=50", nil, &hist); err != nil {
			return export.Run{}, err
		}
		for _, r := range hist.Runs {
			if r.ID == started.RunID && r.Status != export.StatusRunning {
				return r, nil
			}
		}
		select {
		case <-ctx.Done():
			return export.Run{}, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (h *httpExports) remove(ctx context.Context, name string) error {
	x, err := h.byName(ctx, name)
	if err != nil {
		return err
	}
	return h.do(ctx, http.MethodDelete, "/api/v1/exports/"+url.PathEscape(x.ID), nil, nil)
}
