package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime/debug"
)

// Version is set at build time with -ldflags "-X ...cli.Version=v1.2.3".
var Version = "dev"

func runVersion(_ context.Context, args []string, e *env) error {
	fs := newFlagSet("version", commands()["version"].summary, e)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	fmt.Fprintf(e.stdout, "adoptscope %s\n", v)
	return nil
}
