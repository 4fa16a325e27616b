// Package cli parses the command line and runs a subcommand.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/adoptscope/adoptscope/internal/app"
	"github.com/adoptscope/adoptscope/internal/config"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string, env *env) error
}

type env struct {
	stdout, stderr io.Writer
}

var errHelp = errors.New("help shown")

func commands() map[string]command {
	return map[string]command{
		"up": {"run everything in one process: managed ClickHouse (when none is configured), ingest API, dashboard, query API, export scheduler",
			serveCommand(app.Mode{Name: "up", Ingest: true, Web: true, Scheduler: true, Demo: true})},
		"ingest":   {"run the ingest API only (POST /v1/events)", serveCommand(app.Mode{Name: "ingest", Ingest: true})},
		"web":      {"run the dashboard and query API only", serveCommand(app.Mode{Name: "web", Web: true})},
		"migrate":  {"apply the schema migrations and exit", runMigrate},
		"version":  {"print the version", runVersion},
		"load":     {loadSummary, runLoad},
		"bench":    {"run a benchmark: ingest, query, export (see 'adoptscope bench --help')", runBench},
		"demo":     {demoSummary, runDemo},
		"annotate": {annotateSummary, runAnnotate},
		"export":   {exportSummary, runExport},
		"scheduler": {"run the export scheduler only (several may run against one store: each run happens once)",
			serveCommand(app.Mode{Name: "scheduler", Scheduler: true})},
		"check-server": {checkServerSummary, runCheckServer},
	}
}

// Run runs the subcommand named by args[0].
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := cmds[args[1]]; ok {
				err := c.run(ctx, []string{"--help"}, &env{stdout, stderr})
				if errors.Is(err, errHelp) {
					return nil
				}
				return err
			}
		}
		printHelp(stdout, cmds)
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		printHelp(stderr, cmds)
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := c.run(ctx, args[1:], &env{stdout, stderr})
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

func printHelp(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "AdoptScope: adoption analytics of AI assistants across channels.")
	fmt.Fprintln(w, "\nUsage: adoptscope COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'adoptscope COMMAND --help' for the flags of a command. Every flag also reads an ADOPTSCOPE_* environment variable, named in its help.")
}

// parse parses flags and the environment, and validates the result.
func parse(fs *flag.FlagSet, args []string, cfg *config.Config) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	if fs.NArg() > 0 && fs.Name() != "load" {
		return fmt.Errorf("%s: unexpected arguments %s", fs.Name(), strings.Join(fs.Args(), " "))
	}
	return checkConfig(fs, cfg)
}

// checkConfig refuses unknown ADOPTSCOPE_* variables and an invalid
// configuration, once the flags are parsed.
func checkConfig(fs *flag.FlagSet, cfg *config.Config) error {
	if err := config.CheckEnv(fs); err != nil {
		return err
	}
	return cfg.Validate()
}

func newFlagSet(name, summary string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: adoptscope %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(e.stderr)
	}
	return fs
}

func logger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// ExitCode maps an error to the process exit status.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	return 1
}
