package cli

import (
	"context"
	"encoding/csv"
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

	"github.com/adoptscope/adoptscope/annotation"
	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

const annotateSummary = "manage annotations (dated notes on the charts): annotate add|list|delete"

// annotationClient is where annotate reads and writes: the HTTP API of a
// running instance (--api), or the store itself.
type annotationClient interface {
	save(ctx context.Context, a annotation.Annotation) (annotation.Annotation, error)
	list(ctx context.Context, f annotation.Filter) ([]annotation.Annotation, error)
	remove(ctx context.Context, id string) error
}

func runAnnotate(ctx context.Context, args []string, e *env) error {
	usage := func(w io.Writer) {
		fmt.Fprintln(w, "Usage: adoptscope annotate add|list|delete [flags]\n\n"+annotateSummary+`

  add     --start YYYY-MM-DD --title TEXT [--end] [--text] [--link] [--assistant] [--channel] [--kind] [--real-world] [--id]
  list    [--from] [--to] [--assistant] [--channel] [--format table|csv|json]
  delete  ID

With --api URL (ADOPTSCOPE_API_URL) the command talks to a running instance with
--token (ADOPTSCOPE_TOKEN; an admin token for add and delete), which checks the
annotation against its own registries. Without it, it opens the store itself (the
data folder must not be in use, or ADOPTSCOPE_CLICKHOUSE_ADDR set) and checks the
scope against --assistants and --channels (ADOPTSCOPE_ASSISTANTS, ADOPTSCOPE_CHANNELS).
Run 'adoptscope annotate SUBCOMMAND --help' for the flags.`)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(e.stdout)
		return nil
	}
	sub, args := args[0], args[1:]
	if sub != "add" && sub != "list" && sub != "delete" {
		usage(e.stderr)
		return fmt.Errorf("annotate: unknown subcommand %q (want add, list or delete)", sub)
	}
	var cfg config.Config
	fs := newFlagSet("annotate "+sub, annotateSummary, e)
	cfg.Bind(fs, config.Data|config.ClickHouse|config.Logging|config.Registries)
	apiURL := fs.String("api", os.Getenv("ADOPTSCOPE_API_URL"), "base URL of a running instance, for example http://127.0.0.1:8080 [$ADOPTSCOPE_API_URL]; empty: open the store directly")
	token := fs.String("token", os.Getenv("ADOPTSCOPE_TOKEN"), "bearer token for --api (admin token to add or delete) [$ADOPTSCOPE_TOKEN]")
	var a annotation.Annotation
	var f annotation.Filter
	format := "table"
	switch sub {
	case "add":
		fs.StringVar(&a.ID, "id", "", "id to create or replace (default: a new random id)")
		fs.StringVar(&a.Start, "start", "", "date, YYYY-MM-DD (required)")
		fs.StringVar(&a.End, "end", "", "last date of a range, YYYY-MM-DD (default: --start)")
		fs.StringVar(&a.Title, "title", "", "title (required), stored as given")
		fs.StringVar(&a.Text, "text", "", "longer text")
		fs.StringVar(&a.Link, "link", "", "http(s) link to a source")
		fs.StringVar(&a.Assistant, "assistant", "", "scope: one assistant (default: all)")
		fs.StringVar(&a.Channel, "channel", "", "scope: one channel (default: all)")
		fs.StringVar(&a.Kind, "kind", "other", "kind: "+strings.Join(annotation.Kinds, ", "))
		fs.BoolVar(&a.RealWorld, "real-world", false, "a real-world fact (default: synthetic)")
	case "list":
		fs.StringVar(&f.From, "from", "", "only annotations that end on or after this date")
		fs.StringVar(&f.To, "to", "", "only annotations that start on or before this date")
		fs.StringVar(&f.Assistant, "assistant", "", "only those that apply to this assistant")
		fs.StringVar(&f.Channel, "channel", "", "only those that apply to this channel")
		fs.StringVar(&format, "format", "table", "table, csv or json")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	var id string
	switch {
	case sub == "delete" && fs.NArg() == 1:
		id = fs.Arg(0)
	case sub == "delete":
		return errors.New("annotate delete: give exactly one annotation id (see 'adoptscope annotate list')")
	case fs.NArg() > 0:
		return fmt.Errorf("annotate %s: unexpected arguments %s", sub, strings.Join(fs.Args(), " "))
	}
	if err := checkConfig(fs, &cfg); err != nil {
		return err
	}
	// Against the store, the annotation package's rules (the scope against
	// the configured registries) refuse bad input before the store is
	// opened, with the message the API and the dashboard give. Through
	// --api the instance applies the same rules with its own registries.
	if *apiURL == "" {
		var err error
		switch sub {
		case "add":
			err = annotation.Validate(&a, cfg.Registry())
		case "list":
			err = annotation.CheckFilter(f, cfg.Registry())
		}
		if err != nil {
			return fmt.Errorf("annotate %s: %w", sub, err)
		}
	}
	if format != "table" && format != "csv" && format != "json" {
		return fmt.Errorf("--format %q: want table, csv or json", format)
	}

	c, done, err := openClient(ctx, &cfg, *apiURL, *token, 30*time.Second,
		func(ac apiClient) annotationClient { return &httpAnnotations{ac} },
		func(b *app.Backend) annotationClient {
			return storeAnnotations{annotation.New(b.Store, cfg.Registry())}
		})
	if err != nil {
		return err
	}
	defer done()

	switch sub {
	case "add":
		saved, err := c.save(ctx, a)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "saved annotation %s (%s %s)\n", saved.ID, saved.Start, saved.Kind)
	case "delete":
		if err := c.remove(ctx, id); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "deleted annotation %s\n", id)
	case "list":
		list, err := c.list(ctx, f)
		if err != nil {
			return err
		}
		return writeAnnotations(e.stdout, list, format)
	}
	return nil
}

