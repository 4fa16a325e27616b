package cli

import (
	"context"
	"fmt"
	"sort"
)

// benchmarks are the `adoptscope bench NAME` tools; each parses its own flags.
var benchmarks = map[string]command{}

func runBench(ctx context.Context, args []string, e *env) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintln(e.stdout, "Usage: adoptscope bench NAME [flags]\n\nBenchmarks:")
		names := make([]string, 0, len(benchmarks))
		for n := range benchmarks {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.stdout, "  %-10s %s\n", n, benchmarks[n].summary)
		}
		return nil
	}
	b, ok := benchmarks[args[0]]
	if !ok {
		return fmt.Errorf("bench: unknown benchmark %q (run 'adoptscope bench --help')", args[0])
	}
	return b.run(ctx, args[1:], e)
}
