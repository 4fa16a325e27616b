// Command adoptscope ingests usage events of AI assistants into ClickHouse
// and charts their adoption. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/adoptscope/adoptscope/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := cli.Run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "adoptscope:", err)
		os.Exit(cli.ExitCode(err))
	}
}