func writeAnnotations(w io.Writer, list []annotation.Annotation, format string) error {
	switch format {
	case "json":
		if list == nil {
			list = []annotation.Annotation{}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"annotations": list})
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(annotation.CSVHeader)
		for _, a := range list {
			_ = cw.Write(annotation.CSVRecord(a))
		}
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTART\tEND\tKIND\tSCOPE\tREAL\tTITLE")
	for _, a := range list {
		scope := a.Assistant
		if scope == "" {
			scope = "all"
		}
		if a.Channel != "" {
			scope += "/" + a.Channel
		}
		real := "synthetic"
		if a.RealWorld {
			real = "real"
		}
		// Control characters of user titles would rewrite the terminal.
		title := strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return ' '
			}
			return r
		}, a.Title)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Start, a.End, a.Kind, scope, real, title)
	}
	return tw.Flush()
}

type storeAnnotations struct{ svc *annotation.Service }

func (s storeAnnotations) save(ctx context.Context, a annotation.Annotation) (annotation.Annotation, error) {
	return s.svc.Save(ctx, a)
}

func (s storeAnnotations) list(ctx context.Context, f annotation.Filter) ([]annotation.Annotation, error) {
	return s.svc.List(ctx, f)
}

func (s storeAnnotations) remove(ctx context.Context, id string) error {
	return s.svc.Delete(ctx, id)
}

type httpAnnotations struct{ apiClient }

func (h *httpAnnotations) save(ctx context.Context, a annotation.Annotation) (annotation.Annotation, error) {
	var out annotation.Annotation
	err := h.do(ctx, http.MethodPost, "/api/v1/annotations", a, &out)
	return out, err
}

func (h *httpAnnotations) list(ctx context.Context, f annotation.Filter) ([]annotation.Annotation, error) {
	q := url.Values{}
	for k, v := range map[string]string{"from": f.From, "to": f.To, "assistant": f.Assistant, "channel": f.Channel} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var out struct {
		Annotations []annotation.Annotation `json:"annotations"`
	}
	path := "/api/v1/annotations"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	err := h.do(ctx, http.MethodGet, path, nil, &out)
	return out.Annotations, err
}

func (h *httpAnnotations) remove(ctx context.Context, id string) error {
	return h.do(ctx, http.MethodDelete, "/api/v1/annotations/"+url.PathEscape(id), nil, nil)
}
